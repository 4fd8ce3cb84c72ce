"""Who is asking, may they, and the headers every answer carries.

- A browser logs in once and holds a session cookie (HttpOnly, SameSite=Strict, Secure behind
  HTTPS); a script sends ``Authorization: Bearer po_...`` (``phaseout token create``).
- Every state-changing request made with the cookie carries the session's CSRF token (a hidden
  form field, or the ``X-CSRF-Token`` header for htmx and fetch); bearer tokens need none, as a
  browser never sends them on its own.
- Failed logins are limited per address and per user name (5 in 5 minutes), so passwords cannot
  be guessed at speed.
- Content-Security-Policy allows scripts, styles and images from the dashboard itself only (no
  inline script at all), frames from nowhere; plus ``nosniff``, no referrer, no caching.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy import Engine
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response

from phaseout.store.users import User, session_user, token_user

COOKIE = "phaseout_session"
PUBLIC_PATHS = ("/login", "/healthz", "/static/app.css", "/favicon.ico")
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


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


def identify(request: Request) -> Caller | None:
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


class LoginLimiter:
    """At most ``limit`` failed logins per address and per name in ``window`` seconds."""

    def __init__(self, limit: int = 5, window: float = 300.0) -> None:
        self.limit = limit
        self.window = window
        self.failures: dict[str, deque[float]] = defaultdict(deque)
        self.lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self.failures[key]
        while q and now - q[0] > self.window:
            q.popleft()
        return q

    def retry_after(self, address: str, name: str) -> int:
        """Seconds to wait, or 0 when a login may be tried."""
        now = time.monotonic()
        with self.lock:
            waits = [
                int(self.window - (now - q[0])) + 1
                for key in (f"ip:{address}", f"user:{name.lower()}")
                if len(q := self._recent(key, now)) >= self.limit
            ]
        return max(waits, default=0)

    def failed(self, address: str, name: str) -> None:
        now = time.monotonic()
        with self.lock:
            for key in (f"ip:{address}", f"user:{name.lower()}"):
                self._recent(key, now).append(now)
            if len(self.failures) > 100_000:  # bounded memory under a spray of names
                self.failures.clear()

    def succeeded(self, name: str) -> None:
        with self.lock:
            self.failures.pop(f"user:{name.lower()}", None)
