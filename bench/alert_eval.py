"""Alert evaluation benchmark: what the alert rules add to an import of 100,000 devices.

Target (issue 19): alert evaluation after an import of 100,000 devices adds <= 2 s.

Two fresh databases in the same run, the same CSV (100,000 rows, 3,000 sites, about half of them
covered makers, 2 % on addresses outside the private ranges so the exposure rule has candidates
to check): the import with no alert defined (the baseline: evaluation returns at once), then
the import with one alert receiving every rule (a file destination, nothing is delivered during
the import).  The evaluation itself is also timed on its own (inside the second import), and a
re-import of the same file (every row merged, nothing new) shows the steady-state cost.

Run: ``python bench/alert_eval.py [--rows N] [--db-dir DIR]``.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
import time
from pathlib import Path

from phaseout.alert.rules import RULES
from phaseout.app import Phaseout
from phaseout.app import alerts as alert_app
from phaseout.store import Store
from phaseout.store.alerts import list_outbox

MAKES = [
    ("Hikvision", "DS-2CD2143G2-I", "28:57:BE"),
    ("Dahua", "IPC-HDW2431T-AS-S2", "3C:EF:8C"),
    ("Axis", "P3245-LVE", "00:40:8C"),
    ("HiLook", "IPC-B140H-M", "BC:AD:28"),
    ("Hanwha", "XNV-8080R", "00:09:18"),
    ("Lorex", "E891AB", "00:1F:54"),
    ("Bosch", "NDE-5503-AL", "00:04:63"),
]


def write_inventory(path: Path, rows: int, sites: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Store No", "Make", "Model No", "MAC Address", "IP Address", "Serial No"])
        for i in range(rows):
            make, model, prefix = MAKES[rng.randrange(len(MAKES))]
            site = i % sites + 1
            ip = (
                f"203.0.113.{i % 250 + 1}"  # documentation range: checked by the rule, never public
                if rng.random() < 0.02
                else f"10.{site // 256}.{site % 256}.{i % 250 + 1}"
            )
            mac = f"{prefix}:{i >> 16 & 255:02X}:{i >> 8 & 255:02X}:{i & 255:02X}"
            w.writerow([f"{site:04d}", make, model, mac, ip, f"SN{i:09d}"])


def run(db: str, inv: Path, sites_csv: Path, work: Path, with_alert: bool) -> dict[str, float]:
    timings = {"evaluation": 0.0}
    original = alert_app.evaluate

    def timed(*args: object, **kwargs: object) -> alert_app.Evaluation:
        t = time.perf_counter()
        try:
            return original(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            timings["evaluation"] += time.perf_counter() - t

    alert_app.evaluate = timed  # type: ignore[assignment]
    try:
        with Store.open(db) as store:
            Phaseout(store).import_sites(sites_csv)
            if with_alert:
                alert_app.add_alert(
                    store, "bench", "all", "file", {"path": str(work / "alerts.jsonl")}, [{"rule": r} for r in RULES]
                )
            t = time.perf_counter()
            first, _ = Phaseout(store).import_devices(inv)
            timings["import"] = time.perf_counter() - t
            timings["evaluation_first"] = timings["evaluation"]
            t = time.perf_counter()
            Phaseout(store).import_devices(inv)
            timings["reimport"] = time.perf_counter() - t
            timings["evaluation_again"] = timings["evaluation"] - timings["evaluation_first"]
            timings["created"] = first.created
            timings["occurrences"] = first.alerts
            with store.engine.connect() as conn:
                timings["messages"] = len(list_outbox(conn, limit=1000))
    finally:
        alert_app.evaluate = original  # type: ignore[assignment]
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--sites", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        inv = work / "inventory.csv"
        write_inventory(inv, args.rows, args.sites)
        sites_csv = work / "sites.csv"
        sites_csv.write_text("Store No,Name\n" + "".join(f"{i:04d},Store {i}\n" for i in range(1, args.sites + 1)))
        base = run(str(work / "base.db"), inv, sites_csv, work, with_alert=False)
        alerting = run(str(work / "alerts.db"), inv, sites_csv, work, with_alert=True)
        print(f"{args.rows:,} rows, {args.sites:,} sites; SQLite; one run each, same process, same file")
        print(f"{'run':<52}{'import s':>10}{'evaluation s':>14}{'re-import s':>13}")
        print(
            f"{'baseline: no alert defined':<52}{base['import']:>10.2f}{base['evaluation_first']:>14.2f}"
            f"{base['reimport']:>13.2f}"
        )
        print(
            f"{'one alert receiving every rule':<52}{alerting['import']:>10.2f}{alerting['evaluation_first']:>14.2f}"
            f"{alerting['reimport']:>13.2f}"
        )
        added = alerting["import"] - base["import"]
        print(
            f"devices created {int(alerting['created']):,}; occurrences queued {int(alerting['occurrences']):,} "
            f"in {int(alerting['messages'])} message(s); re-import evaluation {alerting['evaluation_again']:.2f} s"
        )
        print(
            f"added by alert evaluation: {added:+.2f} s against the baseline import "
            f"(evaluation timed alone: {alerting['evaluation_first']:.2f} s); "
            f"target <= 2 s -> {'met' if alerting['evaluation_first'] <= 2.0 and added <= 2.0 else 'NOT met'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
