"""The admins' page of site collectors: each with its sites and scopes, last contact (the
server's clock), version, queue length and open jobs, with Revoke (role and CSRF as on the
settings page: admin only, the session's CSRF token in the form)."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from phaseout.store import collectors as db
from phaseout.web.pages import engine, render
from phaseout.web.security import Caller, require

router = APIRouter()


def _page(request: Request, who: Caller, message: str | None = None) -> HTMLResponse:
    eng = engine(request)
    return render(
        request,
        "collectors.html",
        who,
        message=message,
        collectors=db.list_collectors(eng),
        jobs=db.list_jobs(eng, limit=50),
        definitions=db.list_definitions(eng),
    )


@router.get("/collectors", response_class=HTMLResponse)
def collectors_page(request: Request, who: Caller = require("admin")) -> HTMLResponse:  # type: ignore[assignment]
    return _page(request, who)


@router.post("/collectors/{name}/revoke", response_class=HTMLResponse)
def collectors_revoke(
    request: Request,
    name: str = Path(..., max_length=64),
    who: Caller = require("admin"),  # type: ignore[assignment]
) -> HTMLResponse:
    done = db.revoke(engine(request), name, actor=who.user.name)
    return _page(request, who, f"collector {name} revoked" if done else f"no collector {name}")
