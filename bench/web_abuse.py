"""The server under abuse (issue 13): 200 concurrent bad clients for 30 s on loopback while a
logged-in user reads pages.

Runs ``phaseout serve`` as a separate process over a demo estate, logs a user in, then measures:

1. baseline: the user's page latency (p50/p95) with nothing else going on;
2. attack: the same user's latency while 200 attackers run at once for 30 s --
   ``oversized`` (a 400 MB Content-Length, sending as fast as loopback allows, at most 64 MB per
   connection), ``slow-head`` (a request head one byte a second), ``slow-body`` (a login body
   one byte a second) and ``spray`` (log-in attempts under random names, with the form's CSRF
   token), 50 each; the server's resident memory (the process and its children) sampled every
   0.25 s.

Targets (issue 13): server RSS < 500 MB, the user's p95 <= 300 ms under attack.  A safety valve
stops the server if its RSS passes ``--rss-cap`` MB (reported as such), so an old, unguarded
server cannot take the shared machine down.

``--pin`` puts the server (and the measuring user) on CPU 0 and the attackers on CPU 1, the way
attackers on another machine would leave the server its own CPU; without it, on a 2-core machine
the attackers' own work takes most of the CPU the server would use.

Run: ``python bench/web_abuse.py [--stores 60] [--seconds 30] [--attackers 200] [--pin] [--src DIR]``
(``--src`` serves another checkout's ``src``, e.g. the code before the fix, for a before/after
table; the estate is then built by that code too).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-password-123"
PAGES = ["/", "/devices", "/sites", "/api/v1/devices?size=50", "/findings", "/audit"]
BIG = 400 * 1024 * 1024
SEND_CAP = 64 * 1024 * 1024


def build(db: Path, stores: int, src: Path) -> None:
    """The demo estate and a viewer, built by the code under test (in its own process)."""
    code = (
        "import sys; from pathlib import Path; from phaseout.demo.run import run_demo; "
        "from phaseout.store import Store; from phaseout.store.users import add_user; "
        f"r = run_demo(Path({str(db.parent)!r}), stores={stores}, seed=7); "
        f"s = Store.open(r.db); add_user(s.engine, 'bench', 'viewer', {PASSWORD!r}); "
        "print(r.db)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(src)}, capture_output=True, text=True
    )
    if out.returncode:
        raise SystemExit(out.stderr[-2000:])
    db.write_text(out.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far, seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, to tell the server's share from the rest."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children, MB."""
    pids, total = [pid], 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    pids.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


class Sampler(threading.Thread):
    def __init__(self, pid: int, cap_mb: float, server: subprocess.Popen[bytes]) -> None:
        super().__init__(daemon=True)
        self.pid, self.cap, self.server = pid, cap_mb, server
        self.peak = 0.0
        self.capped = False
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            rss = tree_rss_mb(self.pid)
            self.peak = max(self.peak, rss)
            if rss > self.cap and not self.capped:
                self.capped = True
                self.server.kill()
            time.sleep(0.25)


def form_token(page: str) -> str | None:
    marker = 'name="csrf" value="'
    return page.split(marker, 1)[1].split('"', 1)[0] if marker in page else None


def login(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/login")
    r = conn.getresponse()
    page = r.read().decode()
    cookie = (r.getheader("set-cookie") or "").split(";", 1)[0]
    fields = {"name": "bench", "password": PASSWORD, "next": "/"}
    token = form_token(page)
    if token:
        fields["csrf"] = token
    conn.request(
        "POST",
        "/login",
        body=urlencode(fields),
        headers={"content-type": "application/x-www-form-urlencoded", "cookie": cookie},
    )
    r = conn.getresponse()
    r.read()
    for header in r.headers.get_all("set-cookie") or []:
        if header.startswith("phaseout_session="):
            return header.split(";", 1)[0]
    raise SystemExit(f"login failed: {r.status}")


def user_pages(port: int, cookie: str, seconds: float, stop: threading.Event | None = None) -> dict[str, float]:
    """The logged-in user reading pages one after another, each on a fresh connection."""
    latencies: list[float] = []
    errors = 0
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end and not (stop and stop.is_set()):
        path = PAGES[i % len(PAGES)]
        i += 1
        start = time.perf_counter()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", path, headers={"cookie": cookie})
            r = conn.getresponse()
            r.read()
            conn.close()
            if r.status != 200:
                errors += 1
                continue
        except OSError:
            errors += 1
            continue
        latencies.append((time.perf_counter() - start) * 1000)
    if not latencies:
        return {"requests": 0, "errors": errors, "p50": float("nan"), "p95": float("nan")}
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "p50": statistics.median(latencies),
        "p95": latencies[max(0, int(len(latencies) * 0.95) - 1)],
    }


# --- the attackers (run in a process of their own) -----------------------------------------


async def _status(reader: asyncio.StreamReader) -> str:
    try:
        line = await asyncio.wait_for(reader.readline(), 5)
    except (TimeoutError, OSError):
        return "no-answer"
    parts = line.split()
    return parts[1].decode() if len(parts) > 1 else "closed"


async def oversized(port: int, end: float, tally: dict[str, int]) -> None:
    chunk = b"a=" + b"x" * (256 * 1024 - 2)
    while time.monotonic() < end:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                b"POST /settings/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                + f"Content-Length: {BIG}\r\n\r\n".encode()
            )
            sent = 0
            while sent < SEND_CAP and time.monotonic() < end:
                if reader.at_eof() or writer.is_closing():
                    break
                writer.write(chunk)
                await writer.drain()
                sent += len(chunk)
                if reader._buffer:  # type: ignore[attr-defined]  # the server answered early
                    break
            key = f"oversized {await _status(reader)}"
            writer.close()
        except OSError:
            key = "oversized reset"
        tally[key] = tally.get(key, 0) + 1


async def slow_head(port: int, end: float, tally: dict[str, int]) -> None:
    while time.monotonic() < end:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
            start = time.monotonic()
            while time.monotonic() < end and not reader.at_eof():
                writer.write(b"X")
                await writer.drain()
                try:
                    await asyncio.wait_for(reader.read(1), 1.0)
                    break  # the server answered or closed
                except TimeoutError:
                    continue
            key = f"slow-head held {int(time.monotonic() - start) // 5 * 5}s+"
            writer.close()
        except OSError:
            key = "slow-head reset"
        tally[key] = tally.get(key, 0) + 1


async def slow_body(port: int, end: float, tally: dict[str, int]) -> None:
    while time.monotonic() < end:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: 1000\r\n\r\n"
            )
            status = "held to the end"
            while time.monotonic() < end:
                writer.write(b"n")
                await writer.drain()
                try:
                    data = await asyncio.wait_for(reader.read(64), 1.0)
                    status = data.split()[1].decode() if len(data.split()) > 1 else "closed"
                    break
                except TimeoutError:
                    continue
            key = f"slow-body {status}"
            writer.close()
        except (OSError, IndexError):
            key = "slow-body reset"
        tally[key] = tally.get(key, 0) + 1


async def spray(port: int, end: float, tally: dict[str, int]) -> None:
    while time.monotonic() < end:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /login HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            length = next(
                (int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")), 0
            )
            page = (await asyncio.wait_for(reader.readexactly(length), 10)).decode()
            cookie = next(
                (
                    h.split(b":", 1)[1].split(b";")[0].strip().decode()
                    for h in head.split(b"\r\n")
                    if h.lower().startswith(b"set-cookie")
                ),
                "",
            )
            fields = {"name": f"user{random.randrange(10**9)}", "password": "guess", "next": "/"}
            token = form_token(page)
            if token:
                fields["csrf"] = token
            body = urlencode(fields).encode()
            writer.write(
                b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                + f"Content-Length: {len(body)}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            key = f"spray {await _status(reader)}"
            writer.close()
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            key = "spray reset"
        tally[key] = tally.get(key, 0) + 1


async def attack(port: int, seconds: float, attackers: int) -> dict[str, int]:
    end = time.monotonic() + seconds
    tally: dict[str, int] = {}
    kinds = [oversized, slow_head, slow_body, spray]
    tasks = [asyncio.create_task(kinds[i % len(kinds)](port, end, tally)) for i in range(attackers)]
    await asyncio.wait(tasks, timeout=seconds + 30)
    return tally


# --- the run ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--baseline-seconds", type=float, default=15)
    parser.add_argument("--attackers", type=int, default=200)
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the phaseout source tree to serve")
    parser.add_argument("--rss-cap", type=float, default=6000, help="MB; the server is stopped beyond it")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="the server and the user on CPU 0, the attackers on CPU 1: attackers on another machine "
        "would not take the server's CPU, as they must on one shared machine",
    )
    parser.add_argument("--attacker", type=int, help=argparse.SUPPRESS)  # internal: run the attack on this port
    args = parser.parse_args()
    if args.attacker:
        print(json.dumps(asyncio.run(attack(args.attacker, args.seconds, args.attackers))))
        return

    work = Path(tempfile.mkdtemp(prefix="web-abuse-"))
    pointer = work / "db.txt"
    t0 = time.monotonic()
    build(pointer, args.stores, args.src.resolve())
    db = pointer.read_text()
    print(f"estate: {args.stores} stores, built in {time.monotonic() - t0:.0f} s ({db}); serving {args.src}")
    port = free_port()
    server_cpus, attacker_cpus = ({0}, {1}) if args.pin else (None, None)
    if server_cpus:
        os.sched_setaffinity(0, server_cpus)  # this process measures the user's pages
        print("pinned: server and user on CPU 0, attackers on CPU 1")
    server = subprocess.Popen(
        [sys.executable, "-m", "phaseout", "--db", db, "serve", "--port", str(port)],
        env={**os.environ, "PYTHONPATH": str(args.src.resolve())},
        stdout=subprocess.DEVNULL,
        stderr=(work / "server.log").open("wb"),
        preexec_fn=(lambda: os.sched_setaffinity(0, server_cpus)) if server_cpus else None,
    )
    try:
        for _ in range(200):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        cookie = login(port)
        user_pages(port, cookie, 3)  # warm the caches
        idle_rss = tree_rss_mb(server.pid)
        baseline = user_pages(port, cookie, args.baseline_seconds)
        sampler = Sampler(server.pid, args.rss_cap, server)
        sampler.start()
        cpu0, busy0, wall0 = cpu_seconds(server.pid), machine_busy(), time.monotonic()
        attackers = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--attacker",
                str(port),
                "--seconds",
                str(args.seconds),
                "--attackers",
                str(args.attackers),
            ],
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, attacker_cpus)) if attacker_cpus else None,
        )
        time.sleep(1)  # let the attack build up
        under = user_pages(port, cookie, args.seconds - 1)
        out, _ = attackers.communicate(timeout=args.seconds + 120)
        wall, busy1 = time.monotonic() - wall0, machine_busy()
        server_cpu = (cpu_seconds(server.pid) - cpu0) / wall
        machine_cpu = (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]) * (os.cpu_count() or 1)
        sampler.stop.set()
        sampler.join()
        tally = json.loads(out) if out.strip() else {}
        alive = server.poll() is None
        after_rss = tree_rss_mb(server.pid) if alive else float("nan")
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    print(f"{'':34}{'requests':>9}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}")
    for name, r in (("user pages, baseline (no attack)", baseline), ("user pages, under attack", under)):
        print(f"{name:34}{r['requests']:>9}{r['errors']:>8}{r['p50']:>9.0f}{r['p95']:>9.0f}")
    cap = f" (over {args.rss_cap:.0f} MB: server stopped)" if sampler.capped else ""
    print(f"server RSS: idle {idle_rss:.0f} MB, peak under attack {sampler.peak:.0f} MB{cap}, after {after_rss:.0f} MB")
    print(f"server still up after the attack: {'yes' if alive else 'no'}")
    print(
        f"CPU during the attack: server {server_cpu:.2f} cores, whole machine {machine_cpu:.2f} of"
        f" {os.cpu_count()} cores busy (attackers and every other process included); load average"
        f" {os.getloadavg()[0]:.1f}"
    )
    print("attack outcomes: " + ", ".join(f"{k} x{v}" for k, v in sorted(tally.items())))
    log = (work / "server.log").read_text(errors="replace")
    print(f"server tracebacks: {log.count('Traceback')} (log: {work / 'server.log'})")
    verdict_rss = sampler.peak < 500 and not sampler.capped
    verdict_p95 = under["p95"] <= 300
    rss_word, p95_word = ("met" if verdict_rss else "MISSED"), ("met" if verdict_p95 else "MISSED")
    print(f"targets: RSS < 500 MB {rss_word}; p95 <= 300 ms {p95_word}")


if __name__ == "__main__":
    main()
