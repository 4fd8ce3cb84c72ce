"""The REST API under ``/api/v1``: the same data as the pages, as JSON, every list also as CSV
(``?format=csv``).  Lists are paged (``page``, ``size`` up to 500) with ``total`` in the answer;
filters and sort are query parameters.  The OpenAPI document is ``/api/v1/openapi.json`` and the
interactive documentation ``/api/v1/docs``."""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal

from fastapi import APIRouter, Body, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy import Connection, Engine

from phaseout.app.planning import with_runbook
from phaseout.errors import PhaseoutError
from phaseout.export.tables import neutralise
from phaseout.policy.packs import available_packs
from phaseout.queries import dashboard as q
from phaseout.store.users import ROLES, add_user, generate_password, list_users
from phaseout.web import schemas as S
from phaseout.web.pages import acting
from phaseout.web.security import Caller, CallerDep, require

router = APIRouter(prefix="/api/v1", tags=["phaseout"], responses=S.COMMON)
#: ids and page numbers beyond this are refused (422) before any query
MAX_ID = 2**31 - 1
Format = Literal["json", "csv"]


def engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


def csv_response(rows: Iterable[dict[str, Any]], name: str) -> Response:
    """A CSV download, streamed row by row (a whole-estate export never sits in memory); cells
    that a spreadsheet would run as a formula are neutralised."""

    def lines() -> Iterator[bytes]:
        buffer = io.StringIO()
        writer: csv.DictWriter[str] | None = None
        for row in rows:
            flat = {k: v for k, v in row.items() if not isinstance(v, dict | list)}
            if writer is None:
                writer = csv.DictWriter(buffer, fieldnames=list(flat), extrasaction="ignore")
                writer.writeheader()
            writer.writerow({k: neutralise(v) for k, v in flat.items()})
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode("utf-8")

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


#: rows fetched per query while streaming an export
EXPORT_CHUNK = 10_000
#: whole-table exports running at once in this process; more get 429 rather than queueing
_exports = threading.BoundedSemaphore(2)


def export_rows(
    request: Request, fetch: Callable[[Connection, q.Page], tuple[int, list[dict[str, Any]]]]
) -> Iterator[dict[str, Any]]:
    """Every row of a list, a chunk at a time.  The first chunk is read before the answer starts,
    so a bad filter is still a clean 422; a third concurrent export is refused with 429."""
    if not _exports.acquire(blocking=False):
        raise HTTPException(429, "two exports are already running: try again when one has finished")
    conn = engine(request).connect()
    try:
        _total, first = fetch(conn, q.Page(1, EXPORT_CHUNK))
    except PhaseoutError as exc:
        conn.close()
        _exports.release()
        raise HTTPException(422, exc.message) from None
    except BaseException:
        conn.close()
        _exports.release()
        raise

    def rest() -> Iterator[dict[str, Any]]:
        try:
            rows, number = first, 1
            while True:
                yield from rows
                if len(rows) < EXPORT_CHUNK:
                    return
                number += 1
                _total, rows = fetch(conn, q.Page(number, EXPORT_CHUNK))
        finally:
            conn.close()
            _exports.release()

    return rest()


def paged(total: int, page: q.Page, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"total": total, "page": page.number, "size": page.size, "items": rows}


def _page(page: int, size: int) -> q.Page:
    try:
        return q.check_page(page, size)
    except PhaseoutError as exc:
        raise HTTPException(422, exc.message) from None


@router.get("/me", summary="Who you are", response_model=S.Me)
def me(who: CallerDep) -> dict[str, Any]:
    return {"name": who.user.name, "role": who.user.role, "via": who.via}


@router.get("/overview", summary="Devices by maker, brand, type and status; covered devices left; risk; deadlines")
def overview(request: Request, who: CallerDep) -> dict[str, Any]:
    with engine(request).connect() as conn:
        return q.overview(conn)


@router.get(
    "/sites",
    summary="Sites with device counts, risk, deadline and planned period",
    response_model=None,
    responses=S.csv_or(S.Paged[S.SiteRow]),
)
def sites(
    request: Request,
    who: CallerDep,
    q_: str | None = Query(None, alias="q", description="search in code and name"),
    region: str | None = None,
    sensitivity: Literal["sensitive", "standard"] | None = None,
    sort: str = Query("risk", description=", ".join(q.SITE_SORT)),
    order: Literal["asc", "desc"] = "desc",
    page: int = Query(1, ge=1, le=MAX_ID),
    size: int = Query(50, ge=1, le=q.MAX_PAGE),
    format: Format = "json",
) -> dict[str, Any] | Response:
    def fetch(conn: Connection, p: q.Page) -> tuple[int, list[dict[str, Any]]]:
        return q.list_sites(
            conn, q=q_, region=region, sensitivity=sensitivity, sort=sort, descending=order == "desc", page=p
        )

    if format == "csv":
        return csv_response(export_rows(request, fetch), "sites")
    p = _page(page, size)
    with engine(request).connect() as conn:
        try:
            total, rows = fetch(conn, p)
        except PhaseoutError as exc:
            raise HTTPException(422, exc.message) from None
    return paged(total, p, rows)


@router.get(
    "/sites/{code:path}", summary="One site: its devices, findings, planned visits and runbook", responses=S.NOT_FOUND
)
def site(request: Request, code: str, who: CallerDep) -> dict[str, Any]:
    with engine(request).connect() as conn:
        found = q.site_detail(conn, code)
        if found is not None:
            found["plan"] = with_runbook(found["plan"])
    if found is None:
        raise HTTPException(404, f"no site {code!r}")
    return found


@router.get(
    "/devices",
    summary="Devices, paged, sorted and filtered",
    response_model=None,
    responses=S.csv_or(S.Paged[S.DeviceRow]),
)
def devices(
    request: Request,
    who: CallerDep,
    vendor: str | None = Query(None, description="identified maker: hikvision, dahua, axis..."),
    brand: str | None = Query(None, description="label on the box"),
    type: str | None = Query(None, description="camera, recorder, ..."),
    site: str | None = None,
    status: str | None = Query(None, description="active, replaced, retired"),
    policy: str | None = Query(None, description="policy status: breach, due, unknown, applies"),
    q_: str | None = Query(None, alias="q", description="search in model, IP, MAC, serial and site"),
    sort: str = Query("id", description=", ".join(q.DEVICE_SORT)),
    order: Literal["asc", "desc"] = "asc",
    page: int = Query(1, ge=1, le=MAX_ID),
    size: int = Query(50, ge=1, le=q.MAX_PAGE),
    format: Format = "json",
) -> dict[str, Any] | Response:
    def fetch(conn: Connection, p: q.Page) -> tuple[int, list[dict[str, Any]]]:
        return q.list_devices(
            conn,
            vendor=vendor,
            brand=brand,
            device_type=type,
            site=site,
            status=status,
            policy_status=policy,
            q=q_,
            sort=sort,
            descending=order == "desc",
            page=p,
        )

    if format == "csv":
        return csv_response(export_rows(request, fetch), "devices")
    p = _page(page, size)
    with engine(request).connect() as conn:
        try:
            total, rows = fetch(conn, p)
        except PhaseoutError as exc:
            raise HTTPException(422, exc.message) from None
    return paged(total, p, rows)


@router.get(
    "/devices/{device_id}",
    summary="One device: fields, identification evidence, observations, assessment",
    responses=S.NOT_FOUND,
)
def device(request: Request, who: CallerDep, device_id: int = Path(..., ge=1, le=MAX_ID)) -> dict[str, Any]:
    with engine(request).connect() as conn:
        found = q.device_detail(conn, device_id)
    if found is None:
        raise HTTPException(404, f"no device {device_id}")
    return found


@router.get(
    "/findings",
    summary="Findings by policy, vulnerability (CVE, KEV) and exposure; devices_with: devices with at least one",
    response_model=None,
    responses=S.csv_or(dict[str, list[dict[str, Any]] | dict[str, int]]),
)
def findings(
    request: Request,
    who: CallerDep,
    kind: Literal["policy", "vulnerability", "exposure"] | None = None,
    format: Format = "json",
) -> dict[str, Any] | Response:
    with engine(request).connect() as conn:
        summary = q.findings_summary(conn)
    if format == "csv":
        rows = [
            {"kind": k, **r} for k, items in summary.items() if k != "devices_with" and kind in (None, k) for r in items
        ]
        return csv_response(rows, "findings")
    return {k: v for k, v in summary.items() if kind in (None, k)}


@router.get("/plans", summary="Stored plans, newest first", response_model=None, responses=S.csv_or(list[S.PlanRow]))
def plans(request: Request, who: CallerDep, format: Format = "json") -> list[dict[str, Any]] | Response:
    with engine(request).connect() as conn:
        rows = q.list_plans(conn)
    return csv_response(rows, "plans") if format == "csv" else rows


@router.get("/plans/{plan_id}", summary="One plan: plan.json fields, per period, burn-down", responses=S.NOT_FOUND)
def plan(request: Request, who: CallerDep, plan_id: int = Path(..., ge=1, le=MAX_ID)) -> dict[str, Any]:
    with engine(request).connect() as conn:
        found = q.plan_detail(conn, plan_id)
    if found is None:
        raise HTTPException(404, f"no plan {plan_id}")
    return found


@router.get(
    "/imports",
    summary="Imports and scans, newest first, with row and host errors",
    response_model=None,
    responses=S.csv_or(list[S.ImportRow]),
)
def imports(request: Request, who: CallerDep, format: Format = "json") -> list[dict[str, Any]] | Response:
    with engine(request).connect() as conn:
        rows = q.list_batches(conn)
    return csv_response(rows, "imports") if format == "csv" else rows


@router.get("/policies", summary="Policy packs installed and in use")
def policies(request: Request, who: CallerDep) -> dict[str, Any]:
    from phaseout.store.policies import packs_in_use

    with engine(request).connect() as conn:
        chosen = packs_in_use(conn)
    return {
        "in_use": chosen,
        "installed": [{"id": p.id, "name": p.name, "version": p.version} for p in available_packs().values()],
    }


@router.put("/policies", summary="Choose the policy packs in use (planner or admin)")
def set_policies(
    request: Request,
    packs: list[str] = Body(..., embed=True),
    who: Caller = require("planner"),  # type: ignore[assignment]
) -> dict[str, Any]:
    known = available_packs()
    unknown = [p for p in packs if p not in known]
    if unknown:
        raise HTTPException(422, f"unknown pack(s): {', '.join(unknown)}")
    redone = acting(request, who).use_packs(packs)
    return {
        "in_use": packs,
        "note": "findings recomputed" if redone else "run `phaseout assess` to compute the findings",
    }


@router.get("/users", summary="Users (admin)", response_model=list[S.UserRow])
def users(request: Request, who: Caller = require("admin")) -> list[dict[str, Any]]:  # type: ignore[assignment]
    return [
        {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in u.items()}
        for u in list_users(engine(request))
    ]


@router.post(
    "/users",
    summary="Add a user (admin); the generated password is returned once",
    status_code=201,
    response_model=S.NewUser,
)
def create_user(
    request: Request,
    name: str = Body(...),
    role: Literal["viewer", "planner", "admin"] = Body(...),
    who: Caller = require("admin"),  # type: ignore[assignment]
) -> JSONResponse:
    assert role in ROLES
    password = generate_password()
    try:
        user = add_user(engine(request), name, role, password, actor=who.user.name)
    except PhaseoutError as exc:
        raise HTTPException(422, exc.message) from None
    return JSONResponse({"name": user.name, "role": user.role, "password": password}, status_code=201)


@router.get(
    "/work-orders",
    summary="Work orders, with their status and device counts",
    response_model=None,
    responses=S.csv_or(list[S.WorkOrderRow]),
)
def work_orders_list(
    request: Request,
    who: CallerDep,
    status: str | None = None,
    site: str | None = None,
    format: Format = "json",
) -> list[dict[str, Any]] | Response:
    from phaseout.store.work import list_orders

    with engine(request).connect() as conn:
        rows = list_orders(conn, status=status, site=site)
    return csv_response(rows, "work-orders") if format == "csv" else rows


@router.get(
    "/work-orders/{order_id}", summary="One work order with its devices and verification", responses=S.NOT_FOUND
)
def work_order(request: Request, who: CallerDep, order_id: int = Path(..., ge=1, le=MAX_ID)) -> dict[str, Any]:
    from phaseout.store.work import show

    with engine(request).connect() as conn:
        try:
            return show(conn, order_id)
        except PhaseoutError as exc:
            raise HTTPException(404, exc.message) from None


@router.put(
    "/work-orders/{order_id}/status",
    summary="Move a work order on (planner or admin); never to verified",
    responses=S.NOT_FOUND,
)
def work_order_status(
    request: Request,
    order_id: int = Path(..., ge=1, le=MAX_ID),
    status: str = Body(..., embed=True),
    reason: str = Body("", embed=True),
    who: Caller = require("planner"),  # type: ignore[assignment]
) -> dict[str, Any]:

    try:
        if status == "unblock":
            return acting(request, who).unblock_work(order_id)
        return acting(request, who).set_work_status(order_id, status, reason)
    except PhaseoutError as exc:
        raise HTTPException(422, exc.message) from None


@router.get(
    "/audit",
    summary="The audit trail, newest first (append-only)",
    response_model=None,
    responses=S.csv_or(list[S.EventRow]),
)
def audit_trail(
    request: Request,
    who: CallerDep,
    entity: str | None = None,
    entity_id: str | None = None,
    page: int = Query(1, ge=1, le=MAX_ID),
    size: int = Query(100, ge=1, le=q.MAX_PAGE),
    format: Format = "json",
) -> list[dict[str, Any]] | Response:
    from phaseout.store.audit import list_events

    def fetch(conn: Connection, p: q.Page) -> tuple[int, list[dict[str, Any]]]:
        rows = list_events(conn, entity=entity, entity_id=entity_id, limit=p.size, offset=p.offset, with_chain=True)
        return len(rows), rows

    if format == "csv":
        return csv_response(
            (
                {**r, "before": json.dumps(r["before"]), "after": json.dumps(r["after"])}
                for r in export_rows(request, fetch)
            ),
            "audit",
        )
    with engine(request).connect() as conn:
        return fetch(conn, _page(page, size))[1]
