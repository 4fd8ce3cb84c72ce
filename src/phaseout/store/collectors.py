"""Collectors, saved scan definitions, scan jobs and upload receipts (persistence only).

- A collector is created with a one-time enrolment code (only its sha256 is kept, with an
  expiry); enrolment swaps the code for the collector's own credential (again only its sha256),
  so the code cannot be used twice and a copy of the database gives no way in.
- Jobs are claimed safely by any number of claimers: PostgreSQL locks the row it hands out with
  ``FOR UPDATE SKIP LOCKED`` (two claimers never get the same job and never wait on each other);
  SQLite takes its write lock up front (``BEGIN IMMEDIATE``), one writer at a time.  A claim is
  a lease: a job whose claimer died is offered again when the lease runs out.
- An upload's receipt is written in the same transaction as the scan it merged (see
  ``app.collectors``), under a unique (collector, upload id) index, so an upload sent twice is
  merged once.

Every time here is the server's clock (UTC); what a collector says of the time is never stored
as a fact.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, or_, select, update

from phaseout.errors import UsageError
from phaseout.store.audit import cli_actor, record_event
from phaseout.store.engine import writing
from phaseout.store.schema import collector_uploads, collectors, scan_definitions, scan_jobs

#: how long a claimed job stays with its claimer before it is offered again
DEFAULT_LEASE = dt.timedelta(minutes=30)


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite gives times back naive: they are UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _row(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    for key in ("sites", "scopes", "targets", "scope", "ports", "spec", "health"):
        if isinstance(out.get(key), str):
            out[key] = json.loads(out[key])
    for key, value in list(out.items()):
        if isinstance(value, dt.datetime):
            out[key] = aware(value)
    return out


# --- collectors ----------------------------------------------------------------------------------


def create_collector(
    engine: Engine,
    name: str,
    sites: list[str],
    scopes: list[str],
    code_hash: str,
    expires_at: dt.datetime,
    actor: str | None = None,
) -> int:
    """A collector waiting for enrolment (or a new code for one that has not enrolled yet)."""
    with writing(engine) as conn:
        found = conn.execute(select(collectors).where(collectors.c.name == name)).first()
        values = {
            "sites": json.dumps(sites),
            "scopes": json.dumps(scopes),
            "code_hash": code_hash,
            "code_expires_at": expires_at,
        }
        if found is not None:
            if found.revoked or found.token_hash is not None:
                raise UsageError(
                    f"collector {name!r} is already {'revoked' if found.revoked else 'enrolled'}",
                    hint="give the new collector another name (a revoked one stays in the audit trail)",
                )
            conn.execute(update(collectors).where(collectors.c.id == found.id).values(**values))
            cid = int(found.id)
        else:
            cid = int(
                conn.execute(
                    collectors.insert()
                    .values(name=name, created_at=now_utc(), created_by=actor or cli_actor(), **values)
                    .returning(collectors.c.id)
                ).scalar_one()
            )
        record_event(
            conn,
            actor or cli_actor(),
            "collector.code",
            "collector",
            name,
            None,
            {"sites": sites, "scopes": scopes, "expires_at": expires_at.isoformat()},
        )
    return cid


def enrol(engine: Engine, code_hash: str, token_hash: str, version: str, actor: str) -> dict[str, Any] | None:
    """Swap a valid code for the credential; None when the code is unknown, used or expired."""
    now = now_utc()
    with writing(engine) as conn:
        row = conn.execute(
            select(collectors).where(collectors.c.code_hash == code_hash, collectors.c.revoked.is_(False))
        ).first()
        if row is None or (aware(row.code_expires_at) or now) <= now or row.token_hash is not None:
            return None
        done = conn.execute(
            update(collectors)
            .where(collectors.c.id == row.id, collectors.c.code_hash == code_hash)
            .values(
                code_hash=None,
                code_expires_at=None,
                token_hash=token_hash,
                enrolled_at=now,
                last_contact=now,
                version=version[:64],
            )
        ).rowcount
        if done != 1:
            return None
        record_event(conn, actor, "collector.enrol", "collector", row.name, None, {"version": version[:64]})
        return _row(conn.execute(select(collectors).where(collectors.c.id == row.id)).one())


def by_token(engine: Engine, token_hash: str) -> dict[str, Any] | None:
    """The collector holding this credential (revoked ones too: the caller refuses and records)."""
    with engine.connect() as conn:
        row = conn.execute(select(collectors).where(collectors.c.token_hash == token_hash)).first()
    return _row(row) if row else None


def touch(engine: Engine, collector_id: int, version: str, queue: int, health: dict[str, Any]) -> None:
    """Last contact (the server's clock), version, queue length and health of a collector."""
    with writing(engine) as conn:
        conn.execute(
            update(collectors)
            .where(collectors.c.id == collector_id)
            .values(last_contact=now_utc(), version=version[:64], queue_length=queue, health=json.dumps(health))
        )


def revoke(engine: Engine, name: str, actor: str | None = None) -> bool:
    """Refuse this collector from now on; its pending jobs are failed.  False if unknown."""
    with writing(engine) as conn:
        row = conn.execute(select(collectors.c.id, collectors.c.revoked).where(collectors.c.name == name)).first()
        if row is None:
            return False
        conn.execute(update(collectors).where(collectors.c.id == row.id).values(revoked=True, code_hash=None))
        conn.execute(
            update(scan_jobs)
            .where(scan_jobs.c.collector_id == row.id, scan_jobs.c.status.in_(("pending", "claimed")))
            .values(status="failed", error="collector revoked", finished_at=now_utc())
        )
        record_event(conn, actor or cli_actor(), "collector.revoke", "collector", name, {"revoked": row.revoked}, None)
    return True


def list_collectors(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(collectors).order_by(collectors.c.name)).all()
        pending: dict[int, int] = dict(
            conn.execute(
                select(scan_jobs.c.collector_id, func.count())
                .where(scan_jobs.c.status.in_(("pending", "claimed")))
                .group_by(scan_jobs.c.collector_id)
            ).all()
        )
    out = []
    for row in rows:
        item = _row(row)
        item.pop("code_hash", None)
        item.pop("token_hash", None)
        item["enrolled"] = row.token_hash is not None
        item["jobs_open"] = int(pending.get(row.id, 0))
        out.append(item)
    return out


def collector_named(engine: Engine, name: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(collectors).where(collectors.c.name == name)).first()
    return _row(row) if row else None


# --- saved scan definitions ----------------------------------------------------------------------


def add_definition(engine: Engine, values: dict[str, Any], actor: str | None = None) -> int:
    """Store a checked definition (the caller checked scope, ports and schedule)."""
    with writing(engine) as conn:
        if conn.execute(select(scan_definitions.c.id).where(scan_definitions.c.name == values["name"])).first():
            raise UsageError(
                f"a saved scan named {values['name']!r} exists", hint="phaseout scans remove NAME first, or pick a name"
            )
        row = {k: json.dumps(v) if k in ("targets", "scope", "ports") else v for k, v in values.items()}
        did = int(
            conn.execute(
                scan_definitions.insert()
                .values(**row, created_at=now_utc(), created_by=actor or cli_actor())
                .returning(scan_definitions.c.id)
            ).scalar_one()
        )
        record_event(conn, actor or cli_actor(), "scan-definition.add", "scan-definition", values["name"], None, values)
    return did


def definition(engine: Engine, name: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(scan_definitions, collectors.c.name.label("collector"))
            .select_from(scan_definitions.outerjoin(collectors, collectors.c.id == scan_definitions.c.collector_id))
            .where(scan_definitions.c.name == name)
        ).first()
    return _row(row) if row else None


def list_definitions(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(scan_definitions, collectors.c.name.label("collector"))
            .select_from(scan_definitions.outerjoin(collectors, collectors.c.id == scan_definitions.c.collector_id))
            .order_by(scan_definitions.c.name)
        ).all()
    return [_row(r) for r in rows]


def remove_definition(engine: Engine, name: str, actor: str | None = None) -> bool:
    """Remove a definition; its finished jobs keep their spec, open ones are failed."""
    with writing(engine) as conn:
        did = conn.execute(select(scan_definitions.c.id).where(scan_definitions.c.name == name)).scalar()
        if did is None:
            return False
        conn.execute(
            update(scan_jobs)
            .where(scan_jobs.c.definition_id == did, scan_jobs.c.status.in_(("pending", "claimed")))
            .values(status="failed", error="definition removed", finished_at=now_utc())
        )
        conn.execute(update(scan_jobs).where(scan_jobs.c.definition_id == did).values(definition_id=None))
        conn.execute(delete(scan_definitions).where(scan_definitions.c.id == did))
        record_event(conn, actor or cli_actor(), "scan-definition.remove", "scan-definition", name, None, None)
    return True


# --- jobs ----------------------------------------------------------------------------------------

OPEN = ("pending", "claimed")


def _spec(row: Any) -> dict[str, Any]:
    return {
        "name": row.name,
        "targets": json.loads(row.targets),
        "scope": json.loads(row.scope),
        "ports": json.loads(row.ports),
        "vantage": row.vantage,
        "site": row.site_code,
    }


def enqueue(conn: Connection, definition_row: Any, reason: str, now: dt.datetime) -> int | None:
    """Make a job from a definition, unless one is already open for it (an offline collector
    does not pile up a job per schedule tick).  Returns the job id, or None."""
    open_job = conn.execute(
        select(scan_jobs.c.id).where(scan_jobs.c.definition_id == definition_row.id, scan_jobs.c.status.in_(OPEN))
    ).first()
    if open_job is not None:
        return None
    # compare-and-set on last_run_at: of two tickers racing, one makes the job
    cond = (
        scan_definitions.c.last_run_at.is_(None)
        if definition_row.last_run_at is None
        else scan_definitions.c.last_run_at == definition_row.last_run_at
    )
    moved = conn.execute(
        update(scan_definitions).where(scan_definitions.c.id == definition_row.id, cond).values(last_run_at=now)
    ).rowcount
    if moved != 1:
        return None
    return int(
        conn.execute(
            scan_jobs.insert()
            .values(
                definition_id=definition_row.id,
                collector_id=definition_row.collector_id,
                spec=json.dumps(_spec(definition_row)),
                status="pending",
                reason=reason,
                created_at=now,
            )
            .returning(scan_jobs.c.id)
        ).scalar_one()
    )


def enqueue_named(engine: Engine, name: str, reason: str = "manual", actor: str | None = None) -> int | None:
    with writing(engine) as conn:
        row = conn.execute(select(scan_definitions).where(scan_definitions.c.name == name)).first()
        if row is None:
            raise UsageError(f"no saved scan named {name!r}", hint="phaseout scans list")
        job = enqueue(conn, row, reason, now_utc())
        if job is not None:
            record_event(conn, actor or cli_actor(), "scan-job.create", "scan-job", job, None, {"definition": name})
        return job


def enqueue_due(
    engine: Engine, due: Callable[[str, dt.datetime, dt.datetime | None, dt.datetime], bool], actor: str
) -> list[int]:
    """Jobs for every scheduled definition that ``due(schedule, now, last_run, created)`` says is due."""
    now = now_utc()
    made = []
    with writing(engine) as conn:
        rows = conn.execute(select(scan_definitions).where(scan_definitions.c.schedule.is_not(None))).all()
        for row in rows:
            if not due(row.schedule, now, aware(row.last_run_at), aware(row.created_at) or now):
                continue
            job = enqueue(conn, row, "schedule", now)
            if job is not None:
                made.append(job)
                record_event(conn, actor, "scan-job.create", "scan-job", job, None, {"definition": row.name})
    return made


def claim(
    engine: Engine, collector_id: int | None, claimer: str, lease: dt.timedelta = DEFAULT_LEASE
) -> dict[str, Any] | None:
    """Hand out the oldest open job for this collector (``None``: the server's own jobs): pending,
    or claimed with its lease run out.  Safe with any number of concurrent claimers."""
    now = now_utc()
    who = scan_jobs.c.collector_id.is_(None) if collector_id is None else scan_jobs.c.collector_id == collector_id
    offered = or_(scan_jobs.c.status == "pending", and_(scan_jobs.c.status == "claimed", scan_jobs.c.lease_until < now))
    query = select(scan_jobs.c.id).where(who, offered).order_by(scan_jobs.c.id).limit(1)
    with engine.connect() as conn:
        postgres = conn.dialect.name == "postgresql"
        if not postgres:
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            if postgres:
                query = query.with_for_update(skip_locked=True)
            job_id = conn.execute(query).scalar()
            if job_id is None:
                return None
            conn.execute(
                update(scan_jobs)
                .where(scan_jobs.c.id == job_id)
                .values(
                    status="claimed",
                    claimed_by=claimer[:200],
                    claimed_at=now,
                    lease_until=now + lease,
                    attempts=scan_jobs.c.attempts + 1,
                )
            )
            return _row(conn.execute(select(scan_jobs).where(scan_jobs.c.id == job_id)).one())


def finish(
    conn: Connection, job_id: int, status: str, *, scan_id: int | None = None, error: str = "", actor: str
) -> None:
    """Close a job inside the caller's transaction (with the scan it stored, when it did)."""
    conn.execute(
        update(scan_jobs)
        .where(scan_jobs.c.id == job_id)
        .values(status=status, scan_id=scan_id, error=error[:2000], finished_at=now_utc(), lease_until=None)
    )
    record_event(conn, actor, f"scan-job.{status}", "scan-job", job_id, None, {"scan": scan_id, "error": error[:200]})


def finish_job(engine: Engine, job_id: int, status: str, *, error: str = "", actor: str) -> None:
    with writing(engine) as conn:
        finish(conn, job_id, status, error=error, actor=actor)


def job(engine: Engine, job_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(scan_jobs).where(scan_jobs.c.id == job_id)).first()
    return _row(row) if row else None


def list_jobs(engine: Engine, limit: int = 100) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(scan_jobs, collectors.c.name.label("collector"))
            .select_from(scan_jobs.outerjoin(collectors, collectors.c.id == scan_jobs.c.collector_id))
            .order_by(scan_jobs.c.id.desc())
            .limit(limit)
        ).all()
    return [_row(r) for r in rows]


# --- upload receipts -----------------------------------------------------------------------------


def receipt(engine: Engine, collector_id: int, upload_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(collector_uploads).where(
                collector_uploads.c.collector_id == collector_id, collector_uploads.c.upload_id == upload_id
            )
        ).first()
    return _row(row) if row else None


def add_receipt(conn: Connection, collector_id: int, upload_id: str, job_id: int, scan_id: int, hosts: int) -> None:
    """Inside the merge's transaction: a second copy of the upload fails the unique index and
    its whole merge is rolled back."""
    conn.execute(
        collector_uploads.insert().values(
            collector_id=collector_id,
            upload_id=upload_id,
            job_id=job_id,
            scan_id=scan_id,
            hosts=hosts,
            received_at=now_utc(),
        )
    )
