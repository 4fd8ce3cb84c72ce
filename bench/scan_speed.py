"""Scan speed and accuracy: ``phaseout scan`` against ``nmap -sV`` on the same emulated hosts.

N emulated devices of mixed profiles (every bundled profile, hostile ones included, in turn)
run on loopback addresses from 127.60.0.1 in their own process.  Then, in the same run and on
the same hosts and ports:

1. ``phaseout scan --no-store --format jsonl`` (probe and identify);
2. ``nmap -sV -Pn -n -T4`` (service and version detection), whose product, device type and
   extra information are searched for the makers' names, the way a user would read them.

Printed for each: wall time, peak memory of the scanning process, hosts answered, and vendor
accuracy over all hosts (truth: the maker of each host's profile, where it is Hikvision or
Dahua, "other" for the rest, hostile devices included).  Only 127.0.0.0/8 is contacted.

Run: ``python bench/scan_speed.py [--hosts 4096] [--skip-nmap]``.  nmap is installed with
apt-get when missing (and the run says so); binding ports below 1024 needs root.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET  # nmap's own output, from a process this script started
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from phaseout.emulate.devices import load_profiles, plan_devices

BASE = "127.60.0.1"
PORTS = "80,443,554,8000,37777"
COVERED = ("hikvision", "dahua")


def _raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _run_measured(cmd: list[str], timeout: float) -> tuple[str, float, float, int]:
    """stdout, wall seconds, peak RSS in MB of the process, exit code."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if elapsed > timeout:
        print(f"  warning: took {elapsed:.0f} s, more than the {timeout:.0f} s expected")
    return out, elapsed, usage.ru_maxrss / 1024, proc.returncode


def _truth(maker: str) -> str:
    return maker if maker in COVERED else "other"


def _nmap_vendor(host: ET.Element) -> str:
    text = " ".join(" ".join(str(v) for v in svc.attrib.values()) for svc in host.iter("service")).lower()
    for maker in COVERED:
        if maker in text:
            return maker
    return "other"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--hosts", type=int, default=4096)
    parser.add_argument("--skip-nmap", action="store_true")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=512,
        help="hosts probed at once (the emulator holds ~10,000 listening sockets and its fd limit is 20,000: "
        "1,024 hosts with several connections each ran it out of descriptors)",
    )
    parser.add_argument("--emulators", type=int, default=4, help="emulator processes serving the hosts")
    parser.add_argument("--nmap-host-timeout", default="60s")
    parser.add_argument("--nmap-timeout", type=float, default=10800, help="seconds before the nmap run is stopped")
    parser.add_argument(
        "--nmap-min-hostgroup", default=None, help="nmap --min-hostgroup: more hosts in parallel (a faster baseline)"
    )
    args = parser.parse_args()
    _raise_fd_limit()

    names = sorted(load_profiles())
    devices = plan_devices(names, args.hosts, BASE)
    truth = {d.ip: _truth(d.profile.maker) for d in devices}
    print(f"{args.hosts} emulated hosts, {len(names)} profiles in turn ({', '.join(names)})")

    # The emulated hosts are served by several processes: one Python process cannot hold ~10,000
    # listening sockets and answer 4,096 hosts at once on a small machine.  Each process takes a
    # run of hosts that is a multiple of the profile count, so the profiles cycle as planned above.
    chunk = max(len(names), -(-args.hosts // args.emulators) // len(names) * len(names))
    emulators = []
    for first_index in range(0, args.hosts, chunk):
        count = min(chunk, args.hosts - first_index)
        emulators.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "phaseout",
                    "emulate",
                    "--profiles",
                    ",".join(names),
                    "--count",
                    str(count),
                    "--base",
                    devices[first_index].ip,
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    try:
        start = time.monotonic()
        for emulator in emulators:
            assert emulator.stdout is not None
            first = emulator.stdout.readline()
            if "emulated devices" not in first:
                print("emulator did not start (binding ports below 1024 needs root)")
                return 1
        print(f"emulator up in {time.monotonic() - start:.1f} s")
        targets = [d.ip for d in devices]

        out, wall, rss, code = _run_measured(
            [
                sys.executable,
                "-m",
                "phaseout",
                "scan",
                *targets,
                "--scope",
                "127.60.0.0/16",
                "--no-store",
                "--format",
                "jsonl",
                "--ports",
                PORTS,
                "--concurrency",
                str(args.concurrency),
            ],
            timeout=120,
        )
        found = {row["ip"]: row for row in map(json.loads, out.splitlines())}
        ours = {ip: (found[ip]["vendor"] if ip in found else "unknown") for ip in truth}
        correct = sum(_truth(ours[ip]) == truth[ip] for ip in truth)
        print(
            f"phaseout scan: {wall:.1f} s wall, peak {rss:.0f} MB, {len(found)} hosts answered, "
            f"vendor accuracy {correct}/{len(truth)} = {correct / len(truth):.3f} (exit {code})"
        )
        if args.skip_nmap:
            return 0
        nmap = shutil.which("nmap")
        if nmap is None:
            print("nmap missing: installing it with apt-get")
            subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "nmap"], check=False)
            nmap = shutil.which("nmap")
            if nmap is None:
                print("nmap could not be installed: baseline skipped")
                return 1
        xml_out, n_wall, n_rss, n_code = _run_measured(
            [
                nmap,
                "-sV",
                "-Pn",
                "-n",
                "-T4",
                "-p",
                PORTS,
                "--host-timeout",
                args.nmap_host_timeout,
                *(["--min-hostgroup", args.nmap_min_hostgroup] if args.nmap_min_hostgroup else []),
                "-oX",
                "-",
                *targets,
            ],
            timeout=args.nmap_timeout,
        )
        root = ET.fromstring(xml_out)
        theirs: dict[str, str] = {}
        answered = 0
        for host in root.iter("host"):
            addr = host.find("address")
            if addr is None:
                continue
            ip = addr.get("addr", "")
            if any(p.find("state") is not None and p.find("state").get("state") == "open" for p in host.iter("port")):  # type: ignore[union-attr]
                answered += 1
            theirs[ip] = _nmap_vendor(host)
        n_correct = sum(theirs.get(ip, "other") == truth[ip] for ip in truth)
        print(
            f"nmap -sV:      {n_wall:.1f} s wall, peak {n_rss:.0f} MB, {answered} hosts with open ports, "
            f"vendor accuracy {n_correct}/{len(truth)} = {n_correct / len(truth):.3f} (exit {n_code})"
        )
        print(
            f"speed-up: {n_wall / wall:.1f}x (nmap options: host timeout {args.nmap_host_timeout}, "
            f"min hostgroup {args.nmap_min_hostgroup or 'default'})"
        )
        misses = [ip for ip in truth if _truth(ours[ip]) != truth[ip]]
        if misses:
            sample = ", ".join(f"{ip} ({truth[ip]} as {ours[ip]})" for ip in misses[:5])
            print(f"phaseout misses: {len(misses)}, e.g. {sample}")
        covered = [ip for ip in truth if truth[ip] in COVERED]
        hits = sum(theirs.get(ip) == truth[ip] for ip in covered)
        our_hits = sum(ours[ip] == truth[ip] for ip in covered)
        print(f"covered-maker recall: phaseout {our_hits}/{len(covered)}, nmap {hits}/{len(covered)}")
        return 0
    finally:
        for emulator in emulators:
            emulator.terminate()
        for emulator in emulators:
            emulator.wait(timeout=30)


if __name__ == "__main__":
    raise SystemExit(main())
