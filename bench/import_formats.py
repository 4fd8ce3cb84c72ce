"""Other tools' exports benchmark: a 100,000-host nmap XML imported, identified and stored.

Target (issue 15): <= 30 s and <= 500 MB peak RSS.  The file is generated from the structure
of real nmap -oX output (python-libnmap's fixtures, tests/data/imports/nmap/): per host
<status>, an IPv4 and a MAC <address> with nmap's vendor, <hostnames>, and open ports with
<service> attributes and NSE <script> output (http-headers, http-title, rtsp-methods), for a
mix of makers (Hikvision, Dahua, Axis, generic Linux) in the answers those devices give.

Each phase runs in its own process so its peak RSS (``os.wait4`` ru_maxrss) is its own.
Baselines in the same run:
  * ``etree.parse``: the naive reader (xml.etree.ElementTree.parse of the whole file, then
    a walk over every host) -- what streaming saves in memory;
  * ``spreadsheet``: the same hosts (IP, MAC, host name) as an inventory CSV through the
    existing spreadsheet importer -- what the answers (observations + identification from
    them) cost on top of a plain inventory import.

Run: ``python bench/import_formats.py [--hosts N]``.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MAKERS = [
    # (weight, MAC prefix, nmap vendor, http Server header, title, rtsp product)
    (4, "28:57:BE", "Hangzhou Hikvision Digital Technology", "App-webs/", "", "Hikvision IP camera rtspd"),
    (3, "3C:EF:8C", "Zhejiang Dahua Technology", "Webs", "WEB SERVICE", "Dahua rtspd"),
    (1, "00:40:8C", "Axis Communications AB", "", "AXIS", "AXIS Media Control"),
    (2, "00:1B:21", "Intel Corporate", "Apache/2.4.41 (Ubuntu)", "Apache2 Ubuntu Default Page", ""),
]
HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE nmaprun>\n'
    '<nmaprun scanner="nmap" args="nmap -sV --script http-headers,http-title,rtsp-methods -oX scan.xml 10.0.0.0/15" '
    'start="1700000000" version="7.94" xmloutputversion="1.05">\n'
    '<scaninfo type="syn" protocol="tcp" numservices="3" services="80,443,554"/>\n<verbose level="0"/>\n'
)


def _maker(i: int) -> tuple[int, str, str, str, str, str]:
    """The maker of host ``i``: the weights of MAKERS, repeated in order."""
    pick = i % sum(m[0] for m in MAKERS)
    for maker in MAKERS:
        if pick < maker[0]:
            return maker
        pick -= maker[0]
    return MAKERS[-1]


def _host(i: int) -> str:
    _weight, prefix, vendor, server, title, rtsp = _maker(i)
    ip = f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}"
    mac = f"{prefix}:{(i >> 16) & 255:02X}:{(i >> 8) & 255:02X}:{i & 255:02X}"
    ports = []
    headers = (
        f"&#xa;  Server: {server}&#xa;  Content-Type: text/html&#xa;  &#xa;  (Request type: GET)&#xa;" if server else ""
    )
    scripts = (f'<script id="http-headers" output="{headers}"/>' if headers else "") + (
        f'<script id="http-title" output="{title}"/>' if title else ""
    )
    ports.append(
        '<port protocol="tcp" portid="80"><state state="open" reason="syn-ack" reason_ttl="64"/>'
        f'<service name="http" method="probed" conf="10"/>{scripts}</port>'
    )
    if rtsp:
        ports.append(
            '<port protocol="tcp" portid="554"><state state="open" reason="syn-ack" reason_ttl="64"/>'
            f'<service name="rtsp" product="{rtsp}" devicetype="webcam" method="probed" conf="10"/>'
            '<script id="rtsp-methods" output="OPTIONS, DESCRIBE, PLAY, PAUSE, SETUP, TEARDOWN, '
            'SET_PARAMETER, GET_PARAMETER"/>'
            "</port>"
        )
    return (
        f'<host starttime="1700000001" endtime="1700000009"><status state="up" reason="arp-response" reason_ttl="0"/>\n'
        f'<address addr="{ip}" addrtype="ipv4"/>\n<address addr="{mac}" addrtype="mac" vendor="{vendor}"/>\n'
        f'<hostnames><hostname name="cam-{i}.example.net" type="PTR"/></hostnames>\n'
        f'<ports><extraports state="closed" count="997"/>{"".join(ports)}</ports>\n'
        '<times srtt="180" rttvar="84" to="100000"/>\n</host>\n'
    )


def write_nmap(path: Path, hosts: int) -> None:
    with path.open("w", encoding="utf-8") as fh:
        fh.write(HEAD)
        for i in range(hosts):
            fh.write(_host(i))
        fh.write(
            '<runstats><finished time="1700001000" elapsed="1000" exit="success"/>'
            f'<hosts up="{hosts}" down="0" total="{hosts}"/></runstats>\n</nmaprun>\n'
        )


def write_csv(path: Path, hosts: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Site", "IP Address", "MAC Address", "Hostname"])
        for i in range(hosts):
            prefix = _maker(i)[1]
            ip = f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}"
            w.writerow(
                ["1", ip, f"{prefix}:{(i >> 16) & 255:02X}:{(i >> 8) & 255:02X}:{i & 255:02X}", f"cam-{i}.example.net"]
            )


# ---------------------------------------------------------------- phases (child processes)


def phase_nmap(file: Path, db: str) -> str:
    from phaseout.app import Phaseout
    from phaseout.ingest.formats.registry import detect
    from phaseout.store import Store

    store = Store.open(db)
    fmt = detect(file)
    result = Phaseout(store).import_source(file, fmt)
    with store.engine.connect() as conn:
        from sqlalchemy import func, select

        from phaseout.store.schema import devices, observations

        identified = conn.execute(
            select(devices.c.vendor, func.count()).group_by(devices.c.vendor).order_by(devices.c.vendor)
        ).all()
        obs = conn.execute(select(func.count()).select_from(observations)).scalar_one()
    store.close()
    vendors = ", ".join(f"{v}={n}" for v, n in identified)
    return f"format={fmt.name} created={result.created} observations={obs} vendors: {vendors}"


def phase_etree(file: Path, db: str) -> str:
    import xml.etree.ElementTree as ET

    root = ET.parse(file).getroot()
    hosts = sum(1 for h in root.iter("host") if h.find("address") is not None)
    return f"hosts walked={hosts}"


def phase_sheet(file: Path, db: str) -> str:
    from phaseout.app import Phaseout
    from phaseout.app.imports import ImportOptions
    from phaseout.store import Store

    store = Store.open(db)
    result, _mapped = Phaseout(store).import_devices(file, ImportOptions())
    store.close()
    return f"created={result.created}"


PHASES = {"nmap": phase_nmap, "etree": phase_etree, "sheet": phase_sheet}


def run_child(phase: str, file: Path, db: str) -> tuple[float, float, float, str]:
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--phase", phase, str(file), db], stdout=subprocess.PIPE, text=True
    )
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    out = proc.stdout.read().strip() if proc.stdout else ""
    if status != 0:
        raise SystemExit(f"phase {phase} failed (status {status}): {out}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100_000)
    parser.add_argument("--phase", nargs=3, metavar=("PHASE", "FILE", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase, file, db = args.phase
        print(PHASES[phase](Path(file), db))
        return
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "scan.xml"
        sheet = Path(tmp) / "hosts.csv"
        t = time.perf_counter()
        write_nmap(xml, args.hosts)
        write_csv(sheet, args.hosts)
        print(
            f"generated {args.hosts:,} hosts: nmap XML {xml.stat().st_size / 2**20:,.1f} MiB "
            f"({time.perf_counter() - t:.1f} s), CSV {sheet.stat().st_size / 2**20:,.1f} MiB"
        )
        rows = [
            ("phaseout import scan.xml (nmap, identified, stored)", "nmap", xml, str(Path(tmp) / "a.db")),
            ("baseline: ElementTree.parse whole file, walk hosts", "etree", xml, ""),
            ("baseline: same hosts as a spreadsheet (IP, MAC, name)", "sheet", sheet, str(Path(tmp) / "b.db")),
        ]
        print(f"load average before: {os.getloadavg()[0]:.1f} (CPU seconds are the steadier figure on a busy machine)")
        print(f"{'what':<56} {'wall s':>7} {'CPU s':>7} {'peak RSS MB':>12}  result")
        for label, phase, file, db in rows:
            seconds, cpu, rss, out = run_child(phase, file, db)
            print(f"{label:<56} {seconds:>7.1f} {cpu:>7.1f} {rss:>12,.0f}  {out}")
        print("targets: nmap import <= 30 s, <= 500 MB")


if __name__ == "__main__":
    main()
