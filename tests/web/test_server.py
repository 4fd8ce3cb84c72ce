"""uvicorn as ``phaseout serve`` runs it: a client that never finishes its request head is cut off
(uvicorn alone keeps it forever), while a normal request on the same server is answered."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import ClassVar

import pytest
import uvicorn

from phaseout.web.server import HeadDeadlineProtocol, uvicorn_settings


async def hello(scope: dict[str, object], receive: object, send: object) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]


class QuickDeadline(HeadDeadlineProtocol):
    head_seconds = 0.5


@pytest.fixture
def port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        number = int(s.getsockname()[1])
    settings = {**uvicorn_settings(1), "http": QuickDeadline}
    settings.pop("workers")
    server = uvicorn.Server(uvicorn.Config(hello, host="127.0.0.1", port=number, **settings))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield number
    server.should_exit = True
    thread.join(timeout=10)


def test_a_slow_request_head_is_cut_off(port: int) -> None:
    slow = socket.create_connection(("127.0.0.1", port))
    slow.settimeout(5)
    start = time.monotonic()
    slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    closed = False
    while time.monotonic() - start < 4:
        try:
            slow.sendall(b"X")  # a byte at a time, never the blank line
            time.sleep(0.1)
            slow.setblocking(False)
            if slow.recv(1) == b"":
                closed = True
                break
        except BlockingIOError:
            continue
        except OSError:
            closed = True
            break
        finally:
            slow.setblocking(True)
    assert closed and time.monotonic() - start < 3
    fine = socket.create_connection(("127.0.0.1", port), timeout=5)
    fine.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert fine.recv(100).startswith(b"HTTP/1.1 200")
    fine.close()


def test_the_settings_bound_what_a_client_may_hold() -> None:
    settings = uvicorn_settings(2, 500)
    assert settings["http"] is HeadDeadlineProtocol
    assert settings["timeout_keep_alive"] <= 5 and settings["h11_max_incomplete_event_size"] <= 16 * 1024
    assert settings["limit_concurrency"] == 500 and settings["workers"] == 2 and settings["proxy_headers"] is False


class Recording(HeadDeadlineProtocol):
    """Notes whether each connection it serves sends at once (TCP_NODELAY)."""

    seen: ClassVar[list[int]] = []

    def connection_made(self, transport: object) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[arg-type]
        sock = transport.get_extra_info("socket")  # type: ignore[attr-defined]
        Recording.seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


def test_connections_on_a_socket_bound_as_for_workers_send_at_once() -> None:
    """``--workers N`` makes uvicorn bind the socket itself (protocol 0), and asyncio then leaves
    Nagle's algorithm on: each keep-alive request waited ~40 ms for a delayed acknowledgement."""
    settings = {**uvicorn_settings(1), "http": Recording}
    settings.pop("workers")
    config = uvicorn.Config(hello, host="127.0.0.1", port=0, **settings)
    sock = config.bind_socket()
    assert sock.proto == 0  # the case asyncio does not cover
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        with socket.create_connection(sock.getsockname()[:2], timeout=5) as client:
            for _ in range(2):
                client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                answer = b""
                while not answer.endswith(b"\r\n\r\nok"):  # head and body may come apart
                    chunk = client.recv(200)
                    assert chunk, answer
                    answer += chunk
                assert answer.startswith(b"HTTP/1.1 200")
        assert Recording.seen and all(Recording.seen)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
