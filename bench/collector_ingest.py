"""Collector benchmarks (issue 17 targets).

1. **Ingestion through the API into PostgreSQL**: a central server (``phaseout serve``, one
   worker) on a fresh PostgreSQL schema; an enrolled collector's uploads of 4,096 scanned hosts
   each, posted to ``/api/collector/uploads`` (parsed, checked against the scopes and the job,
   merged through ``Phaseout.record_results`` with the receipt).  Baseline in the same run: the
   same hosts stored by calling ``Phaseout.record_results`` directly (no HTTP, no JSON, no
   checks) on another fresh schema.  Two mixes: every host answering (three observations each,
   a worst case) and a sweep where one host in eight answers (a site /20 with its cameras).
   Target: >= 5,000 scanned hosts/s.  ``--collectors N`` enrols N collectors that post their
   uploads at the same time (each its own uploads one after another, as a collector does), and
   ``--workers N`` serves with N processes: hosts/s is then every upload's hosts over the time
   from the first post to the last answer.  ``--facts`` says whether the uploads carry each
   answer's facts (``auto``: when the server's claim offers this code's ``facts_version``, as
   ``phaseout-collector`` does; ``no``: raw answers only, as older collectors send).
2. **Collector memory**: 4,096 emulated hosts on 127.61.x (four emulator processes, as in
   ``scan_speed.py``); the server on SQLite; ``phaseout-collector run --once`` (the lean entry
   point) and then ``phaseout collector run --once`` each claim one job of all 4,096 hosts,
   scan, queue and upload; their peak RSS is measured (``wait4``).  Baseline in
   the same run: ``phaseout scan --no-store`` of the same hosts.  Target: <= 150 MB.

``--into URL`` merges into an existing database instead of fresh schemas (both modes; nothing
is dropped): ingestion into a large estate, e.g. the 1,000,000 devices ``pg_scale.py`` builds in
its database ``scale``.  Each run takes its own collectors and address blocks (10.128.0.0/9,
picked at random and printed), so its hosts are new devices there.

Only 127.0.0.0/8 is contacted (the synthetic uploads name 10.64.x addresses but nothing is sent
to them).  Run: ``python bench/collector_ingest.py [--uploads 5] [--skip-memory]``; needs
PostgreSQL at ``PHASEOUT_BENCH_PG`` (default postgresql+psycopg://postgres@127.0.0.1:5432/test)
and root for the emulators' low ports.
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sqlalchemy import create_engine, text

from phaseout.app import Phaseout
from phaseout.app import collectors as use
from phaseout.discover.collector import wire
from phaseout.discover.scanner import HostResult
from phaseout.emulate.devices import load_profiles, plan_devices
from phaseout.store import Store
from phaseout.store import collectors as db

PG = os.environ.get("PHASEOUT_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PHASEOUT = [sys.executable, "-m", "phaseout"]
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"), "PHASEOUT_DB": ""}
HOSTS = 4096
HTTP = (
    "HTTP/1.1 200 OK\r\nServer: App-webs/\r\nContent-Type: text/html\r\nContent-Length: 480\r\n\r\n"
    "<!DOCTYPE html><html><head><title>{model}</title></head><body>" + "x" * 400 + "</body></html>"
)
RTSP = 'RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\nWWW-Authenticate: Digest realm="{serial}"\r\n\r\n'
ISAPI = (
    '<?xml version="1.0" encoding="UTF-8"?><DeviceInfo><deviceName>IP CAMERA</deviceName>'
    "<model>{model}</model><serialNumber>{model}20240101CCWR{serial}</serialNumber>"
    "<firmwareVersion>V5.7.3</firmwareVersion></DeviceInfo>"
)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _hosts(block: ipaddress.IPv4Network, every: int) -> tuple[list[HostResult], list[str]]:
    """A scan of ``block``'s first 4,096 addresses: one host in ``every`` answers."""
    answered, silent = [], []
    for i, addr in enumerate(list(block.hosts())[:HOSTS]):
        ip = str(addr)
        if i % every:
            silent.append(ip)
            continue
        model, serial = f"DS-2CD20{i % 97:02d}G0-I", f"{int(addr):09d}"
        answered.append(
            HostResult(
                ip,
                ports=[80, 554, 8000],
                observations=[
                    {"kind": "http", "port": 80, "tls": False, "raw": HTTP.format(model=model)},
                    {
                        "kind": "http",
                        "port": 80,
                        "tls": False,
                        "path": "/ISAPI/System/deviceInfo",
                        "raw": "HTTP/1.1 200 OK\r\n\r\n" + ISAPI.format(model=model, serial=serial),
                    },
                    {"kind": "rtsp", "port": 554, "raw": RTSP.format(serial=serial)},
                ],
            )
        )
    return answered, silent


class Schema:
    """A fresh PostgreSQL schema for one measurement, dropped afterwards (or, with ``into``, an
    existing database, kept)."""

    def __init__(self, into: str | None = None) -> None:
        self.into = into
        if into is not None:
            self.url = into
            return
        self.name = f"bench_{uuid.uuid4().hex[:10]}"
        self.admin = create_engine(PG, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.name}"'))
        self.url = f"{PG}?options=-csearch_path%3D{self.name}"

    def drop(self) -> None:
        if self.into is not None:
            return
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{self.name}" CASCADE'))
        self.admin.dispose()


def _prepare(
    app: Phaseout, uploads: int, every: int, collector: str = "bench", first: int = 0, space: str = "10.64.0.0/12"
) -> list[tuple[str, list[HostResult], list[str]]]:
    blocks = list(ipaddress.ip_network(space).subnets(new_prefix=20))[first : first + uploads]
    out = []
    for n, block in enumerate(blocks):
        name = f"b{every}-{collector}-{n}"
        use.define(app, use.Definition(name, [str(block)], [space], [80, 554, 8000], collector=collector))
        answered, silent = _hosts(block, every)
        out.append((name, answered, silent))
    return out


def _post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        conn.request("POST", path, body=body, headers=headers)
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        conn.close()


def ingest(
    uploads: int,
    every: int,
    *,
    collectors: int = 1,
    workers: int = 1,
    facts: str = "auto",
    into: str | None = None,
) -> tuple[float, float, int, str]:
    """(API hosts/s, direct record_results hosts/s, mean upload bytes, what the server said of
    the facts)."""
    results = []
    sizes: list[int] = []
    said: set[str] = set()
    run = uuid.uuid4().hex[:6] if into else ""
    names = [f"bench{run}{c}" if c or run else "bench" for c in range(collectors)]
    space = "10.128.0.0/9" if into else "10.64.0.0/12"
    base = random.randrange(0, 2048 - 2 * collectors * uploads) if into else 0
    for mode in ("direct", "api"):
        schema = Schema(into)
        try:
            store = Store.open(schema.url)
            app = Phaseout(store, actor="bench")
            codes = {name: use.new_code(app, f"{name}{mode}", [], [space]) for name in names}
            first = base + (collectors * uploads if into and mode == "api" else 0)
            if into:
                print(f"  {mode}: blocks {first}-{first + collectors * uploads - 1} of {space} (/20 each)")
            jobs = {
                name: _prepare(app, uploads, every, f"{name}{mode}", first + c * uploads, space)
                for c, name in enumerate(names)
            }
            total = sum(len(a) + len(s) for each in jobs.values() for _n, a, s in each)
            if mode == "direct":
                spent = 0.0
                for each in jobs.values():
                    for name, answered, silent in each:
                        spec = db.definition(app.engine, name)
                        assert spec is not None
                        start = time.perf_counter()
                        app.record_results(answered, targets=spec["targets"], ports=(80, 554, 8000), silent=silent)
                        spent += time.perf_counter() - start
                results.append(total / spent)
                store.close()
                continue
            port = _port()
            server = subprocess.Popen(
                [*PHASEOUT, "--db", schema.url, "serve", "--port", str(port), "--workers", str(workers)],
                env=ENV,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                _wait(port)
                bodies: dict[str, list[bytes]] = {}
                heads: dict[str, dict[str, str]] = {}
                for name in names:
                    _status, reply = _post(port, "/api/collector/enrol", json.dumps({"code": codes[name]}).encode(), {})
                    heads[name] = {"Authorization": f"Bearer {reply['token']}", "Content-Type": "application/json"}
                    bodies[name] = []
                    for job_name, answered, silent in jobs[name]:
                        db.enqueue_named(app.engine, job_name)
                        _status, claimed = _post(port, "/api/collector/claim", b"{}", heads[name])
                        job = claimed["job"]
                        assert isinstance(job, dict)
                        own = _own_facts_version()
                        offered = own is not None and claimed.get("facts_version") == own
                        send = facts == "yes" or (facts == "auto" and offered)
                        extra = {"facts": True} if send else {}
                        body = wire.encode_upload(uuid.uuid4().hex, job["id"], answered, silent, False, **extra)
                        sizes.append(len(body))
                        bodies[name].append(body)
                store.close()
                waited = _settle(server.pid)
                print(f"  server idle after {waited:.0f} s (its workers' first cache pass)", flush=True)
                spans, failures, replies = _send_concurrently(port, bodies, heads)
                said.update(replies)
                assert not failures, failures
                results.append(total / (max(e for _s, e in spans) - min(s for s, _e in spans)))
            finally:
                server.terminate()
                server.wait(timeout=30)
        finally:
            schema.drop()
    return results[1], results[0], sum(sizes) // max(1, len(sizes)), ", ".join(sorted(said))


def _send_concurrently(
    port: int, bodies: dict[str, list[bytes]], heads: dict[str, dict[str, str]]
) -> tuple[list[tuple[float, float]], list[str], set[str]]:
    """Each collector posts its uploads one after another, all collectors at once: (start, end)
    of every post, the failures, and what the server said of the facts."""
    spans: list[tuple[float, float]] = []
    failures: list[str] = []
    said: set[str] = set()
    ready = threading.Barrier(len(bodies))

    def send_all(name: str) -> None:
        ready.wait()
        for body in bodies[name]:
            start = time.perf_counter()
            status, reply = _post(port, "/api/collector/uploads", body, heads[name])
            spans.append((start, time.perf_counter()))
            if status != 200 or reply.get("status") != "merged":
                failures.append(f"{name}: {status} {reply}")
            said.add(str(reply.get("facts", "none (this server does not say)")))

    threads = [threading.Thread(target=send_all, args=(name,)) for name in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return spans, failures, said


def _own_facts_version() -> str | None:
    """This code's facts version, or None for code from before collectors sent facts."""
    try:
        from phaseout.identify.facts_wire import facts_version
    except ImportError:
        return None
    return facts_version()


def _wait(port: int) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the server did not start")


def _tree_cpu(root: int) -> float:
    """CPU seconds used so far by process ``root`` and its descendants (Linux ``/proc``)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    tree, total, grown = {root}, 0.0, True
    while grown:
        grown = False
        for pid, (parent, _cpu) in stats.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grown = True
    for pid in tree:
        total += stats.get(pid, (0, 0.0))[1]
    return total


def _settle(pid: int, limit: float = 240.0) -> float:
    """Wait until the server is idle (under 5 % of a core for a second): its workers' first
    pass over the estate-wide aggregates (``queries.dashboard.Warmer``; seconds of both cores at
    1,000,000 devices) is start-up, not ingestion.  Returns the seconds waited."""
    start = time.monotonic()
    last = _tree_cpu(pid)
    while time.monotonic() - start < limit:
        time.sleep(1.0)
        now = _tree_cpu(pid)
        if now - last < 0.05:
            break
        last = now
    return time.monotonic() - start


def _measured(cmd: list[str]) -> tuple[float, float, int, str]:
    """wall seconds, peak RSS MB, exit code, stderr."""
    start = time.monotonic()
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=ENV, text=True)
        _pid, status, usage = os.wait4(proc.pid, 0)
        err.seek(0)
        return time.monotonic() - start, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), err.read()


def memory(emulators: int) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    names = sorted(load_profiles())
    devices = plan_devices(names, HOSTS, "127.61.0.1")
    chunk = max(len(names), -(-HOSTS // emulators) // len(names) * len(names))
    procs = []
    work = Path(tempfile.mkdtemp(prefix="collector-bench-"))
    try:
        for first in range(0, HOSTS, chunk):
            count = min(chunk, HOSTS - first)
            procs.append(
                subprocess.Popen(
                    [
                        *PHASEOUT,
                        "emulate",
                        "--profiles",
                        ",".join(names),
                        "--count",
                        str(count),
                        "--base",
                        devices[first].ip,
                    ],
                    stdout=subprocess.PIPE,
                    text=True,
                    env=ENV,
                )
            )
        for proc in procs:
            assert proc.stdout is not None
            if "emulated devices" not in proc.stdout.readline():
                raise SystemExit("emulator did not start (ports below 1024 need root)")
        dbfile = str(work / "central.db")
        target = f"{devices[0].ip}-{devices[-1].ip}"
        with Store.open(dbfile) as store:
            app = Phaseout(store, actor="bench")
            code = use.new_code(app, "mem", [], ["127.61.0.0/16"])
            use.define(
                app, use.Definition("all", [target], ["127.61.0.0/16"], [80, 443, 554, 8000, 37777], collector="mem")
            )
            db.enqueue_named(app.engine, "all")
        port = _port()
        server = subprocess.Popen(
            [*PHASEOUT, "--db", dbfile, "serve", "--port", str(port)],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait(port)
            state = str(work / "state")
            subprocess.run(
                [
                    *PHASEOUT,
                    "collector",
                    "enrol",
                    "--server",
                    f"http://127.0.0.1:{port}",
                    "--code",
                    code,
                    "--state-dir",
                    state,
                ],
                env=ENV,
                check=True,
                capture_output=True,
            )
            runs = (
                ("phaseout-collector run (lean entry point)", [sys.executable, "-m", "phaseout.discover.collector"]),
                ("phaseout collector run (the full CLI)", [*PHASEOUT, "collector"]),
            )
            for label, cmd in runs:
                with Store.open(dbfile, upgrade=False) as store:
                    db.enqueue_named(store.engine, "all")
                wall, rss, code_, err = _measured([*cmd, "run", "--once", "--state-dir", state])
                print(
                    f"{label}: claim, scan {HOSTS} hosts, queue, upload: {wall:.1f} s wall, "
                    f"peak {rss:.0f} MB, exit {code_}"
                )
                print("  " + " ".join(err.split())[-300:])
            wall, rss, code_, _err = _measured(
                [
                    *PHASEOUT,
                    "scan",
                    target,
                    "--scope",
                    "127.61.0.0/16",
                    "--no-store",
                    "-f",
                    "jsonl",
                    "--ports",
                    "80,443,554,8000,37777",
                ]
            )
            print(f"baseline phaseout scan --no-store (same hosts): {wall:.1f} s wall, peak {rss:.0f} MB, exit {code_}")
            with Store.open(dbfile, upgrade=False) as store, store.engine.connect() as conn:
                for answered, probed in conn.execute(text("select hosts_answered, hosts_probed from scans")).all():
                    print(f"  stored by the server: {answered} of {probed} probed hosts answered")
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--uploads", type=int, default=5, help="uploads of 4,096 hosts per mix")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--emulators", type=int, default=4)
    parser.add_argument("--collectors", type=int, default=1, help="collectors posting their uploads at once")
    parser.add_argument("--workers", type=int, default=1, help="phaseout serve --workers")
    parser.add_argument(
        "--facts", choices=("auto", "yes", "no"), default="auto", help="uploads carry each answer's facts"
    )
    parser.add_argument("--into", help="merge into this existing database (a large estate) instead of fresh schemas")
    args = parser.parse_args()
    if not args.skip_ingest:
        for every, label in ((1, "every host answering"), (8, "one host in eight answering")):
            api, direct, size, said = ingest(
                args.uploads, every, collectors=args.collectors, workers=args.workers, facts=args.facts, into=args.into
            )
            print(
                f"ingest, {label}: API {api:,.0f} hosts/s, direct record_results {direct:,.0f} hosts/s "
                f"({args.collectors} collector(s) x {args.uploads} uploads of {HOSTS} hosts, "
                f"{size / 1e6:.1f} MB each; {args.workers} worker(s); facts: {said})"
            )
    if not args.skip_memory:
        memory(args.emulators)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
