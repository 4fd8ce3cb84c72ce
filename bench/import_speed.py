"""Import benchmark: a 1,000,000-row inventory CSV imported into SQLite, timed end to end.

Target (issue 2): 1,000,000 rows in <= 30 s on one core.  Baseline in the same run: the
plain loop a spreadsheet-to-database script would use (csv.reader + one INSERT per row via
sqlite3 executemany into a bare table, no normalisation, no merging, no evidence) -- the
floor of what Python + SQLite can do, so the figure says what phaseout's extra work costs.

Run: ``make bench`` or ``python bench/import_speed.py [--rows N] [--db URL]``.
"""

from __future__ import annotations

import argparse
import csv
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from phaseout.app import Phaseout
from phaseout.store import Store

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
        w.writerow(["Inventory export"])
        w.writerow(
            ["Store No", "Make", "Model No", "MAC Address", "IP Address", "Serial No", "Firmware", "Camera Name"]
        )
        for i in range(rows):
            make, model, prefix = MAKES[rng.randrange(len(MAKES))]
            mac = f"{prefix}:{i >> 16 & 255:02X}:{i >> 8 & 255:02X}:{i & 255:02X}"
            site = i % sites + 1
            w.writerow(
                [
                    f"{site:04d}",
                    make,
                    model,
                    mac,
                    f"127.{100 + site // 256}.{site % 256}.{i % 250 + 1}",
                    f"SN{i:09d}",
                    "V5.5.0 build 170725",
                    f"Camera {i % 120 + 1}",
                ]
            )


def write_xlsx(csv_path: Path, xlsx_path: Path, rows: int) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(xlsx_path), {"constant_memory": True})
    ws = book.add_worksheet("Cameras")
    with csv_path.open(newline="", encoding="utf-8") as fh:
        for r, row in enumerate(csv.reader(fh)):
            if r > rows + 1:
                break
            for c, v in enumerate(row):
                ws.write_string(r, c, v)
    book.close()


def baseline(path: Path, db: Path) -> float:
    start = time.perf_counter()
    conn = sqlite3.connect(db)
    conn.execute("create table d (site, make, model, mac, ip, serial, fw, name)")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader)
        next(reader)
        conn.executemany("insert into d values (?,?,?,?,?,?,?,?)", reader)
    conn.commit()
    conn.close()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sites", type=int, default=3000)
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--xlsx-rows", type=int, default=200_000, help="rows for the XLSX run (0: skip)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        inv = work / "inventory.csv"
        t = time.perf_counter()
        write_inventory(inv, args.rows, args.sites)
        print(f"wrote {args.rows:,} rows ({inv.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s")
        base = baseline(inv, work / "baseline.db")
        sites_csv = work / "sites.csv"
        sites_csv.write_text("Store No,Name\n" + "".join(f"{i:04d},Store {i}\n" for i in range(1, args.sites + 1)))
        with Store.open(args.db or str(work / "phaseout.db")) as store:
            Phaseout(store).import_sites(sites_csv)
            t = time.perf_counter()
            first, _ = Phaseout(store).import_devices(inv)
            fresh = time.perf_counter() - t
            t = time.perf_counter()
            again, _ = Phaseout(store).import_devices(inv)
            merge = time.perf_counter() - t
        xlsx_time = 0.0
        if args.xlsx_rows:
            xlsx = work / "inventory.xlsx"
            write_xlsx(inv, xlsx, args.xlsx_rows)
            with Store.open(str(work / "xlsx.db")) as store:
                Phaseout(store).import_sites(sites_csv)
                t = time.perf_counter()
                Phaseout(store).import_devices(xlsx)
                xlsx_time = time.perf_counter() - t
        print(f"{'run':<44}{'seconds':>9}{'rows/s':>12}")
        print(f"{'baseline: csv.reader + bare executemany':<44}{base:>9.1f}{args.rows / base:>12,.0f}")
        print(
            f"{'phaseout import, empty database':<44}{fresh:>9.1f}{args.rows / fresh:>12,.0f}"
            f"   created {first.created:,}"
        )
        print(
            f"{'phaseout re-import, merging every row':<44}{merge:>9.1f}{args.rows / merge:>12,.0f}"
            f"   updated {again.updated:,}"
        )
        if xlsx_time:
            print(
                f"{'phaseout import, XLSX, empty database':<44}{xlsx_time:>9.1f}{args.xlsx_rows / xlsx_time:>12,.0f}"
                f"   ({args.xlsx_rows:,} rows)"
            )
        print(
            f"target: 1,000,000 rows in <= 30 s -> {'met' if args.rows / fresh >= 1e6 / 30 else 'NOT met'} "
            f"(fresh import {fresh / args.rows * 1e6:.1f} s per million rows)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
