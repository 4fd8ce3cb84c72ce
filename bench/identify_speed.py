"""Identification speed on inventory records (one core).

Targets (issue 3): >= 1,000,000 records/s when make/model values repeat, as they do in real
estates (a few hundred models over hundreds of thousands of rows), and >= 100,000 records/s when
every record is distinct.  Measured on the engine (``Identifier.identify_inventory``) over
records already in memory; JSON Lines I/O through ``phaseout identify`` is measured separately.
Baseline in the same run: the spreadsheet approach, a lower-cased keyword test on the make column.

Run: ``python bench/identify_speed.py [--records N]``.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from typing import Any

from phaseout.identify import Identifier

MODELS = [
    ("Hikvision", "DS-2CD2143G2-I", "28:57:BE"),
    ("Hik Vision", "DS-2CD2386G2-IU", "C0:56:E3"),
    ("HIKVISION", "DS-7616NI-Q2/16P", "44:19:B6"),
    ("HiLook", "IPC-B140H-M", "BC:AD:28"),
    ("Dahua", "IPC-HDW2431T-AS-S2", "3C:EF:8C"),
    ("Dahua Technology Co.,Ltd", "DHI-NVR4216-16P-4KS2", "9C:14:63"),
    ("Lorex", "LNB8005-C", "00:1F:54"),
    ("Amcrest", "IP4M-1041B", "9C:8E:CD"),
    ("Axis", "P3245-LVE", "00:40:8C"),
    ("Hanwha", "XNV-8080R", "00:09:18"),
    ("Bosch", "NDE-5503-AL", "00:04:63"),
    ("", "DS-2CD2043G2-I", "24:28:FD"),
    ("Uniview", "IPC322LB-SF28-A", "48:EA:63"),
    ("Synology", "DS920+", ""),
    ("Acme", "X100", ""),
]


def repeated(n: int, rng: random.Random) -> list[dict[str, Any]]:
    """~300 distinct (make, model, firmware) combinations; MACs vary inside each maker's blocks."""
    firmwares = ["V5.5.0 build 170725", "V5.7.3 build 220112", "V2.800.0000000.10.R", "10.12.199", ""]
    out = []
    for i in range(n):
        make, model, prefix = MODELS[i % len(MODELS)]
        fw = firmwares[(i // len(MODELS)) % len(firmwares)]
        mac = f"{prefix}:{rng.randrange(256):02X}:{rng.randrange(256):02X}:{rng.randrange(256):02X}" if prefix else ""
        out.append({"manufacturer": make, "model": model, "firmware": fw, "mac": mac})
    return out


def distinct(n: int, rng: random.Random) -> list[dict[str, Any]]:
    """No two records share a model, a firmware or a MAC: the record-level cache never hits.
    Makes come from the spellings above and MACs from real registered prefixes, as in any
    estate (a maker's name and its MAC blocks are few; models and devices are many)."""
    out = []
    for i in range(n):
        make, model, prefix = MODELS[i % len(MODELS)]
        mac = f"{prefix or '00:40:8C'}:{i >> 16 & 255:02X}:{i >> 8 & 255:02X}:{i & 255:02X}"
        out.append({"manufacturer": make, "model": f"{model}{i:07d}", "firmware": f"V5.{i}", "mac": mac})
    return out


def timed(identifier: Identifier, records: list[dict[str, Any]]) -> float:
    fn = identifier.identify_inventory
    start = time.perf_counter()
    for rec in records:
        fn(rec)
    return time.perf_counter() - start


def baseline(records: list[dict[str, Any]]) -> float:
    start = time.perf_counter()
    for rec in records:
        make = rec["manufacturer"].lower()
        _ = "hikvision" if "hikvision" in make else "dahua" if "dahua" in make else "unknown"
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--distinct-records", type=int, default=200_000)
    parser.add_argument("--jsonl-records", type=int, default=100_000)
    args = parser.parse_args()
    rng = random.Random(7)
    rep = repeated(args.records, rng)
    dis = distinct(args.distinct_records, rng)
    print(f"{'run':<52}{'records':>10}{'seconds':>9}{'records/s':>12}")
    t = baseline(rep)
    print(f"{'baseline: keyword test on the make column':<52}{len(rep):>10,}{t:>9.2f}{len(rep) / t:>12,.0f}")
    t = timed(Identifier(), rep)
    print(
        f"{'phaseout, repeated make/model values':<52}{len(rep):>10,}{t:>9.2f}{len(rep) / t:>12,.0f}"
        f"   target >= 1,000,000/s: {'met' if len(rep) / t >= 1e6 else 'NOT met'}"
    )
    t = timed(Identifier(), dis)
    print(
        f"{'phaseout, every record distinct':<52}{len(dis):>10,}{t:>9.2f}{len(dis) / t:>12,.0f}"
        f"   target >= 100,000/s: {'met' if len(dis) / t >= 1e5 else 'NOT met'}"
    )
    lines = (
        "\n".join(
            json.dumps({"id": i, "observations": [{"kind": "inventory", "fields": r}]})
            for i, r in enumerate(rep[: args.jsonl_records])
        )
        + "\n"
    )
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "phaseout", "identify"], input=lines.encode(), capture_output=True, check=True
    )
    t = time.perf_counter() - start
    n = args.jsonl_records
    print(f"{'phaseout identify (JSON Lines in and out, process)':<52}{n:>10,}{t:>9.2f}{n / t:>12,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
