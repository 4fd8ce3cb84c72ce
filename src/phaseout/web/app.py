"""The dashboard and REST API as one FastAPI application over a store."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.types import Receive, Scope, Send

from phaseout import __version__
from phaseout.queries.dashboard import Warmer
from phaseout.web import api, pages
from phaseout.web.security import PUBLIC_PATHS, CallerDep, LoginRequired, SecurityHeaders, csp, identify

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
    engine: Engine, *, secure_cookies: bool = False, map_tiles: str | None = None, warm: bool = True
) -> FastAPI:
    """``map_tiles``: a tile URL template (``https://tile.example/{z}/{x}/{y}.png``) for the site
    map's background; none by default, so the dashboard contacts no third party.  ``warm``
    keeps the estate-wide aggregates computed in a background thread."""

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
    tiles_origin = None
    if map_tiles:
        from urllib.parse import urlsplit

        parts = urlsplit(map_tiles)
        tiles_origin = f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}"
    app.add_middleware(SecurityHeaders, policy=csp(tiles_origin))
    app.include_router(api.router)
    app.include_router(pages.router)
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

    return app
