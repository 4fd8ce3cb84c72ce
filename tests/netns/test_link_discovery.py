"""Discovery on a named interface, and a packet capture proving that nothing leaves the declared
scope.  Both run in two network namespaces this test creates (``ip netns``), joined by a veth
pair: the scanner in one, emulated devices (each on its own address) in the other.  No traffic
can reach any other network.  Skipped, with the reason, where namespaces cannot be made (not
root, no ``ip``)."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.netns.capture import start_capture

SCANNER_IP, DEVICE_NET = "10.77.0.1", "10.77.0.0/28"
DEVICES = ["10.77.0.10", "10.77.0.11", "10.77.0.12"]  # hikvision, dahua, axis: inside the scope
OUTSIDE = "10.77.0.20"  # a Hikvision camera outside the /28 scope: must be neither kept nor probed
PHASEOUT = [sys.executable, "-m", "phaseout"]


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 (ip) is not installed"
    probe = f"po-probe-{uuid.uuid4().hex[:6]}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


reason = _why_not()
pytestmark = pytest.mark.skipif(reason is not None, reason=reason or "")


def sh(*args: str) -> None:
    subprocess.run(list(args), check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def link() -> Iterator[tuple[str, str]]:
    tag = uuid.uuid4().hex[:6]
    scanner, devices = f"po-scan-{tag}", f"po-dev-{tag}"
    a, b = f"poa{tag}", f"pob{tag}"
    sh("ip", "netns", "add", scanner)
    sh("ip", "netns", "add", devices)
    try:
        sh("ip", "link", "add", a, "netns", scanner, "type", "veth", "peer", "name", b, "netns", devices)
        for ns, dev, addrs in ((scanner, a, [SCANNER_IP]), (devices, b, [*DEVICES, OUTSIDE])):
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "set", dev, "up")
            for i, addr in enumerate(addrs):
                sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
                if i == 0 and ns == devices:
                    continue
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
        emulators = [
            subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    devices,
                    *PHASEOUT,
                    "emulate",
                    "--profiles",
                    profiles,
                    "--count",
                    str(n),
                    "--base",
                    base,
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for profiles, n, base in (
                ("hikvision-ipc,dahua-ipc,axis-ipc", 3, DEVICES[0]),
                ("hikvision-ipc", 1, OUTSIDE),
            )
        ]
        for proc in emulators:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert "emulated devices" in line, (line, proc.stderr.read() if proc.stderr else "")
        yield scanner, a
    finally:
        for proc in locals().get("emulators", []):
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=10)
        subprocess.run(["ip", "netns", "del", scanner], capture_output=True)
        subprocess.run(["ip", "netns", "del", devices], capture_output=True)


def _scan(scanner: str, interface: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    return subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            scanner,
            *PHASEOUT,
            "scan",
            "--interface",
            interface,
            "--scope",
            DEVICE_NET,
            "--no-store",
            "-f",
            "jsonl",
            "--ports",
            "80",
            "--discover-time",
            "2",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
    )


def test_link_discovery_finds_devices_in_scope_only(link: tuple[str, str]) -> None:
    scanner, interface = link
    proc = _scan(scanner, interface)
    assert proc.returncode == 0, proc.stderr
    rows = {r["ip"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert set(rows) == set(DEVICES), (rows.keys(), proc.stderr)
    assert rows[DEVICES[0]]["vendor"] == "hikvision"
    assert rows[DEVICES[1]]["vendor"] == "dahua"
    assert rows[DEVICES[2]]["vendor"] == "axis"
    rules = {e["rule"] for e in rows[DEVICES[0]]["evidence"]} | {e["kind"] for e in rows[DEVICES[0]]["evidence"]}
    assert any("sadp" in r for r in rules), rules
    assert any("dhdiscover" in e["kind"] for e in rows[DEVICES[1]]["evidence"])
    assert "outside the scope ignored" in proc.stderr


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed")
def test_capture_shows_nothing_leaves_the_scope(link: tuple[str, str], tmp_path: Path) -> None:
    scanner, interface = link
    capture = tmp_path / "scan.pcap"
    dump = start_capture(scanner, capture)
    proc = _scan(scanner, interface)
    time.sleep(1.5)  # let tcpdump write the last packets before it is stopped
    dump.send_signal(signal.SIGINT)
    dump.wait(timeout=10)
    assert proc.returncode == 0, proc.stderr
    text = subprocess.run(["tcpdump", "-r", str(capture), "-n", "-v"], capture_output=True, text=True).stdout
    import ipaddress

    scope = ipaddress.ip_network(DEVICE_NET)
    groups = {"239.255.255.250", "239.255.255.251"}
    sent = 0
    for line in text.splitlines():
        if " > " not in line or not line.lstrip()[:1].isdigit():
            continue
        src, dst = line.split(" > ", 1)
        src_ip = ".".join(src.strip().split(".")[:4])
        dst_ip = ".".join(dst.split(":")[0].strip().split(".")[:4])
        if src_ip == SCANNER_IP:
            sent += 1
            assert ipaddress.ip_address(dst_ip) in scope or dst_ip in groups, line
            assert dst_ip != OUTSIDE, line
    assert sent > 10  # the capture saw the scan
    lines = text.splitlines()  # with -v, the IP header (ttl) is on the line before the addresses
    to_groups = [(head, addr) for head, addr in itertools.pairwise(lines) if "> 239.255.255." in addr]
    assert to_groups and all("ttl 1," in head for head, _ in to_groups), to_groups[:3]
