"""Running the application under uvicorn with limits on what a client may hold.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) and caps the size of the
request head (``h11_max_incomplete_event_size``), but has no deadline for a *new* connection to
finish sending its request head: a client that sends one header byte a second keeps its
connection forever (slowloris).  ``HeadDeadlineProtocol`` adds that deadline; ``RequestGuard``
(``web.security``) does the same for the body.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

#: seconds a client has to send its whole request head, from connecting or from the last answer
HEAD_SECONDS = 10.0
#: the request line and headers together, bytes
HEAD_LIMIT = 16 * 1024
#: idle seconds before a keep-alive connection is closed
KEEP_ALIVE_SECONDS = 5
#: connections plus requests in flight before uvicorn answers 503 at once
CONCURRENCY = 1000


class HeadDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request head is not complete within
    ``HEAD_SECONDS`` (armed on connect and after every answer)."""

    head_seconds = HEAD_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(self.head_seconds, self._head_late)

    def _head_late(self) -> None:
        self._head_timer = None
        waiting = self.conn.their_state is h11.IDLE and (self.cycle is None or self.cycle.response_complete)
        if waiting and not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        no_delay(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)


def no_delay(transport: asyncio.BaseTransport) -> None:
    """Send each answer as soon as it is written (``TCP_NODELAY``).

    asyncio sets it only on sockets whose protocol number is ``IPPROTO_TCP``; the listening
    socket uvicorn binds for ``--workers N`` is made with protocol 0, so its connections kept
    Nagle's algorithm.  h11 writes an answer's head and body in two sends; the body then waited
    for the client's delayed acknowledgement of the head: about 40 ms on every request after the
    first on a keep-alive connection (``/healthz`` took 44 ms instead of 1-2 ms with 2 workers)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def uvicorn_settings(workers: int, concurrency: int = CONCURRENCY) -> dict[str, Any]:
    """The keyword arguments ``phaseout serve`` gives ``uvicorn.run``."""
    return {
        "http": HeadDeadlineProtocol,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "h11_max_incomplete_event_size": HEAD_LIMIT,
        "limit_concurrency": concurrency,
        "workers": workers,
        "log_level": "warning",
        "proxy_headers": False,  # the login limiter reads X-Forwarded-For itself, from trusted proxies only
        "server_header": False,
    }
