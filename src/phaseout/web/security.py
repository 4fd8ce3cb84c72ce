"""Who is asking, may they, and the headers every answer carries.

- A browser logs in once and holds a session cookie (HttpOnly, SameSite=Strict, Secure behind
  HTTPS); a script sends ``Authorization: Bearer po_...`` (``phaseout token create``).
- Every state-changing request made with the cookie carries the session's CSRF token (a hidden
  form field, or the ``X-CSRF-Token`` header for htmx and fetch); bearer tokens need none, as a
  browser never sends them on its own.
- The login form carries its own CSRF token (a cookie and a hidden field that must match), so
  another site cannot log a browser in under the attacker's account.
- Failed logins are limited per client address and per existing user (5 in 5 minutes), counted
  in the database so every worker shares them (``store.users``).  The client address is the
  socket's peer, or, when that peer is a configured trusted proxy (``--trusted-proxy``), the
  nearest untrusted address in its ``X-Forwarded-For``; IPv6 clients count per /64.
- ``RequestGuard`` runs before anything else: a request body is refused (413) beyond its cap
  from ``Content-Length`` alone, the caller is identified from headers before one byte of body
  is read (401, or a redirect to the login page), and the body must arrive within a deadline
  (408).  Only then is it handed on, already in memory and at most the cap.
- Content-Security-Policy allows scripts, styles and images from the dashboard itself only (no
  inline script at all), frames from nowhere; plus ``nosniff``, no referrer, no caching.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

import anyio.to_thread
from fastapi import Depends, HTTPException, Request
from sqlalchemy import Engine
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from phaseout.store.users import User, login_failed, login_succeeded, session_user, token_user
from phaseout.store.users import login_waits as login_wait_pair

COOKIE = "phaseout_session"
LOGIN_CSRF_COOKIE = "phaseout_login"
#: request bodies: the login form is tiny; nothing else in the dashboard or API uploads files
LOGIN_BODY_LIMIT = 8 * 1024
BODY_LIMIT = 1024 * 1024
#: seconds a client has to send the whole body once the headers are in
BODY_SECONDS = 10.0
PUBLIC_PATHS = ("/login", "/healthz", "/static/app.css", "/favicon.ico")
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
#: site collectors' calls: identified by the collector's own credential, not a user's
COLLECTOR_PREFIX = "/api/collector/"
COLLECTOR_PUBLIC = "/api/collector/enrol"


def csp(tiles: str | None = None) -> str:
    images = "'self' data:" + (f" {tiles}" if tiles else "")
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {images}; connect-src 'self'; font-src 'self'; object-src 'none'; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )


class SecurityHeaders(BaseHTTPMiddleware):
    def __init__(self, app: object, policy: str) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self.policy = policy

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        headers = response.headers
        headers["Content-Security-Policy"] = self.policy
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "no-referrer"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if not request.url.path.startswith("/static/"):
            headers["Cache-Control"] = "no-store"
        return response


@dataclass(frozen=True, slots=True)
class Caller:
    user: User
    csrf: str | None  # None for bearer tokens
    via: str  # "session" | "token"


def _engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


STATE_KEY = "phaseout_caller"


def identify(request: Request) -> Caller | None:
    """The caller from the bearer token or session cookie (headers only, never the body); the
    answer is remembered for the request so the guard and the endpoint ask the database once."""
    state = request.scope.get("state")
    if isinstance(state, dict) and STATE_KEY in state:
        cached: Caller | None = state[STATE_KEY]
        return cached
    who = _lookup(request)
    if isinstance(state, dict):
        state[STATE_KEY] = who
    return who


def _lookup(request: Request) -> Caller | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        user = token_user(_engine(request), header[7:].strip())
        return Caller(user, None, "token") if user else None
    cookie = request.cookies.get(COOKIE)
    if cookie:
        found = session_user(_engine(request), cookie)
        if found:
            return Caller(found[0], found[1], "session")
    return None


class LoginRequired(Exception):
    """Raised for a page without a session: the handler redirects to the login page."""


async def caller(request: Request) -> Caller:
    who = identify(request)
    if who is None:
        if request.url.path.startswith("/api/"):
            raise HTTPException(401, "log in or send a bearer token", headers={"WWW-Authenticate": "Bearer"})
        raise LoginRequired()
    if request.method in UNSAFE and who.via == "session":
        sent = request.headers.get("x-csrf-token")
        if not sent and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            value = (await request.form()).get("csrf")  # the form is cached for the endpoint
            sent = value if isinstance(value, str) else None
        if not sent or not who.csrf or not secrets.compare_digest(sent, who.csrf):
            raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
    return who


CallerDep = Annotated[Caller, Depends(caller)]


def require(role: str) -> object:
    def check(who: CallerDep) -> Caller:
        if not who.user.can(role):
            raise HTTPException(403, f"this needs the {role} role; you are {who.user.role}")
        return who

    return Depends(check)


# --- the client address --------------------------------------------------------------------

Networks = Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]


def parse_networks(values: Sequence[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """``--trusted-proxy`` values: addresses or CIDR blocks."""
    return [ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip()]


def _trusted(address: str, proxies: Networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_address(peer: str | None, forwarded_for: str | None, proxies: Networks) -> str:
    """The address to count failed logins against: the peer, unless the peer is a trusted proxy;
    then the right-most ``X-Forwarded-For`` entry that is not itself a trusted proxy (entries
    further left were written by the client and prove nothing)."""
    address = peer or "?"
    if forwarded_for and proxies and _trusted(address, proxies):
        for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
            address = hop
            if not _trusted(hop, proxies):
                break
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))  # one household or host owns a /64
    return str(ip)


def request_address(request: Request) -> str:
    proxies: Networks = getattr(request.app.state, "trusted_proxies", ())
    return client_address(
        request.client.host if request.client else None, request.headers.get("x-forwarded-for"), proxies
    )


class LoginLimiter:
    """At most ``store.users.LOGIN_LIMIT`` failed logins per client address and per existing user
    per window, counted in the database (shared by every worker, bounded by the addresses and
    users seen in the last window).

    Two per-process shortcuts keep a spray cheap, neither of which decides anything on its own:
    at most ``VERIFYING`` password checks run at once (argon2id takes 64 MiB and tens of ms of
    CPU each; a login that finds no free slot is told to retry), and addresses the database has
    locked are remembered (at most ``MEMO`` of them, oldest forgotten first) so ``RequestGuard``
    refuses their next attempts before any routing, form parsing or query.
    """

    VERIFYING = 2
    MEMO = 10_000

    def __init__(self) -> None:
        self.slots = threading.BoundedSemaphore(self.VERIFYING)
        self._locked: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, engine: Engine, address: str, name: str) -> int:
        """Seconds to wait, or 0 when a login may be tried."""
        by_address, by_user = login_wait_pair(engine, address, name)
        if by_address:
            self._remember(address, by_address)
        return max(by_address, by_user)

    def _remember(self, address: str, seconds: int) -> None:
        with self._lock:
            self._locked[address] = time.monotonic() + seconds
            self._locked.move_to_end(address)
            while len(self._locked) > self.MEMO:
                self._locked.popitem(last=False)

    def locked(self, address: str) -> int:
        """Seconds left on a lock the database already placed on this address (0: none known)."""
        with self._lock:
            until = self._locked.get(address)
            if until is None:
                return 0
            left = until - time.monotonic()
            if left <= 0:
                del self._locked[address]
                return 0
            return int(left) + 1

    def forget(self) -> None:
        """Drop the remembered locks (after the database's counts were cleared)."""
        with self._lock:
            self._locked.clear()

    def failed(self, engine: Engine, address: str, name: str) -> None:
        login_failed(engine, address, name)

    def succeeded(self, engine: Engine, user: User) -> None:
        login_succeeded(engine, user)


#: the one limiter of this process (the counts themselves are in the database)
limiter = LoginLimiter()


def login_csrf_ok(request: Request, sent: str | None) -> bool:
    """The login form's token matches the cookie set with the form (double submit)."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    return bool(cookie and sent and secrets.compare_digest(cookie, sent))


# --- the request guard ---------------------------------------------------------------------


async def _reply(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),  # the rest of an unread body is not worth reading
        (b"cache-control", b"no-store"),
    ]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    """Pure ASGI middleware, outermost: caps, identity before body, body deadline (see the
    module's docstring).  Pure ASGI rather than ``BaseHTTPMiddleware`` so nothing reads the
    body on its behalf."""

    def __init__(self, app: ASGIApp, body_limit: int = BODY_LIMIT, body_seconds: float = BODY_SECONDS) -> None:
        self.app = app
        self.body_limit = body_limit
        self.body_seconds = body_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        path: str = scope["path"]
        limit = LOGIN_BODY_LIMIT if path == "/login" else self.body_limit
        collector = path.startswith(COLLECTOR_PREFIX)
        if collector:  # site collectors: their own credential and caps (web/collector_api.py)
            limits = getattr(getattr(scope.get("app"), "state", None), "collector_limits", (8 * 1024, limit))
            limit = limits[0] if path == COLLECTOR_PUBLIC else limits[1]
        length_text = headers.get("content-length")
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        try:
            length = int(length_text) if length_text is not None else None
        except ValueError:
            await _reply(send, 400, "Content-Length is not a number")
            return
        if length is not None and length < 0:
            await _reply(send, 400, "Content-Length is negative")
            return
        if length is not None and length > limit:
            await _reply(send, 413, f"request body over {limit:,} bytes")
            return
        if path == "/login" and scope["method"] == "POST":
            app = scope.get("app")
            proxies = getattr(getattr(app, "state", None), "trusted_proxies", ())
            peer = scope["client"][0] if scope.get("client") else None
            wait = limiter.locked(client_address(peer, headers.get("x-forwarded-for"), proxies))
            if wait:
                # read the small login form first (capped above, within the body deadline): closing
                # with it unread resets the connection, and the client may never see the 429
                if (chunked or length) and await self._read(receive, send, limit) is None:
                    return
                await _reply(send, 429, f"too many failed logins: wait {wait} s", {"Retry-After": str(wait)})
                return
        has_body = chunked or bool(length)
        unsafe = scope["method"] in UNSAFE
        if collector and path != COLLECTOR_PUBLIC:
            check = getattr(getattr(scope.get("app"), "state", None), "collector_check", None)
            scope.setdefault("state", {})
            if check is None or await anyio.to_thread.run_sync(check, Request(scope)) is None:
                await _reply(send, 401, "unknown or revoked collector credential", {"WWW-Authenticate": "Bearer"})
                return
        elif collector:
            pass  # enrolment: the one-time code is in the (small) body
        elif (has_body or unsafe) and path not in PUBLIC_PATHS:
            request = Request(scope)
            scope.setdefault("state", {})
            who = await anyio.to_thread.run_sync(identify, request)
            if who is None:
                if path.startswith("/api/"):
                    await _reply(send, 401, "log in or send a bearer token", {"WWW-Authenticate": "Bearer"})
                else:
                    await _reply(send, 303, "log in first", {"Location": "/login"})
                return
        if not has_body:
            await self.app(scope, receive, send)
            return
        body = await self._read(receive, send, limit)
        if body is None:
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive, send: Send, limit: int) -> bytes | None:
        """The whole body within the deadline and the cap, or None after answering 408/413."""
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + self.body_seconds
        while True:
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise TimeoutError
                message = await asyncio.wait_for(receive(), left)
            except TimeoutError:
                await _reply(send, 408, f"the request body did not arrive within {self.body_seconds:g} s")
                return None
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _reply(send, 413, f"request body over {limit:,} bytes")
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
