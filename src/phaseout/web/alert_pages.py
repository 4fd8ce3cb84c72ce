"""The alerts page, for admins only: the alerts (destination and rules), add and remove one,
send a test, deliver what is due, and the outbox.  Writes go through :mod:`phaseout.app.alerts`
under the admin's name (audited); forms carry the session's CSRF token like every other page.

A ``file`` destination is not offered here: it would let a dashboard login append to any file
the server may write.  It stays a command-line choice (``phaseout alert add NAME --file``)."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from phaseout.alert.destinations import DestinationError, describe, parse_syslog_target
from phaseout.alert.rules import RULES
from phaseout.app import alerts as use
from phaseout.errors import PhaseoutError
from phaseout.store.alerts import list_alerts, list_outbox, outbox_counts, remove_alert
from phaseout.store.settings import get_setting
from phaseout.web.pages import acting, engine, render
from phaseout.web.security import Caller, require

router = APIRouter(include_in_schema=False)
WEB_KINDS = ("webhook", "email", "syslog")


def _page(request: Request, who: Caller, message: str | None = None, secret: str | None = None) -> HTMLResponse:
    with engine(request).connect() as conn:
        alerts = list_alerts(conn)
        outbox = list_outbox(conn, limit=100)
        counts = outbox_counts(conn)
        allow = get_setting(conn, use.ALLOW_SETTING) or ""
    for a in alerts:
        a["destination"] = describe(a["kind"], a["config"])
    return render(
        request,
        "alerts.html",
        who,
        alerts=alerts,
        outbox=outbox,
        counts=counts,
        rules=list(RULES.values()),
        kinds=WEB_KINDS,
        allow=allow,
        message=message,
        secret=secret,
    )


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, who: Caller = require("admin")) -> HTMLResponse:  # type: ignore[assignment]
    return _page(request, who)


@router.post("/alerts", response_class=HTMLResponse)
async def alerts_add(request: Request, who: Caller = require("admin")) -> HTMLResponse:  # type: ignore[assignment]
    form = await request.form()

    def field(name: str, limit: int = 2000) -> str:
        value = form.get(name)
        return value.strip()[:limit] if isinstance(value, str) else ""

    name, kind, target = field("name", 64), field("kind", 16), field("target")
    chosen = [str(r) for r in form.getlist("rule") if str(r) in RULES] or list(RULES)
    zones = [str(z) for z in form.getlist("zone")]
    rules: list[dict[str, object]] = [
        {"rule": r, **({"zones": zones} if r == "device-exposed" and zones else {})} for r in chosen
    ]
    config: dict[str, object]
    try:
        if kind == "webhook":
            config = {"url": target}
        elif kind == "email":
            relay = field("smtp", 300)
            host, _, port = relay.rpartition(":") if ":" in relay else (relay, "", "")
            config = {
                "to": target,
                "sender": field("sender", 300),
                "host": host,
                "port": port or 587,
                "user": field("smtp_user", 200) or None,
                "password_env": field("smtp_password_env", 128) or None,
            }
        elif kind == "syslog":
            config = parse_syslog_target(target) | {"facility": field("facility", 16) or "local0"}
        else:
            return _page(request, who, f"destination {kind[:16]!r}: one of {', '.join(WEB_KINDS)} here")
        _id, shown = acting(request, who).add_alert(name, kind, config, rules)
    except (PhaseoutError, DestinationError) as exc:
        hint = getattr(exc, "hint", None)
        return _page(request, who, str(exc) + (f" ({hint})" if hint else ""))
    if shown:
        return _page(request, who, f"alert {name} added; give the receiver this webhook secret (shown once):", shown)
    return _page(request, who, f"alert {name} added")


@router.post("/alerts/{name}/test", response_class=HTMLResponse)
def alerts_test(
    request: Request,
    name: str = Path(..., max_length=64),
    who: Caller = require("admin"),  # type: ignore[assignment]
) -> HTMLResponse:
    try:
        ok, detail = acting(request, who).test_alert(name)
    except PhaseoutError as exc:
        return _page(request, who, exc.message)
    return _page(request, who, f"test alert {'delivered' if ok else 'NOT delivered'} to {name}: {detail}")


@router.post("/alerts/{name}/remove", response_class=HTMLResponse)
def alerts_remove(
    request: Request,
    name: str = Path(..., max_length=64),
    who: Caller = require("admin"),  # type: ignore[assignment]
) -> HTMLResponse:
    try:
        done = remove_alert(engine(request), name, who.user.name)
    except PhaseoutError as exc:
        return _page(request, who, exc.message)
    dropped = f"; {done['undelivered']} undelivered message(s) dropped" if done["undelivered"] else ""
    return _page(request, who, f"alert {name} removed{dropped}")


@router.post("/alerts/deliver", response_class=HTMLResponse)
def alerts_deliver(request: Request, who: Caller = require("admin")) -> HTMLResponse:  # type: ignore[assignment]
    app = acting(request, who)
    found = app.evaluate_alerts()
    report = app.deliver_alerts(limit=50, timeout=5.0)
    return _page(
        request,
        who,
        f"{found.occurrences} new occurrence(s) queued; delivered {report.delivered}, "
        f"retrying later {report.retrying}, failed {report.failed}",
    )
