"""The two bulk steps of issue 17 item 4 on PostgreSQL, alone: a large inventory import
(target: 1,000,000 rows <= 60 s) and the assessment of every device (target <= 120 s).

Builds a fresh database (``--database``, dropped first when it exists: give a name this bench
owns), imports a sites register and an inventory CSV of ``--devices`` rows, assesses twice
(the second run replaces every row, as ``phaseout assess`` does on a live estate) and prints
the time of each step.  ``--src DIR`` runs another checkout's code (its ``src``) with the same
inputs, so a before/after comparison runs in one session on the same machine.
``--profile FILE`` writes a cProfile of the import and the first assessment.  ``--reimport``
imports the same file a second time (every row merges into its device), ``--skip-assessment``
times the import(s) alone.

Run: ``python bench/pg_assess_import.py --database speed_bench [--devices 200000] [--src ../main/src]``.
Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--server", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    parser.add_argument("--database", required=True, help="a database this bench owns (dropped and made again)")
    parser.add_argument("--devices", type=int, default=200_000)
    parser.add_argument("--sites", type=int, default=0, help="default: one site per 33 devices (30,000 for 1M)")
    parser.add_argument("--src", help="the src directory of the code to measure (default: this checkout's)")
    parser.add_argument("--profile", help="write a cProfile of import and assessment to this file")
    parser.add_argument(
        "--reimport", action="store_true", help="import the same file again after the first import (every row merges)"
    )
    parser.add_argument("--skip-assessment", action="store_true", help="time the import(s) only")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(args.src).resolve() if args.src else HERE.parent / "src"))
    sys.path.insert(0, str(HERE))

    from import_speed import write_inventory
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    import phaseout
    from phaseout.app import Phaseout
    from phaseout.app.assessment import run_assessment
    from phaseout.policy.packs import available_packs
    from phaseout.store import Store

    print(f"code: {Path(phaseout.__file__).parent}", flush=True)
    n_sites = args.sites or max(1, args.devices * 3 // 100)
    admin = create_engine(make_url(args.server).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{args.database}"'))
    admin.dispose()
    url = str(make_url(args.server).set(database=args.database))
    work = Path(tempfile.mkdtemp(prefix="phaseout-speed-"))
    sites_csv, inventory = work / "sites.csv", work / "inventory.csv"
    sites_csv.write_text("Store No,Name\n" + "".join(f"{i:04d},Store {i}\n" for i in range(1, n_sites + 1)))
    write_inventory(inventory, args.devices, n_sites)
    profiler = cProfile.Profile() if args.profile else None
    packs = available_packs()
    chosen = [packs[p] for p in ("org-template", "uk-cabinet-office-2022")]
    today = dt.date(2026, 12, 1)
    with Store.open(url) as store:
        app = Phaseout(store, actor="bench")
        app.import_sites(sites_csv)
        steps = [("import", lambda: app.import_devices(inventory))]
        if args.reimport:
            steps.append(("import again", lambda: app.import_devices(inventory)))
        if not args.skip_assessment:
            steps.append(("assessment", lambda: run_assessment(store.engine, chosen, today)))
            steps.append(("assessment again", lambda: run_assessment(store.engine, chosen, today)))
        for label, step in steps:
            t = time.perf_counter()
            if profiler and label in ("import", "assessment"):
                profiler.runcall(step)
            else:
                step()
            spent = time.perf_counter() - t
            print(f"{label:18} {args.devices:>9,} devices  {spent:8.1f} s  {_search_figures(store)}", flush=True)
    if profiler:
        profiler.dump_stats(args.profile)
    for f in (sites_csv, inventory):
        f.unlink()
    work.rmdir()


def _search_figures(store: Any) -> str:
    """The trigram index's size and one serial search (index scan and recheck), after a step:
    a bulk step that leaves the index bloated makes every later search slower."""
    from sqlalchemy import text

    from phaseout.queries.devices import DeviceQuery, page

    with store.engine.connect() as conn:
        size = conn.execute(text("SELECT pg_relation_size(to_regclass('ix_devices_search_trgm'))")).scalar()
        # a device from the middle: the first ones' serials (SN000000000...) share every trigram
        # with most of the estate, which measures the recheck of 1,000,000 rows, not the index
        middle = (
            "SELECT serial FROM devices WHERE serial IS NOT NULL ORDER BY id "
            "OFFSET (SELECT count(*) / 2 FROM devices) LIMIT 1"
        )
        serial = conn.execute(text(middle)).scalar()
        if not size or not serial:
            return "(no search index)"
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            page(conn, DeviceQuery(text=str(serial)), size=50)
            best = min(best, time.perf_counter() - start)
    return f"search index {size / 2**20:6.0f} MB, serial search {best * 1000:6.1f} ms (best of 5)"


if __name__ == "__main__":
    main()
