"""``/api/collector/...``: what site collectors call (enrol, claim a job, upload results).

A collector authenticates with its own credential (``Authorization: Bearer pc_...``), never a
user's token; ``RequestGuard`` checks it from the headers before any body is read (the enrol call
alone is open: its one-time code is in the small body).  Every call reports the collector's
version and queue length (``X-Phaseout-Version``, ``X-Phaseout-Queue``), recorded with the
server's clock as its last contact.  Uploads have their own size cap
(``COLLECTOR_BODY_LIMIT``); a malformed or refused upload is answered 400 / 422 / 403 with the
reason, and nothing of it is merged.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from phaseout import __version__
from phaseout.app import Phaseout
from phaseout.app import collectors as use
from phaseout.discover.collector.wire import UploadError
from phaseout.errors import UsageError
from phaseout.identify import Identifier
from phaseout.identify.facts_wire import facts_version
from phaseout.store import Store
from phaseout.store import collectors as db
from phaseout.web.security import limiter, request_address

PREFIX = "/api/collector"
ENROL_PATH = f"{PREFIX}/enrol"
#: one job's results (4,096 hosts with every answer kept is ~20 MB)
COLLECTOR_BODY_LIMIT = 64 * 1024 * 1024
ENROL_BODY_LIMIT = 8 * 1024
MAX_HEALTH = 4096
#: the name a refused enrolment is counted and audited under (``login.fail``); it has a space,
#: so no user can be called so
ENROL_LOGIN_NAME = "collector enrolment"

router = APIRouter(prefix=PREFIX, tags=["collector"])


def _app(request: Request) -> Phaseout:
    app = Phaseout(Store(request.app.state.engine), actor="collector-api")
    app.__dict__["identifier"] = _identifier()  # (Phaseout.identifier is a cached property)
    return app


@cache
def _identifier() -> Identifier:
    """One identifier for every upload this process merges: the knowledge is loaded once per
    process anyway, and its caches (models decoded, MAC blocks and names looked up) then serve
    every upload instead of starting cold for each."""
    return Identifier()


def collector_of(request: Request) -> dict[str, Any] | None:
    """The collector named by the request's bearer credential (called by the guard, in a thread)."""
    state = request.scope.setdefault("state", {})
    if "phaseout_collector" in state:
        found: dict[str, Any] | None = state["phaseout_collector"]
        return found
    header = request.headers.get("authorization", "")
    found = None
    if header.lower().startswith("bearer "):
        found = use.authenticate(_app(request), header[7:].strip())
    state["phaseout_collector"] = found
    return found


def _contact(request: Request, collector: dict[str, Any], health: dict[str, Any] | None = None) -> None:
    try:
        queue = max(0, min(int(request.headers.get("x-phaseout-queue", "0")), 10**9))
    except ValueError:
        queue = 0
    db.touch(
        request.app.state.engine, collector["id"], request.headers.get("x-phaseout-version", "?"), queue, health or {}
    )


def current(request: Request) -> dict[str, Any]:
    found = collector_of(request)
    if found is None:
        raise HTTPException(401, "unknown or revoked collector credential", headers={"WWW-Authenticate": "Bearer"})
    return found


CollectorDep = Annotated[dict[str, Any], Depends(current)]


async def _json(request: Request) -> Any:
    body = await request.body()
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise HTTPException(400, f"the body is not JSON ({str(exc)[:120]})") from None


@router.post("/enrol")
async def enrol(request: Request) -> JSONResponse:
    """Open to anyone holding a code, so refusals count as failed logins of the client's
    address (``security.limiter``: audited, five in five minutes lock the address for
    enrolments and logins alike), which also bounds what a guesser can write to the audit trail."""
    data = await _json(request)
    if not isinstance(data, dict) or not isinstance(data.get("code"), str) or len(data["code"]) > 200:
        raise HTTPException(400, 'send {"code": "pe_...", "version": "..."}')
    version = str(data.get("version", "?"))[:64]
    engine, address = request.app.state.engine, request_address(request)
    wait = await run_in_threadpool(limiter.retry_after, engine, address, ENROL_LOGIN_NAME)
    if wait:
        raise HTTPException(429, f"too many refused enrolments: wait {wait} s", headers={"Retry-After": str(wait)})
    try:
        token, found = await run_in_threadpool(use.enrol, _app(request), data["code"], version)
    except use.Refused as exc:
        await run_in_threadpool(limiter.failed, engine, address, ENROL_LOGIN_NAME)
        raise HTTPException(403, exc.message + (f" ({exc.hint})" if exc.hint else "")) from None
    return JSONResponse(
        {
            "name": found["name"],
            "token": token,
            "sites": found["sites"],
            "scopes": found["scopes"],
            "server_version": __version__,
        }
    )


@router.post("/claim")
async def claim(request: Request, collector: CollectorDep) -> JSONResponse:
    data = await _json(request)
    health = data.get("health") if isinstance(data, dict) else None
    try:
        if not isinstance(health, dict) or len(orjson.dumps(health)) > MAX_HEALTH:
            health = {}
    except orjson.JSONEncodeError:  # nested deeper than orjson writes (it reads deeper): dropped
        health = {}
    await run_in_threadpool(_contact, request, collector, health)
    job = await run_in_threadpool(use.claim_for, _app(request), collector)
    return JSONResponse(
        {
            "job": job,
            "scopes": collector["scopes"],
            "server_version": __version__,
            # a collector whose parsers are these sends each answer's facts with its upload
            "facts_version": facts_version(),
        }
    )


#: collectors whose upload this process is checking or merging now (one at a time each: a 64 MiB
#: upload grows several times over when parsed, so one credential sending many at once could
#: exhaust the server's memory; its own collector sends them one after another anyway)
_uploading: set[int] = set()


@router.post("/uploads")
async def upload(request: Request, collector: CollectorDep) -> JSONResponse:
    if collector["id"] in _uploading:
        raise HTTPException(429, "an upload of this collector is being merged: send again later", {"Retry-After": "5"})
    _uploading.add(collector["id"])  # the event loop is one thread: no await between test and add
    try:
        body = await request.body()
        await run_in_threadpool(_contact, request, collector)
        try:
            answer = await run_in_threadpool(use.ingest, _app(request), collector, body)
        except UploadError as exc:
            status = 400 if "not JSON" in exc.message or "JSON object" in exc.message else 422
            raise HTTPException(status, exc.message) from None
        except use.Refused as exc:
            raise HTTPException(403, exc.message) from None
    finally:
        _uploading.discard(collector["id"])
    return JSONResponse(answer)


@router.post("/jobs/{job_id}/{outcome}")
async def job_outcome(request: Request, job_id: int, outcome: str, collector: CollectorDep) -> JSONResponse:
    """The collector refused a job locally (``refuse``) or could not run it (``fail``)."""
    if outcome not in ("refuse", "fail") or not 0 < job_id < 2**31:
        raise HTTPException(404, "no such call")
    data = await _json(request)
    reason = str(data.get("reason", "")) if isinstance(data, dict) else ""
    await run_in_threadpool(_contact, request, collector)
    call = use.refuse_job if outcome == "refuse" else use.fail_job
    try:
        await run_in_threadpool(call, _app(request), collector, job_id, reason)
    except UsageError as exc:
        raise HTTPException(403, exc.message) from None
    return JSONResponse({"job": job_id, "status": "refused" if outcome == "refuse" else "failed"})
