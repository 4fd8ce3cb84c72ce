"""Server-rendered pages.  Every value reaches the HTML through Jinja2's autoescaping; chart and
map data travel as JSON in ``<script type="application/json">`` blocks (escaped by ``tojson``)
and are drawn by ``static/app.js`` as text on canvas or as DOM text nodes, never as HTML."""

from __future__ import annotations

import datetime as dt
import math
import secrets
from pathlib import Path as FilePath
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.utils import htmlsafe_json_dumps
from sqlalchemy import Connection, Engine

from phaseout.app import Phaseout
from phaseout.app.planning import with_runbook
from phaseout.errors import PhaseoutError
from phaseout.estate.recorders import places_of, with_words
from phaseout.policy.packs import available_packs
from phaseout.queries import dashboard as q
from phaseout.queries import recorders
from phaseout.report.facts import SITE_SCALE, progress_chart
from phaseout.store import Store
from phaseout.store.policies import packs_in_use
from phaseout.store.users import ROLES, add_user, authenticate, create_token, end_session, list_tokens, list_users
from phaseout.store.users import start_session as new_session
from phaseout.web.assets import missing_assets
from phaseout.web.security import (
    COOKIE,
    LOGIN_CSRF_COOKIE,
    Caller,
    CallerDep,
    limiter,
    login_csrf_ok,
    request_address,
    require,
)

templates = Jinja2Templates(directory=str(FilePath(__file__).with_name("templates")))
router = APIRouter(include_in_schema=False)
#: ids and page numbers beyond this are refused (422) before any query: both databases store 32/64-bit
MAX_ID = 2**31 - 1


def engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


def acting(request: Request, who: Caller) -> Phaseout:
    """The application acting for the signed-in user (every write goes through it)."""
    return Phaseout(Store(engine(request)), actor=who.user.name)


def render(request: Request, name: str, who: Caller | None, status: int = 200, **context: Any) -> HTMLResponse:
    context.update(
        user=who.user if who else None,
        csrf=who.csrf if who else None,
        missing_assets=missing_assets(),
        path=request.url.path,
    )
    return templates.TemplateResponse(request, name, context, status_code=status)


@pass_context
def query_with(context: Any, **changes: Any) -> str:
    """The current query string with some parameters changed (sort links, pagers)."""
    request: Request = context["request"]
    params = dict(request.query_params)
    params.update({k: str(v) for k, v in changes.items() if v is not None})
    return "?" + urlencode(params)


templates.env.globals["query_with"] = query_with


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return _login_page(request, _safe_next(next))


def _login_page(request: Request, next_: str, status: int = 200, error: str | None = None) -> HTMLResponse:
    """The form with a fresh login CSRF token, also set as a cookie (double submit)."""
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", None, status, next=next_, error=error, login_csrf=token)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.app.state.secure_cookies or request.url.scheme == "https",
        max_age=3600,
        path="/login",
    )
    return response


def _safe_next(target: str) -> str:
    """Only paths on this site: a login link cannot send the user elsewhere."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    name: str = Form(..., max_length=200),
    password: str = Form(..., max_length=1024),
    next: str = Form("/", max_length=2000),
    csrf: str = Form("", max_length=200),
) -> Response:
    if not login_csrf_ok(request, csrf):
        return _login_page(request, _safe_next(next), 403, "the login form expired: try again")
    address = request_address(request)
    wait = limiter.retry_after(engine(request), address, name)
    if wait:
        response = _login_page(request, _safe_next(next), 429, f"too many failed logins: wait {wait} s")
        response.headers["Retry-After"] = str(wait)
        return response
    if not limiter.slots.acquire(timeout=0.5):  # other logins are being checked: no queue of argon2 runs
        response = _login_page(request, _safe_next(next), 429, "the server is busy checking logins: try again")
        response.headers["Retry-After"] = "2"
        return response
    try:
        user = authenticate(engine(request), name, password)
    finally:
        limiter.slots.release()
    if user is None:
        limiter.failed(engine(request), address, name)
        return _login_page(request, _safe_next(next), 401, "wrong name or password")
    limiter.succeeded(engine(request), user)
    token, _csrf = new_session(engine(request), user)
    redirect = RedirectResponse(_safe_next(next), status_code=303)
    redirect.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.app.state.secure_cookies or request.url.scheme == "https",
        max_age=12 * 3600,
        path="/",
    )
    redirect.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return redirect


@router.post("/logout")
def logout(request: Request, who: CallerDep) -> Response:
    cookie = request.cookies.get(COOKIE)
    if cookie:
        end_session(engine(request), cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _progress(conn: Connection, makers: list[str], today: dt.date, plan_id: int | None = None) -> dict[str, Any]:
    """The plan-against-actual chart, cached against the store's generation: it reads every
    covered device and the stored plan (570,000 rows and a 30,000-site plan at 1,000,000 devices)."""
    name = f"progress:{plan_id}:{today.isoformat()}:{','.join(makers)}"
    return q.cached(conn, name, lambda: progress_chart(conn, makers, today, plan_id))


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request, who: CallerDep) -> HTMLResponse:
    with engine(request).connect() as conn:
        data = q.overview(conn)
        latest = q.plan_detail(conn)
        progress = _progress(conn, data["covered_makers"], dt.date.today())
    charts = {
        "vendor": {
            "type": "doughnut",
            "labels": [r["key"] for r in data["by_vendor"]],
            "values": [r["devices"] for r in data["by_vendor"]],
        },
        "brand": {
            "type": "bar",
            "labels": [r["key"] for r in data["by_brand"]],
            "values": [r["devices"] for r in data["by_brand"]],
        },
        "type": {
            "type": "bar",
            "labels": [r["key"] for r in data["by_type"]],
            "values": [r["devices"] for r in data["by_type"]],
        },
        "remaining": {
            "type": "bar",
            "labels": [r["sensitivity"] for r in data["covered_remaining"]],
            "values": [r["devices"] for r in data["covered_remaining"]],
        },
        "risk": {
            "type": "bar",
            "labels": [r["band"] for r in data["risk_bands"]],
            "values": [r["devices"] for r in data["risk_bands"]],
        },
    }
    if progress["chart"]:
        charts["progress"] = progress["chart"]
    return render(request, "overview.html", who, data=data, charts=charts, plan=latest, progress=progress)


def _pages(total: int, page: q.Page) -> int:
    return max(1, math.ceil(total / page.size))


def _site_page_map(drawn: dict[str, Any]) -> dict[str, Any]:
    """The map's points with their HTML-safe JSON, encoded once per generation: at 30,000 sites
    ``tojson`` took 133 ms of every ``/sites`` request."""
    return {**drawn, "points_json": htmlsafe_json_dumps(drawn["points"])}


@router.get("/sites", response_class=HTMLResponse)
def sites_page(
    request: Request,
    who: CallerDep,
    region: str | None = None,
    sensitivity: str | None = None,
    sort: str = "risk",
    order: str = "desc",
    page: int = Query(1, ge=1, le=MAX_ID),
) -> HTMLResponse:
    q_ = request.query_params.get("q") or None  # "q" would shadow the queries module
    p = q.Page(max(page, 1), 50)
    with engine(request).connect() as conn:
        try:
            total, rows = q.list_sites(
                conn,
                q=q_,
                region=region or None,
                sensitivity=sensitivity or None,
                sort=sort,
                descending=order != "asc",
                page=p,
            )
        except PhaseoutError as exc:
            raise HTTPException(422, exc.message) from None
        drawn = q.cached(conn, "site-page-map", lambda: _site_page_map(q.site_map(conn)), share=False)
    points, points_json, regions = drawn["points"], drawn["points_json"], drawn["regions"]
    return render(
        request,
        "sites.html",
        who,
        rows=rows,
        total=total,
        page=p,
        pages=_pages(total, p),
        points=points,
        points_json=points_json,
        scale=[{"min": low, "label": label, "colour": colour} for low, label, colour in SITE_SCALE],
        regions=regions,
        filters={"q": q_ or "", "region": region or "", "sensitivity": sensitivity or ""},
        sort=sort,
        order=order,
        columns=q.SITE_SORT,
    )


@router.get("/sites/{code:path}", response_class=HTMLResponse)
def site_page(request: Request, code: str, who: CallerDep) -> HTMLResponse:
    with engine(request).connect() as conn:
        found = q.site_detail(conn, code)
        if found is not None:
            found["plan"] = with_runbook(found["plan"])
            tree = recorders.site_tree(conn, code)
            found["tree"] = {**tree, "recorders": [with_words(r) for r in tree["recorders"]]}
    if found is None:
        raise HTTPException(404, f"no site {code!r}")
    return render(request, "site.html", who, **found)


@router.get("/devices", response_class=HTMLResponse)
def devices_page(
    request: Request,
    who: CallerDep,
    vendor: str | None = None,
    brand: str | None = None,
    type: str | None = None,
    site: str | None = None,
    status: str | None = None,
    policy: str | None = None,
    sort: str = "id",
    order: str = "asc",
    page: int = Query(1, ge=1, le=MAX_ID),
) -> HTMLResponse:
    q_ = request.query_params.get("q") or None
    p = q.Page(max(page, 1), 50)
    filters = {
        "vendor": vendor or "",
        "brand": brand or "",
        "type": type or "",
        "site": site or "",
        "status": status or "",
        "policy": policy or "",
        "q": q_ or "",
    }
    with engine(request).connect() as conn:
        try:
            total, rows = q.list_devices(
                conn,
                vendor=vendor or None,
                brand=brand or None,
                device_type=type or None,
                site=site or None,
                status=status or None,
                policy_status=policy or None,
                q=q_,
                sort=sort,
                descending=order == "desc",
                page=p,
            )
        except PhaseoutError as exc:
            raise HTTPException(422, exc.message) from None
        vendors = q.vendors_in_use(conn)
    context: dict[str, Any] = {
        "rows": rows,
        "total": total,
        "page": p,
        "pages": _pages(total, p),
        "filters": filters,
        "sort": sort,
        "order": order,
        "columns": list(q.DEVICE_SORT),
        "vendors": vendors,
    }
    name = "_devices_table.html" if request.headers.get("hx-request") else "devices.html"
    return render(request, name, who, **context)


@router.get("/devices/{device_id}", response_class=HTMLResponse)
def device_page(request: Request, who: CallerDep, device_id: int = Path(ge=1, le=MAX_ID)) -> HTMLResponse:
    with engine(request).connect() as conn:
        found = q.device_detail(conn, device_id)
        if found is not None:
            found["recorder"], found["behind"] = _tree_of(conn, device_id)
    if found is None:
        raise HTTPException(404, f"no device {device_id}")
    return render(request, "device.html", who, **found)


def _tree_of(conn: Any, device_id: int) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(the recorder this device is behind, with its channel; this device as a recorder with the
    devices behind it): either may be None."""
    me = recorders.devices_by_id(conn, [device_id]).get(device_id)
    parent = None
    if me is not None and me["parent_id"] not in (None, device_id):  # a device is never behind itself
        sub = recorders.recorder_subtree(conn, me["parent_id"])
        if sub is not None:
            node = with_words(sub["recorders"][0])
            mine: dict[str, Any] = next((c for c in node["children"] if c["id"] == device_id), {})
            parent = {"id": node["id"], "title": node["title"], "ch": mine.get("ch"), "state": mine.get("state_words")}
    sub = recorders.recorder_subtree(conn, device_id)
    behind = with_words(sub["recorders"][0]) | {"cut": sub["cut"]} if sub and sub["recorders"][0]["children"] else None
    return parent, behind


@router.get("/findings", response_class=HTMLResponse)
def findings_page(request: Request, who: CallerDep) -> HTMLResponse:
    with engine(request).connect() as conn:
        summary = q.findings_summary(conn)
    per_ref: dict[str, int] = {}  # one bar per CVE, whatever the statuses
    for r in summary["vulnerability"]:
        per_ref[r["ref"]] = per_ref.get(r["ref"], 0) + r["devices"]
    top = sorted(per_ref.items(), key=lambda kv: -kv[1])[:15]
    charts = {"cves": {"type": "bar", "labels": [k for k, _n in top], "values": [n for _k, n in top]}}
    return render(request, "findings.html", who, summary=summary, charts=charts)


@router.get("/plan", response_class=HTMLResponse)
def plan_page(request: Request, who: CallerDep, id: int | None = Query(None, ge=1, le=MAX_ID)) -> HTMLResponse:
    with engine(request).connect() as conn:
        plans = q.list_plans(conn)
        current = q.plan_detail(conn, id)
        latest_by_name: dict[str, dict[str, Any]] = {}
        for p in plans:
            latest_by_name.setdefault(p["name"], p)
        scenarios = [q.plan_detail(conn, p["id"]) for p in latest_by_name.values()]
    charts: dict[str, Any] = {}
    if current is not None:
        periods = current["result"]["periods"]
        labels = [p["id"] for p in periods]
        charts["spend"] = {
            "type": "bar",
            "labels": labels,
            "series": [
                {"label": "spend", "values": [p["spend"] for p in periods]},
                {"label": "budget", "values": [p["budget"] for p in periods], "line": True},
            ],
        }
        charts["crew"] = {
            "type": "bar",
            "labels": labels,
            "series": [
                {"label": "crew hours used", "values": [sum(p["hours_by_region"].values()) for p in periods]},
                {
                    "label": "crew hours available",
                    "values": [sum(p["crew_hours_by_region"].values()) for p in periods],
                    "line": True,
                },
            ],
        }
        with engine(request).connect() as conn:
            charts["burn"] = _progress(conn, q._covered_makers(conn), dt.date.today(), current["id"])["chart"]
    return render(
        request, "plan.html", who, plans=plans, current=current, scenarios=[s for s in scenarios if s], charts=charts
    )


@router.get("/imports", response_class=HTMLResponse)
def imports_page(request: Request, who: CallerDep) -> HTMLResponse:
    with engine(request).connect() as conn:
        batches = q.list_batches(conn)
    return render(request, "imports.html", who, batches=batches)


#: the only notices ``/settings?done=`` shows: a link cannot put its own words on the page
DONE = {"packs": "packs saved: run `phaseout assess` to recompute the findings"}


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, who: CallerDep, done: str | None = None) -> HTMLResponse:
    return _settings(request, who, DONE.get(done or ""))


def _settings(request: Request, who: Caller, message: str | None = None, secret: str | None = None) -> HTMLResponse:
    """The page; ``secret`` (a new password or token, shown once) only ever comes from the
    handler that made it, never from the URL."""
    with engine(request).connect() as conn:
        chosen = packs_in_use(conn)
    admin = who.user.can("admin")
    return render(
        request,
        "settings.html",
        who,
        packs=list(available_packs().values()),
        chosen=chosen,
        users=list_users(engine(request)) if admin else [],
        tokens=list_tokens(engine(request)) if admin else [],
        roles=ROLES,
        message=message,
        secret=secret,
    )


@router.post("/settings/policies")
async def settings_policies(request: Request, who: Caller = require("planner")) -> Response:  # type: ignore[assignment]
    form = await request.form()
    chosen = [str(v) for v in form.getlist("pack")]
    known = available_packs()
    acting(request, who).use_packs([p for p in chosen if p in known])  # re-assesses when assessed before
    return RedirectResponse("/settings?done=packs", status_code=303)


@router.post("/settings/users", response_class=HTMLResponse)
def settings_add_user(
    request: Request,
    name: str = Form(..., max_length=64),
    role: str = Form(..., max_length=16),
    who: Caller = require("admin"),  # type: ignore[assignment]
) -> HTMLResponse:
    from phaseout.store.users import generate_password

    password = generate_password()
    try:
        add_user(engine(request), name, role, password, actor=who.user.name)
    except PhaseoutError as exc:
        return _settings(request, who, message=exc.message)
    return _settings(request, who, message=f"user {name} added; give them this password once:", secret=password)


USER_ACTIONS = ("disable", "enable", "remove", "reset-password", "logout", "revoke-tokens", "role")


@router.post("/settings/users/{name}/{action}", response_class=HTMLResponse)
def settings_user_action(
    request: Request,
    name: str = Path(..., max_length=64),
    action: str = Path(..., max_length=16),
    role: str = Form("", max_length=16),
    who: Caller = require("admin"),  # type: ignore[assignment]
) -> HTMLResponse:
    """The user lifecycle for admins: each action is audited under the admin's name."""
    from phaseout.store import users as u

    actor, eng = who.user.name, engine(request)
    try:
        if action in ("disable", "enable"):
            ended = u.set_disabled(eng, name, action == "disable", actor=actor)
            note = f"user {name} {action}d" + (f"; {ended} session(s) ended" if ended else "")
        elif action == "remove":
            u.remove_user(eng, name, actor=actor)
            note = f"user {name} removed, with their sessions and tokens"
        elif action == "reset-password":
            password = u.generate_password()
            ended = u.reset_password(eng, name, password, actor=actor)
            return _settings(
                request,
                who,
                message=f"new password for {name} ({ended} session(s) ended), shown once:",
                secret=password,
            )
        elif action == "logout":
            note = f"{u.end_sessions(eng, name, actor=actor)} session(s) of {name} ended"
        elif action == "revoke-tokens":
            note = f"{u.revoke_user_tokens(eng, name, actor=actor)} token(s) of {name} revoked"
        elif action == "role":
            u.set_role(eng, name, role, actor=actor)
            note = f"{name} is now {role}"
        else:
            raise HTTPException(404, f"no user action {action!r}")
    except PhaseoutError as exc:
        note = exc.message + (f" ({exc.hint})" if exc.hint else "")
    return _settings(request, who, message=note)


@router.post("/settings/tokens", response_class=HTMLResponse)
def settings_add_token(
    request: Request,
    user: str = Form(..., max_length=64),
    label: str = Form(..., max_length=200),
    days: int = Form(90, ge=0, le=3650),
    who: Caller = require("admin"),  # type: ignore[assignment]
) -> HTMLResponse:
    import datetime as dt

    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=days) if days else None
    try:
        token = create_token(engine(request), user, label, expires_at=expires, actor=who.user.name)
    except PhaseoutError as exc:
        return _settings(request, who, message=exc.message)
    until = f", valid until {expires:%Y-%m-%d}" if expires else ", never expires"
    return _settings(request, who, message=f"token for {user}{until} (shown once):", secret=token)


@router.post("/settings/tokens/{token_id}/revoke", response_class=HTMLResponse)
def settings_revoke_token(
    request: Request,
    token_id: int = Path(..., ge=1, le=MAX_ID),
    who: Caller = require("admin"),  # type: ignore[assignment]
) -> HTMLResponse:
    from phaseout.store.users import revoke_token

    done = revoke_token(engine(request), token_id, actor=who.user.name)
    return _settings(request, who, message=f"token {token_id} revoked" if done else f"no token {token_id}")


@router.get("/work", response_class=HTMLResponse)
def work_page(request: Request, who: CallerDep, status: str | None = None, site: str | None = None) -> HTMLResponse:
    from collections import Counter

    from phaseout.store.work import list_orders

    with engine(request).connect() as conn:
        every = list_orders(conn)
    counts = Counter(o["status"] for o in every)
    rows = [o for o in every if (not status or o["status"] == status) and (not site or o["site"] == site)]
    return render(
        request,
        "work.html",
        who,
        rows=rows[:1000],
        total=len(rows),
        counts=counts,
        filters={"status": status or "", "site": site or ""},
    )


@router.get("/work/{order_id}", response_class=HTMLResponse)
def work_order_page(
    request: Request, who: CallerDep, order_id: int = Path(ge=1, le=MAX_ID), message: str | None = None
) -> HTMLResponse:
    from phaseout.store.audit import list_events
    from phaseout.store.work import show
    from phaseout.track.workflow import NEXT

    with engine(request).connect() as conn:
        try:
            order = show(conn, order_id)
        except PhaseoutError as exc:
            raise HTTPException(404, exc.message) from None
        history = list_events(conn, entity="work-order", entity_id=str(order_id))
        ids = [int(d["device_id"]) for d in order["devices"]]
        where, recorder_lines = places_of(recorders.places(conn, ids), ids, "in this order")
    choices = ["unblock"] if order["status"] == "blocked" else list(NEXT[order["status"]])
    return render(
        request,
        "work_order.html",
        who,
        order=order,
        history=history,
        choices=choices,
        message=message,
        where=where,
        recorder_lines=recorder_lines,
    )


@router.post("/work/{order_id}/status")
def work_order_set(
    request: Request,
    order_id: int = Path(..., ge=1, le=MAX_ID),
    status: str = Form(...),
    reason: str = Form(""),
    who: Caller = require("planner"),  # type: ignore[assignment]
) -> Response:
    from urllib.parse import quote

    try:
        if status == "unblock":
            acting(request, who).unblock_work(order_id)
        else:
            acting(request, who).set_work_status(order_id, status, reason)
        note = f"now {status}"
    except PhaseoutError as exc:
        note = exc.message + (f" ({exc.hint})" if exc.hint else "")
    return RedirectResponse(f"/work/{order_id}?message={quote(note)}", status_code=303)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request, who: CallerDep, entity: str | None = None, page: int = Query(1, ge=1, le=MAX_ID)
) -> HTMLResponse:
    from phaseout.store.audit import list_events

    p = q.Page(max(page, 1), 100)
    with engine(request).connect() as conn:
        rows = list_events(conn, entity=entity or None, limit=p.size + 1, offset=p.offset)
    return render(request, "audit.html", who, rows=rows[: p.size], more=len(rows) > p.size, page=p, entity=entity or "")
