"""A central server and collectors as real processes, for the collector tests (loopback and
network namespaces) and the demo instructions they prove."""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")
PHASEOUT = [sys.executable, "-m", "phaseout"]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": SRC, "PHASEOUT_DB": ""}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(db: str, port: int, host: str = "127.0.0.1", prefix: list[str] | None = None) -> Iterator[str]:
    """``phaseout serve`` in its own process until the block ends; yields its URL."""
    cmd = [*(prefix or []), *PHASEOUT, "--db", db, "serve", "--host", host, "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection(host, port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.3)
        yield f"http://{host}:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cli(*args: str, prefix: list[str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*(prefix or []), *PHASEOUT, *args], env=env(), capture_output=True, text=True, timeout=timeout, check=False
    )


class Proxy:
    """A TCP relay between a collector and the server that can lose an upload on purpose:
    ``hold`` passes the upload to the server and swallows the answer (the server merged it, the
    collector never heard); ``drop`` cuts the connection before the upload reaches the server."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.mode = "pass"
        self.tripped = threading.Event()
        self.alive = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.alive:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            state = {"upload": False}
            threading.Thread(target=self._up, args=(client, upstream, state), daemon=True).start()
            threading.Thread(target=self._down, args=(upstream, client, state), daemon=True).start()

    def _up(self, client: socket.socket, upstream: socket.socket, state: dict[str, bool]) -> None:
        with contextlib.suppress(OSError):
            while chunk := client.recv(65536):
                if b"POST /api/collector/uploads" in chunk:
                    state["upload"] = True
                    if self.mode == "drop":
                        self.tripped.set()
                        client.close()
                        upstream.close()
                        return
                upstream.sendall(chunk)
        with contextlib.suppress(OSError):
            upstream.shutdown(socket.SHUT_WR)

    def _down(self, upstream: socket.socket, client: socket.socket, state: dict[str, bool]) -> None:
        with contextlib.suppress(OSError):
            while chunk := upstream.recv(65536):
                if state["upload"] and self.mode == "hold":
                    self.tripped.set()  # the server answered the upload: swallow it
                    continue
                client.sendall(chunk)
        with contextlib.suppress(OSError):
            client.close()

    def close(self) -> None:
        self.alive = False
        self.listener.close()
