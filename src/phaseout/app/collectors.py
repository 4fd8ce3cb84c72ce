"""Saved scans, jobs and site collectors: the use cases behind ``phaseout scans``,
``phaseout collector`` and ``/api/collector``.

The rules that matter:

- a definition assigned to a collector must lie inside that collector's scopes (refused when it
  is saved), and a job outside them is refused again when it would be handed out (``claim``);
- an upload is checked whole before anything is stored (``discover.collector.wire``): malformed,
  outside the scopes or the job's targets, for another collector's job -- refused with a clear
  error and an audit event, nothing merged;
- an accepted upload is merged through :meth:`Phaseout.record_results` (the path of a local
  scan), with its receipt and the job's end written in the same transaction, so an upload sent
  twice is merged once;
- the server's clock is the only clock: the scan's times, the receipt and the last contact are
  the server's.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from phaseout.app import gc_pause
from phaseout.discover.collector import wire
from phaseout.discover.collector.schedule import is_due, parse_schedule
from phaseout.discover.scope import in_scope, parse_scope
from phaseout.errors import UsageError
from phaseout.store import collectors as db
from phaseout.store.audit import record_event
from phaseout.store.engine import writing

if TYPE_CHECKING:
    from phaseout.app import Phaseout
    from phaseout.app.scans import ScanOutcome
    from phaseout.discover.scanner import ScanSettings
    from phaseout.store.scans import ScanRecord

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
CODE_PREFIX = "pe_"
TOKEN_PREFIX = "pc_"
VANTAGES = ("core", "camera", "guest", "internet")


class Refused(UsageError):
    """A collector's request refused on the server (outside its scopes, another's job...)."""


def _name(name: str, what: str) -> str:
    if not NAME.fullmatch(name):
        raise UsageError(f"{what} name {name!r}: letters, digits, . _ - (at most 64)", hint="e.g. store-0012")
    return name


# --- collectors ----------------------------------------------------------------------------------


def new_code(app: Phaseout, name: str, sites: list[str], scopes: list[str], hours: float = 24.0) -> str:
    """A one-time enrolment code for collector ``name`` (shown once; only its digest is kept)."""
    _name(name, "collector")
    networks = parse_scope(scopes)  # a collector's scope obeys the scan's rules (no /0 by typo)
    if not 0 < hours <= 24 * 30:
        raise UsageError("a code lives between a minute and 30 days", hint="--hours 24")
    code = CODE_PREFIX + secrets.token_urlsafe(18)
    expires = db.now_utc() + dt.timedelta(hours=hours)
    db.create_collector(
        app.engine, name, sorted(set(sites)), [str(n) for n in networks], db.digest(code), expires, app.actor
    )
    return code


def enrol(app: Phaseout, code: str, version: str) -> tuple[str, dict[str, Any]]:
    """Swap a code for the collector's credential: (token, collector)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    found = db.enrol(app.engine, db.digest(code.strip()), db.digest(token), version, app.actor)
    if found is None:
        raise Refused("the enrolment code is unknown, used or expired", hint="ask an admin for a new code")
    return token, found


def authenticate(app: Phaseout, token: str) -> dict[str, Any] | None:
    """The enrolled, unrevoked collector holding ``token``; a revoked one is recorded and refused."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    found = db.by_token(app.engine, db.digest(token))
    if found is None:
        return None
    if found["revoked"]:
        refused = _revoked_uses.note((str(app.engine.url), int(found["id"])))
        if refused:  # at most one event a minute per collector: a stolen credential on a loop
            # must not write (and lock the audit chain) once per request
            audit(
                app,
                f"collector:{found['name']}",
                "collector.refused",
                found["name"],
                {"why": "revoked", "requests": refused},
            )
        return None
    return found


class _Sampler:
    """Counts events per key and says, at most once per ``every`` seconds per key, how many
    happened since it last said so (0: not yet).  Per process; bounded to ``keys`` keys."""

    def __init__(self, every: float = 60.0, keys: int = 10_000) -> None:
        self.every, self.keys = every, keys
        self._seen: dict[tuple[str, int], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def note(self, key: tuple[str, int]) -> int:
        now = time.monotonic()
        with self._lock:
            last, count = self._seen.get(key, (now - self.every, 0))
            count += 1
            if now - last >= self.every:
                self._seen[key] = (now, 0)
                return count
            if len(self._seen) >= self.keys and key not in self._seen:
                self._seen.clear()
            self._seen[key] = (last, count)
            return 0


_revoked_uses = _Sampler()


def audit(app: Phaseout, actor: str, action: str, entity_id: str, after: dict[str, Any]) -> None:
    with writing(app.engine) as conn:
        record_event(conn, actor, action, "collector", entity_id, None, after)


# --- saved scans ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Definition:
    name: str
    targets: list[str]
    scope: list[str]
    ports: list[int]
    vantage: str | None = None
    site: str | None = None
    schedule: str | None = None
    collector: str | None = None


def define(app: Phaseout, d: Definition) -> int:
    """Check and save a definition: the targets inside its scope, the schedule readable, and, for
    a collector, everything inside that collector's scopes and sites."""
    _name(d.name, "saved scan")
    hosts = in_scope(d.targets, d.scope)
    if not hosts:
        raise UsageError("the saved scan has no targets", hint="--target 10.1.0.0/24")
    if not d.ports or not all(0 < p < 65536 for p in d.ports):
        raise UsageError("ports are 1-65535", hint="--ports 80,443,554")
    if d.vantage is not None and d.vantage not in VANTAGES:
        raise UsageError(f"vantage {d.vantage!r}", hint=f"one of {', '.join(VANTAGES)}")
    if d.schedule:
        parse_schedule(d.schedule)
    collector_id = None
    if d.collector:
        found = db.collector_named(app.engine, d.collector)
        if found is None or found["revoked"]:
            raise UsageError(f"no active collector {d.collector!r}", hint="phaseout collector list")
        outside = wire.targets_outside(d.targets, wire.networks(found["scopes"]))
        if outside:
            raise Refused(
                f"refused: {', '.join(outside[:3])} outside collector {d.collector}'s scopes "
                f"({', '.join(found['scopes'])})",
                hint="a collector scans only the scopes it was enrolled for",
            )
        if d.site and found["sites"] and d.site not in found["sites"]:
            raise Refused(f"refused: site {d.site} is not one of collector {d.collector}'s sites")
        collector_id = found["id"]
    return db.add_definition(
        app.engine,
        {
            "name": d.name,
            "targets": d.targets,
            "scope": d.scope,
            "ports": d.ports,
            "vantage": d.vantage,
            "site_code": d.site,
            "schedule": d.schedule,
            "collector_id": collector_id,
        },
        app.actor,
    )


def _due(schedule: str, now: dt.datetime, last: dt.datetime | None, created: dt.datetime) -> bool:
    try:
        return is_due(parse_schedule(schedule), now, last, created)
    except UsageError:
        return False  # checked when saved; a schedule this version cannot read is never due


def enqueue_due(app: Phaseout) -> list[int]:
    """Jobs for every definition whose schedule is due (for collectors and the server alike)."""
    return db.enqueue_due(app.engine, _due, app.actor)


def run_local_job(app: Phaseout, job: dict[str, Any], settings: ScanSettings) -> ScanRecord:
    """Run a claimed server-side job: the same scope check and probes as ``phaseout scan``; the
    scan and the job's end are one transaction."""
    spec = job["spec"]
    try:
        hosts = in_scope(spec["targets"], spec["scope"])
    except UsageError as exc:
        db.finish_job(app.engine, job["id"], "refused", error=exc.message, actor=app.actor)
        raise
    settings.ports = tuple(spec["ports"])
    outcome: ScanOutcome = app.probe(hosts, settings)

    def close(conn: Any, scan_id: int) -> None:
        db.finish(conn, job["id"], "done", scan_id=scan_id, actor=app.actor)

    return app.record_scan(
        outcome,
        targets=spec["targets"],
        planned=len(hosts),
        ports=tuple(spec["ports"]),
        site=spec.get("site"),
        vantage=spec.get("vantage"),
        within=close,
    )


# --- the collector API's use cases ---------------------------------------------------------------


def claim_for(app: Phaseout, collector: dict[str, Any]) -> dict[str, Any] | None:
    """The next job for this collector; any job outside its scopes or sites is refused (and
    recorded) instead of handed out."""
    scopes = wire.networks(collector["scopes"])
    actor = f"collector:{collector['name']}"
    while True:
        job = db.claim(app.engine, collector["id"], collector["name"])
        if job is None:
            return None
        spec = job["spec"]
        outside = wire.targets_outside(spec["targets"], scopes)
        site = spec.get("site")
        if outside or (site and collector["sites"] and site not in collector["sites"]):
            why = f"outside the collector's scopes: {', '.join(outside[:3])}" if outside else f"site {site}"
            db.finish_job(app.engine, job["id"], "refused", error=why, actor=actor)
            continue
        return {"id": job["id"], "spec": spec, "lease_until": job["lease_until"].isoformat()}


def refuse_job(app: Phaseout, collector: dict[str, Any], job_id: int, reason: str) -> None:
    """The collector refused a job locally (outside the scopes it was enrolled for)."""
    _open_job_of(app, collector, job_id)
    db.finish_job(app.engine, job_id, "refused", error=f"refused by the collector: {reason[:500]}", actor=app.actor)


def fail_job(app: Phaseout, collector: dict[str, Any], job_id: int, reason: str) -> None:
    _open_job_of(app, collector, job_id)
    db.finish_job(app.engine, job_id, "failed", error=reason[:500], actor=app.actor)


def _open_job_of(app: Phaseout, collector: dict[str, Any], job_id: int) -> dict[str, Any]:
    """The job, when it is this collector's and claimed (waiting for its results).  A finished
    job stays as it ended: a collector must not turn a merged job into a refused one (that
    would drop the link to the scan it stored).  Every refusal is recorded."""
    job = db.job(app.engine, job_id)
    why = None
    if job is None or job["collector_id"] != collector["id"]:
        why = f"job {job_id} is not this collector's"
    elif job["status"] != "claimed":
        why = f"job {job_id} is {job['status']}, not claimed"
    if why is not None:
        audit(app, f"collector:{collector['name']}", "collector.job-refused", collector["name"], {"why": why})
        raise Refused(why)
    assert job is not None
    return job


def ingest(app: Phaseout, collector: dict[str, Any], body: bytes) -> dict[str, Any]:
    """Check one upload whole, then merge it once.  Raises :class:`wire.UploadError` or
    :class:`Refused` (after recording why) for anything it will not merge."""
    with gc_pause.paused():  # (app/gc_pause.py: a third of the merge's CPU otherwise)
        return _ingest(app, collector, body)


def _ingest(app: Phaseout, collector: dict[str, Any], body: bytes) -> dict[str, Any]:
    actor = f"collector:{collector['name']}"
    try:
        upload = wire.parse_upload(body)
    except wire.UploadError as exc:
        audit(app, actor, "collector.upload-refused", collector["name"], {"why": exc.message[:300]})
        raise
    seen = db.receipt(app.engine, collector["id"], upload.upload_id)
    if seen is not None:
        return {"status": "duplicate", "upload_id": upload.upload_id, "scan_id": seen["scan_id"]}
    job = db.job(app.engine, upload.job_id)
    try:
        if job is None or job["collector_id"] != collector["id"]:
            raise Refused(f"job {upload.job_id} is not this collector's")
        if job["status"] != "claimed":
            raise Refused(f"job {upload.job_id} is {job['status']}, not waiting for results")
        wire.check_scopes(upload, wire.networks(collector["scopes"]), job["spec"]["targets"])
    except UsageError as exc:
        audit(
            app,
            actor,
            "collector.upload-refused",
            collector["name"],
            {"upload": upload.upload_id, "job": upload.job_id, "why": exc.message[:300]},
        )
        raise
    spec = job["spec"]

    def receipt(conn: Any, scan_id: int) -> None:
        db.add_receipt(conn, collector["id"], upload.upload_id, upload.job_id, scan_id, len(upload.addresses))
        db.finish(conn, upload.job_id, "done", scan_id=scan_id, actor=actor)

    try:
        record = app.as_actor(actor).record_results(
            upload.hosts,
            targets=spec["targets"],
            ports=tuple(spec["ports"]),
            site=spec.get("site"),
            vantage=spec.get("vantage"),
            interrupted=upload.interrupted,
            silent=upload.silent,
            within=receipt,
            answers=upload.answers,
        )
    except IntegrityError:  # the same upload merged concurrently: its receipt won, this rolled back
        seen = db.receipt(app.engine, collector["id"], upload.upload_id)
        if seen is None:
            raise
        return {"status": "duplicate", "upload_id": upload.upload_id, "scan_id": seen["scan_id"]}
    if upload.facts == "disagreed":  # merged from its answers alone; its collector's parsing is suspect
        why = {"upload": upload.upload_id, "scan": record.scan_id, "why": upload.facts_fault[:300]}
        audit(app, actor, "collector.facts-disagreed", collector["name"], why)
    return {
        "status": "merged",
        "upload_id": upload.upload_id,
        "scan_id": record.scan_id,
        "hosts": record.hosts,
        "created": record.created,
        "updated": record.updated,
        "facts": upload.facts,
    }
