"""A whole-table CSV export over HTTP (issue 13: 500,000 devices took 18.6 s and 1.6 GB).

Builds an estate of N devices with ``phaseout import`` (a generated register: 1,000 sites, makers
cycling through Hikvision, Dahua, Axis and Hanwha), serves it with ``phaseout serve``, logs a
viewer in and downloads ``/api/v1/devices?format=csv`` once, sampling the server's resident
memory every 0.1 s.  Baseline in the same run: the server's RSS before the export, and (with
``--src`` pointing at an older checkout) the same download from that code on a copy of the
same database.

Run: ``python bench/web_export.py [--devices 500000] [--src DIR ...]``
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from web_abuse import PASSWORD, Sampler, free_port, login, tree_rss_mb

ROOT = Path(__file__).resolve().parents[1]
MAKERS = [("Hikvision", "DS-2CD2143G2-I"), ("Dahua", "IPC-HDW2431T"), ("Axis", "P3245-V"), ("Hanwha", "XNV-6080")]


def register(path: Path, devices: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("Site,Make,Model,IP,MAC,Serial\n")
        for i in range(devices):
            make, model = MAKERS[i % len(MAKERS)]
            mac = f"02:00:{i >> 24 & 255:02X}:{i >> 16 & 255:02X}:{i >> 8 & 255:02X}:{i & 255:02X}"
            out.write(f"S{i % 1000:04d},{make},{model},10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255},{mac},SN{i:08d}\n")


def phaseout(src: Path, db: Path, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "phaseout", "--db", str(db), *args],
        env={**os.environ, "PYTHONPATH": str(src)},
        capture_output=True,
        text=True,
        input=PASSWORD + "\n",
    )
    if done.returncode:
        raise SystemExit(f"phaseout {' '.join(args)}: {done.stderr[-1500:]}")


def export(src: Path, db: Path) -> dict[str, float]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "phaseout", "--db", str(db), "serve", "--port", str(port)],
        env={**os.environ, "PYTHONPATH": str(src)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        cookie = login(port)
        idle = tree_rss_mb(server.pid)
        sampler = Sampler(server.pid, 8000, server)
        sampler.start()
        start = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        conn.request("GET", "/api/v1/devices?format=csv", headers={"cookie": cookie})
        response = conn.getresponse()
        first = None
        lines = 0
        while chunk := response.read(1 << 16):
            if first is None:
                first = time.perf_counter() - start
            lines += chunk.count(b"\n")
        seconds = time.perf_counter() - start
        sampler.stop.set()
        sampler.join()
        return {
            "status": response.status,
            "rows": lines - 1,
            "seconds": seconds,
            "first_byte": first or seconds,
            "idle_mb": idle,
            "peak_mb": sampler.peak,
        }
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=500_000)
    parser.add_argument("--src", type=Path, action="append", default=[], help="other source trees to compare")
    parser.add_argument("--build-src", type=Path, default=None, help="the source tree that builds the estate")
    parser.add_argument("--base", type=Path, default=None, help="reuse an estate built earlier (its base.db)")
    args = parser.parse_args()
    trees = [ROOT / "src", *args.src]
    builder = (args.build_src or trees[-1]).resolve()
    work = Path(tempfile.mkdtemp(prefix="web-export-"))
    t0 = time.monotonic()
    base = work / "base.db"
    if args.base:
        shutil.copy(args.base, base)
        print(f"estate: reused {args.base}")
    else:
        register(work / "devices.csv", args.devices)
        phaseout(builder, base, "import", str(work / "devices.csv"))
        phaseout(builder, base, "user", "add", "bench", "--role", "viewer", "--password-stdin")
        print(f"estate: {args.devices:,} devices imported by {builder} in {time.monotonic() - t0:.0f} s")
    print(f"{'source':48}{'status':>7}{'rows':>10}{'first byte s':>13}{'total s':>9}{'idle MB':>9}{'peak MB':>9}")
    for tree in trees:
        db = work / f"copy-{abs(hash(str(tree)))}.db"
        shutil.copy(base, db)
        r = export(tree.resolve(), db)
        print(
            f"{str(tree)[-48:]:48}{r['status']:>7}{r['rows']:>10,}{r['first_byte']:>13.1f}{r['seconds']:>9.1f}"
            f"{r['idle_mb']:>9.0f}{r['peak_mb']:>9.0f}"
        )


if __name__ == "__main__":
    main()
