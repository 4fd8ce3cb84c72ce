"""Two site collectors, each in a network namespace of its own with emulated devices on its
side, and the central server in a third, reachable from both (issue 17): each collector enrols,
claims its job, scans and uploads; a packet capture in each collector's namespace proves it
contacted nothing outside its own scopes (a decoy device just outside each scope, and the other
site, are never touched).  Everything runs in namespaces this test creates and removes; the
server reaches PostgreSQL through its Unix socket when there is one (else SQLite).  Skipped,
with the reason, where namespaces cannot be made; under CI=true it must run."""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from phaseout.store.schema import devices, scan_jobs, scans, sites
from tests.collectors.harness import PHASEOUT, env
from tests.conftest import pg_unavailable
from tests.netns.capture import start_capture
from tests.support import run_cli

PG_SOCKET = Path("/run/postgresql/.s.PGSQL.5432")
PORT = 8642
SITES = {
    # collector: (site, scope, device network, collector's device-side address, devices, decoy, server link)
    "c1": ("S081", "10.81.0.0/27", "10.81.0.1", ["10.81.0.10", "10.81.0.11", "10.81.0.12"], "10.81.0.100", 1),
    "c2": ("S082", "10.82.0.0/27", "10.82.0.1", ["10.82.0.10", "10.82.0.11", "10.82.0.12"], "10.82.0.100", 2),
}


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 (ip) is not installed"
    if shutil.which("tcpdump") is None:
        return "tcpdump is not installed (apt-get install -y tcpdump)"
    probe = f"po-probe-{uuid.uuid4().hex[:6]}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


reason = _why_not()
if reason and os.environ.get("CI") == "true":
    raise RuntimeError(f"CI=true requires the collector namespace test to run: {reason}")
pytestmark = pytest.mark.skipif(reason is not None, reason=reason or "")


def sh(*args: str) -> None:
    subprocess.run(list(args), check=True, capture_output=True, text=True)


def _veth(a_ns: str, a_dev: str, a_addrs: list[str], b_ns: str, b_dev: str, b_addrs: list[str]) -> None:
    sh("ip", "link", "add", a_dev, "netns", a_ns, "type", "veth", "peer", "name", b_dev, "netns", b_ns)
    for ns, dev, addrs in ((a_ns, a_dev, a_addrs), (b_ns, b_dev, b_addrs)):
        sh("ip", "-n", ns, "link", "set", dev, "up")
        for addr in addrs:
            sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)


def _wait_line(proc: subprocess.Popen[str], text: str, what: str) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert text in line, (what, line, proc.stderr.read() if proc.stderr else "")


@pytest.fixture
def estate(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str, dict[str, str]]]:
    """Namespaces srv, c1, d1, c2, d2 joined by veth pairs; the server in srv; devices in d1, d2.
    Yields (database URL for this process, the server's database URL, namespace names)."""
    if pg_unavailable() is None and PG_SOCKET.exists():
        db = str(request.getfixturevalue("pg_url"))
        server_db = db.replace("@127.0.0.1:5432/test?", "@/test?host=/run/postgresql&")
    else:
        db = server_db = str(tmp_path / "central.db")
    tag = uuid.uuid4().hex[:5]
    ns = {name: f"po-{name}-{tag}" for name in ("srv", "c1", "d1", "c2", "d2")}
    procs: list[subprocess.Popen[str]] = []
    for name in ns.values():
        sh("ip", "netns", "add", name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
    try:
        for c, (_site, _scope, inside, addrs, decoy, link) in SITES.items():
            _veth(ns["srv"], f"s{c}{tag}", [f"10.90.{link}.1"], ns[c], f"u{c}{tag}", [f"10.90.{link}.2"])
            d = "d" + c[1]
            _veth(ns[c], f"l{c}{tag}", [inside], ns[d], f"e{c}{tag}", [*addrs, decoy])
            emulated = ((addrs[0], 3, "hikvision-ipc,dahua-ipc,axis-ipc", link), (decoy, 1, "hikvision-ipc", 10 + link))
            for base, count, profiles, seed in emulated:
                proc = subprocess.Popen(
                    [
                        "ip",
                        "netns",
                        "exec",
                        ns[d],
                        *PHASEOUT,
                        "emulate",
                        "--profiles",
                        profiles,
                        "--count",
                        str(count),
                        "--base",
                        base,
                        "--seed",  # each site's cameras are different cameras (their own serials and MACs)
                        str(seed),
                    ],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=env(),
                )
                procs.append(proc)
                _wait_line(proc, "emulated devices", f"emulator {base}")
        server = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                ns["srv"],
                *PHASEOUT,
                "--db",
                server_db,
                "serve",
                "--host",
                "0.0.0.0",
                "--port",
                str(PORT),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env(),
        )
        procs.append(server)
        deadline = time.monotonic() + 90
        while True:
            probe = subprocess.run(
                [
                    "ip",
                    "netns",
                    "exec",
                    ns["c1"],
                    "python3",
                    "-c",
                    f"import urllib.request;print(urllib.request.urlopen('http://10.90.1.1:{PORT}/healthz',timeout=2).status)",
                ],
                capture_output=True,
                text=True,
            )
            if probe.stdout.strip() == "200":
                break
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.5)
        yield db, server_db, ns
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for name in ns.values():
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


def _destinations(path: Path) -> list[tuple[str, str]]:
    text = subprocess.run(["tcpdump", "-r", str(path), "-n"], capture_output=True, text=True).stdout
    out = []
    for line in text.splitlines():
        if " IP " not in line or " > " not in line:
            continue
        src, dst = line.split(" IP ", 1)[1].split(" > ", 1)
        out.append((".".join(src.strip().split(".")[:4]), ".".join(dst.split(":")[0].strip().split(".")[:4])))
    return out


def test_two_collectors_each_scan_only_their_own_scopes(
    estate: tuple[str, str, dict[str, str]], tmp_path: Path
) -> None:
    db, _server_db, ns = estate
    dumps = {}
    for c, (site, scope, _inside, addrs, _decoy, link) in SITES.items():
        code = run_cli("--db", db, "collector", "code", f"site-{c}", "--site", site, "--scope", scope)
        assert code.returncode == 0, code.stderr
        enrol = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                ns[c],
                *PHASEOUT,
                "collector",
                "enrol",
                "--server",
                f"http://10.90.{link}.1:{PORT}",
                "--code",
                code.stdout.strip(),
                "--state-dir",
                str(tmp_path / c),
                "--allow-http",
            ],
            capture_output=True,
            text=True,
            env=env(),
            timeout=120,
        )
        assert enrol.returncode == 0, enrol.stderr + enrol.stdout
        first, last = addrs[0].rsplit(".", 1)[0] + ".2", addrs[0].rsplit(".", 1)[0] + ".30"
        added = run_cli(
            "--db",
            db,
            "scans",
            "add",
            f"scan-{c}",
            "-t",
            f"{first}-{last.rsplit('.', 1)[1]}",
            "--scope",
            scope,
            "--site",
            site,
            "--ports",
            "80,8000,37777",
            "--collector",
            f"site-{c}",
        )
        assert added.returncode == 0, added.stderr
        assert run_cli("--db", db, "scans", "run", f"scan-{c}").returncode == 0
        dumps[c] = (start_capture(ns[c], tmp_path / f"{c}.pcap"), tmp_path / f"{c}.pcap")
    # the other site's network is refused to each collector on the server's end
    refused = run_cli(
        "--db", db, "scans", "add", "cross", "-t", "10.82.0.10", "--scope", "10.82.0.0/27", "--collector", "site-c1"
    )
    assert refused.returncode == 2 and "outside collector site-c1's scopes" in refused.stderr
    runs = {
        c: subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                ns[c],
                *PHASEOUT,
                "collector",
                "run",
                "--once",
                "--state-dir",
                str(tmp_path / c),
                "--host-deadline",
                "30",  # every emulated device answers; a loaded machine can take seconds to do so
                "--read-timeout",
                "10",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env(),
        )
        for c in SITES
    }
    for c, proc in runs.items():
        _out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0 and "1 upload(s) merged" in err, (c, err)
    time.sleep(1.5)
    for dump, _path in dumps.values():
        dump.send_signal(signal.SIGINT)
        dump.wait(timeout=10)

    engine = create_engine(db if "://" in db else f"sqlite:///{db}")
    with engine.connect() as conn:
        found = conn.execute(select(sites.c.code, devices.c.ip).join(sites, sites.c.id == devices.c.site_id)).all()
        every = conn.execute(select(devices.c.id, devices.c.ip, devices.c.site_id, devices.c.status)).all()
        assert sorted(found) == sorted((site, ip) for site, _s, _i, addrs, _d, _l in SITES.values() for ip in addrs), (
            every,
            conn.execute(select(sites.c.id, sites.c.code)).all(),
            conn.execute(select(scans.c.site_code, scans.c.status, scans.c.hosts_probed, scans.c.hosts_answered)).all(),
        )
        assert {j.status for j in conn.execute(select(scan_jobs.c.status))} == {"done"}
    engine.dispose()

    for c, (_site, scope, inside, _addrs, decoy, link) in SITES.items():
        packets = _destinations(dumps[c][1])
        sent = [(s, d) for s, d in packets if s in (inside, f"10.90.{link}.2")]
        assert len(sent) > 20, (c, packets[:5])  # the capture saw the scan and the uploads
        net = ipaddress.ip_network(scope)
        for src, dst in sent:
            assert ipaddress.ip_address(dst) in net or dst == f"10.90.{link}.1", (c, src, dst)
        assert all(decoy not in (s, d) for s, d in packets), (c, "the decoy outside the scope was contacted")
        assert any(d == f"10.90.{link}.1" for _s, d in sent)  # it talked to the server
