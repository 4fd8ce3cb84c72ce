"""``phaseout serve --workers 2`` (issue 17 item 3): sessions and the login limiter hold across
worker processes, because both live in the database.  The test proves that both workers answered
(each holds some of the open connections) before it trusts the result."""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from phaseout.store import Store
from phaseout.store.users import add_user

PASSWORD = "workers-password-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _established_inodes(port: int) -> set[str]:
    """Socket inodes of established connections to ``port`` on 127.0.0.1 (server side)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "01" and int(local.split(":")[1], 16) == port:
            inodes.add(inode)
    return inodes


def _holders(pids: list[int], inodes: set[str]) -> set[int]:
    holders = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                match = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(fd))
                if match and match.group(1) in inodes:
                    holders.add(pid)
        except OSError:
            continue
    return holders


def _login(port: int, name: str, password: str) -> tuple[int, str | None]:
    """A login on a connection of its own: (status, session cookie)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/login")
    r = conn.getresponse()
    page = r.read().decode()
    cookie = r.getheader("set-cookie", "").split(";", 1)[0]
    token = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    body = urlencode({"name": name, "password": password, "next": "/", "csrf": token})
    conn.request(
        "POST",
        "/login",
        body=body,
        headers={"content-type": "application/x-www-form-urlencoded", "cookie": cookie},
    )
    r = conn.getresponse()
    r.read()
    session = next(
        (c.split(";", 1)[0] for c in r.headers.get_all("set-cookie") or [] if c.startswith("phaseout_session=")), None
    )
    conn.close()
    return r.status, session


def test_sessions_and_login_limits_hold_across_two_workers(db_url: str) -> None:
    """On SQLite and on PostgreSQL (the production shape, docs/deployment.md)."""
    db = db_url
    with Store.open(db) as store:
        add_user(store.engine, "wendy", "viewer", PASSWORD)
        add_user(store.engine, "walt", "viewer", PASSWORD)
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    server = subprocess.Popen(
        [sys.executable, "-m", "phaseout", "--db", db, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200 and len(_children(server.pid)) >= 2:
                    break
            except OSError:
                pass
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.3)

        status, session = _login(port, "wendy", PASSWORD)
        assert status == 303 and session
        # many connections held open at once: the kernel hands them to both workers (on a quiet
        # machine one worker may win every accept for a while, so keep opening until both hold some)
        conns: list[http.client.HTTPConnection] = []
        holders: set[int] = set()
        for _round in range(10):
            for _ in range(24):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", "/api/v1/me", headers={"cookie": session})
                r = conn.getresponse()
                assert r.status == 200, r.read()
                r.read()
                conns.append(conn)
            holders = _holders(_children(server.pid), _established_inodes(port))
            if len(holders) >= 2:
                break
        for conn in conns:
            conn.close()
        assert len(holders) >= 2, f"only {holders} answered: the test proves nothing"

        # five failures spread over fresh connections (so over both workers) lock walt out everywhere
        for _ in range(5):
            assert _login(port, "walt", "wrong-password")[0] == 401
        assert {_login(port, "walt", PASSWORD)[0] for _ in range(6)} == {429}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
