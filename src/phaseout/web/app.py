"""The dashboard and REST API as one FastAPI application over a store."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.types import Receive, Scope, Send

from phaseout import __version__
from phaseout.errors import PhaseoutError, StoreError, UsageError
from phaseout.queries.dashboard import Warmer
from phaseout.web import alert_pages, api, pages
from phaseout.web.security import (
    BODY_LIMIT,
    BODY_SECONDS,
    PUBLIC_PATHS,
    CallerDep,
    LoginRequired,
    RequestGuard,
    SecurityHeaders,
    csp,
    identify,
    parse_networks,
)

STATIC = Path(__file__).with_name("static")


class PrivateStatic(StaticFiles):
    """Static files for logged-in users only (the login page's stylesheet excepted): nothing of
    the dashboard is reachable without a login but the login page and ``/healthz``."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["path"].startswith("/static/") else f"/static{scope['path']}"
        if scope["type"] == "http" and path not in PUBLIC_PATHS:
            request = Request(scope, receive)
            if identify(request) is None:
                await Response("log in first", status_code=401)(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(
    engine: Engine,
    *,
    secure_cookies: bool = False,
    map_tiles: str | None = None,
    warm: bool = True,
    trusted_proxies: Sequence[str] = (),
    body_limit: int = BODY_LIMIT,
    body_seconds: float = BODY_SECONDS,
) -> FastAPI:
    """``map_tiles``: a tile URL template (``https://tile.example/{z}/{x}/{y}.png``) for the site
    map's background; none by default, so the dashboard contacts no third party.  ``warm``
    keeps the estate-wide aggregates computed in a background thread.  ``trusted_proxies``:
    addresses or CIDR blocks whose ``X-Forwarded-For`` names the real client (for the login
    limiter); none by default.  ``body_limit`` and ``body_seconds`` bound every request body."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        warmer = Warmer(engine) if warm else None
        if warmer:
            warmer.start()
        yield
        if warmer:
            warmer.stop.set()

    app = FastAPI(
        lifespan=lifespan,
        title="phaseout",
        version=__version__,
        description="Find, assess and replace Hikvision, Dahua and other covered surveillance equipment.",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.secure_cookies = secure_cookies
    app.state.map_tiles = map_tiles
    app.state.trusted_proxies = parse_networks(trusted_proxies)
    tiles_origin = None
    if map_tiles:
        from urllib.parse import urlsplit

        parts = urlsplit(map_tiles)
        tiles_origin = f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}"
    app.add_middleware(SecurityHeaders, policy=csp(tiles_origin))
    # added last, so outermost: runs before anything can read a body
    app.add_middleware(RequestGuard, body_limit=body_limit, body_seconds=body_seconds)
    app.include_router(api.router)
    from phaseout.web import collector_api, collector_pages  # site collectors (docs/collectors.md)

    app.include_router(collector_api.router)
    app.include_router(collector_pages.router)
    app.state.collector_check = collector_api.collector_of
    app.state.collector_limits = (collector_api.ENROL_BODY_LIMIT, collector_api.COLLECTOR_BODY_LIMIT)
    app.include_router(pages.router)
    app.include_router(alert_pages.router)  # admins only
    app.mount("/static", PrivateStatic(directory=str(STATIC)), name="static")
    pages.templates.env.globals["map_tiles"] = map_tiles

    @app.get("/api/v1/openapi.json", include_in_schema=False)
    def openapi(who: CallerDep) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/api/v1/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs(request: Request, who: CallerDep) -> HTMLResponse:
        return pages.render(request, "docs.html", who)

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={target}" if request.method == "GET" else "/login", status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/api/") or "text/html" not in request.headers.get("accept", ""):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return pages.templates.TemplateResponse(
            request,
            "error.html",
            {"status": exc.status_code, "detail": exc.detail, "user": None, "missing_assets": [], "path": ""},
            status_code=exc.status_code,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        """422 with FastAPI's detail, without echoing the input back (a 1 MB value stays on the
        client's side)."""
        detail = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(PhaseoutError)
    async def product_error(request: Request, exc: PhaseoutError) -> Response:
        """A busy database (an import holds SQLite's write lock past the busy timeout) is 503 with
        Retry-After, not a 500; a number out of range is 422."""
        detail = exc.message + (f" ({exc.hint})" if exc.hint else "")
        if isinstance(exc, StoreError):
            return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "10"})
        return JSONResponse({"detail": detail}, status_code=422 if isinstance(exc, UsageError) else 400)

    @app.exception_handler(OverflowError)
    async def overflow(request: Request, exc: OverflowError) -> Response:
        return JSONResponse({"detail": "a number in the request is out of range"}, status_code=422)

    return app


def app_from_environment() -> FastAPI:
    """The application for each ``phaseout serve --workers N`` process (uvicorn imports it by
    name in every worker): the settings travel in ``PHASEOUT_SERVE`` as JSON."""
    import json
    import os

    from phaseout.store import Store

    settings = json.loads(os.environ["PHASEOUT_SERVE"])
    store = Store.open(settings["db"], upgrade=False)
    return create_app(
        store.engine,
        secure_cookies=settings["secure_cookies"],
        map_tiles=settings["map_tiles"],
        trusted_proxies=settings["trusted_proxies"],
    )
