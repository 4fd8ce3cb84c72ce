"""Alerts in the store: the alerts themselves, the batches evaluated, the occurrences fired
and the outbox (persistence only; the rules are :mod:`phaseout.alert.rules`, evaluation and
delivery :mod:`phaseout.app.alerts`).

The outbox is what makes delivery survive anything: evaluation writes the message rows in the
same transaction that records the occurrences and marks the batch evaluated, so a process
killed before delivery loses nothing and a second evaluation finds the keys already there.
A deliverer *claims* a due row (status ``sending``, a lease and a random token), sends it with
no transaction open, and records the outcome only if its token still holds the row: a row is
marked delivered exactly once, and every attempt is an audit event.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, insert, or_, select, text, union_all, update

from phaseout.errors import UsageError
from phaseout.store.audit import record_event
from phaseout.store.engine import writing
from phaseout.store.policies import covered_makers_in_use
from phaseout.store.schema import (
    alert_evaluated,
    alert_occurrences,
    alert_outbox,
    alerts,
    assessments,
    devices,
    import_batches,
    observations,
    scan_hosts,
    scans,
    sites,
    work_order_devices,
    work_orders,
)

#: Outbox rows and occurrences inserted per statement.
CHUNK = 5000


def utc(value: Any) -> dt.datetime | None:
    """SQLite gives naive UTC back; PostgreSQL an aware time."""
    if not isinstance(value, dt.datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- the alerts -------------------------------------------------------------------------------


def add_alert(
    engine: Engine,
    name: str,
    kind: str,
    config: dict[str, Any],
    secret: str,
    rules: list[dict[str, Any]],
    actor: str,
) -> int:
    """Store a checked alert.  Batches already in the store are not news to it."""
    with writing(engine) as conn:
        if conn.execute(select(alerts.c.id).where(alerts.c.name == name)).first() is not None:
            raise UsageError(
                f"an alert named {name!r} exists", hint="phaseout alert remove NAME first, or pick another"
            )
        since = conn.execute(select(func.max(import_batches.c.id))).scalar() or 0
        alert_id = int(
            conn.execute(
                alerts.insert()
                .values(
                    name=name,
                    kind=kind,
                    config=json.dumps(config, sort_keys=True),
                    secret=secret,
                    rules=json.dumps(rules, sort_keys=True),
                    since_batch=since,
                    created_at=_now(),
                    created_by=actor,
                )
                .returning(alerts.c.id)
            ).scalar_one()
        )
        record_event(conn, actor, "alert.add", "alert", name, None, {"kind": kind, "config": config, "rules": rules})
    return alert_id


def _alert_row(row: Any, counts: dict[tuple[int, str], int] | None = None) -> dict[str, Any]:
    item = {
        "id": int(row.id),
        "name": row.name,
        "kind": row.kind,
        "config": json.loads(row.config),
        "rules": json.loads(row.rules),
        "enabled": bool(row.enabled),
        "since_batch": int(row.since_batch),
        "created_at": utc(row.created_at),
        "created_by": row.created_by,
    }
    if counts is not None:
        for status in ("pending", "sending", "delivered", "failed"):
            item[status] = counts.get((item["id"], status), 0)
    return item


def list_alerts(conn: Connection) -> list[dict[str, Any]]:
    """Every alert (no secret), with its outbox counts by status."""
    counts = {
        (int(a), str(s)): int(n)
        for a, s, n in conn.execute(
            select(alert_outbox.c.alert_id, alert_outbox.c.status, func.count()).group_by(
                alert_outbox.c.alert_id, alert_outbox.c.status
            )
        )
    }
    return [_alert_row(r, counts) for r in conn.execute(select(alerts).order_by(alerts.c.name))]


def get_alert(conn: Connection, name: str) -> dict[str, Any] | None:
    """One alert with its secret (for sending)."""
    row = conn.execute(select(alerts).where(alerts.c.name == name)).first()
    if row is None:
        return None
    return _alert_row(row) | {"secret": row.secret}


def remove_alert(engine: Engine, name: str, actor: str) -> dict[str, int]:
    """Remove an alert with its occurrences and outbox rows (the audit trail keeps every
    delivery); says how many messages were still waiting."""
    with writing(engine) as conn:
        row = conn.execute(select(alerts.c.id, alerts.c.kind).where(alerts.c.name == name)).first()
        if row is None:
            raise UsageError(f"no alert named {name!r}", hint="phaseout alert list")
        waiting = int(
            conn.execute(
                select(func.count()).where(
                    alert_outbox.c.alert_id == row.id, alert_outbox.c.status.in_(("pending", "sending", "failed"))
                )
            ).scalar_one()
        )
        conn.execute(delete(alert_occurrences).where(alert_occurrences.c.alert_id == row.id))
        conn.execute(delete(alert_outbox).where(alert_outbox.c.alert_id == row.id))
        conn.execute(delete(alerts).where(alerts.c.id == row.id))
        record_event(conn, actor, "alert.remove", "alert", name, {"kind": row.kind}, {"undelivered_dropped": waiting})
    return {"undelivered": waiting}


# -- what evaluation reads ----------------------------------------------------------------------


def lock_evaluation(conn: Connection) -> None:
    """One evaluator at a time (SQLite: the caller's IMMEDIATE transaction; PostgreSQL: this lock)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("LOCK TABLE alert_occurrences, alert_evaluated IN SHARE ROW EXCLUSIVE MODE"))


def enabled_alerts(conn: Connection) -> list[dict[str, Any]]:
    return [_alert_row(r) for r in conn.execute(select(alerts).where(alerts.c.enabled).order_by(alerts.c.id))]


def batches_to_evaluate(conn: Connection, after: int) -> list[dict[str, Any]]:
    """Finished device imports and scans after batch ``after`` that no evaluation has seen."""
    done = select(alert_evaluated.c.batch_id)
    rows = conn.execute(
        select(import_batches.c.id, import_batches.c.kind, import_batches.c.file_name, scans.c.id.label("scan_id"))
        .select_from(import_batches.outerjoin(scans, scans.c.batch_id == import_batches.c.id))
        .where(
            import_batches.c.id > after,
            import_batches.c.kind.in_(("devices", "scan")),
            import_batches.c.status.in_(("ok", "partial")),
            import_batches.c.id.not_in(done),
        )
        .order_by(import_batches.c.id)
    )
    return [dict(r._mapping) for r in rows]


_DEVICE = (
    devices.c.id,
    sites.c.code.label("site"),
    devices.c.ip,
    devices.c.vendor,
    devices.c.label,
    func.coalesce(devices.c.id_model, devices.c.model).label("model"),
    func.coalesce(devices.c.id_type, devices.c.device_type).label("device_type"),
)
_WITH_SITE = devices.outerjoin(sites, sites.c.id == devices.c.site_id)
#: what every device read here gives, in this order (``alert.rules.Device``'s fields)
DEVICE_FIELDS = ("id", "site", "ip", "vendor", "label", "model", "device_type")
DeviceRow = tuple[Any, ...]


def created_devices(conn: Connection, batch_id: int, makers: Sequence[str] | None = None) -> list[DeviceRow]:
    """Devices the batch created (``makers``: only those the vendor of which is listed), as
    :data:`DEVICE_FIELDS` tuples (an import can create 100,000: no dict per row)."""
    query = select(*_DEVICE).select_from(_WITH_SITE).where(devices.c.batch_id == batch_id)
    if makers is not None:
        query = query.where(devices.c.vendor.in_(list(makers)))
    return list(conn.execute(query.order_by(devices.c.id)).all())


_PRIVATE_LIKE = ("10.%", "192.168.%", "127.%", "169.254.%", "fe80:%", "fc%", "fd%")


def touched_public_candidates(conn: Connection, batch_id: int) -> list[dict[str, Any]]:
    """Devices the batch created or wrote to whose address is not obviously private (the rule
    decides; this only spares it the millions of 10.x cameras)."""
    touched = (
        select(observations.c.id)
        .where(observations.c.device_id == devices.c.id, observations.c.batch_id == batch_id)
        .exists()
    )
    cond = [devices.c.ip.is_not(None), *(devices.c.ip.not_like(p) for p in _PRIVATE_LIKE)]
    query = (  # the address filter first, then the batch through the observations' device index
        select(*_DEVICE)
        .select_from(_WITH_SITE)
        .where(*cond, or_(devices.c.batch_id == batch_id, touched))
        .order_by(devices.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def answered_replaced(conn: Connection, batch_id: int) -> list[dict[str, Any]]:
    """Devices verified as replaced that answered in the batch (a non-inventory observation, or
    a scan host that answered), with when they answered and the verification that replaced them."""
    said = (  # from the few replaced devices through the observations' device index
        select(observations.c.device_id.label("device_id"), observations.c.observed_at.label("at"))
        .select_from(observations.join(devices, devices.c.id == observations.c.device_id))
        .where(devices.c.status == "replaced", observations.c.batch_id == batch_id, observations.c.kind != "inventory")
    )
    probed = (
        select(scan_hosts.c.device_id.label("device_id"), scans.c.finished_at.label("at"))
        .select_from(scan_hosts.join(scans, scans.c.id == scan_hosts.c.scan_id))
        .where(scans.c.batch_id == batch_id, scan_hosts.c.state == "answered", scan_hosts.c.device_id.is_not(None))
    )
    either = union_all(said, probed).subquery()
    answered = (
        select(either.c.device_id, func.max(either.c.at).label("answered_at")).group_by(either.c.device_id).subquery()
    )
    rows = conn.execute(
        select(*_DEVICE, answered.c.answered_at)
        .select_from(_WITH_SITE.join(answered, answered.c.device_id == devices.c.id))
        .where(devices.c.status == "replaced")
    ).all()
    out = []
    for r in rows:
        order = conn.execute(
            select(work_orders.c.id, work_orders.c.updated_at)
            .select_from(work_orders.join(work_order_devices, work_order_devices.c.work_order_id == work_orders.c.id))
            .where(work_order_devices.c.device_id == r.id, work_orders.c.status == "verified")
            .order_by(work_orders.c.updated_at.desc())
            .limit(1)
        ).first()
        item = dict(r._mapping)
        item["answered_at"] = utc(r.answered_at)
        item["work_order"] = int(order.id) if order else None
        item["replaced_at"] = utc(order.updated_at) if order else None
        out.append(item)
    return out


def reached_in_scan(conn: Connection, scan_id: int, zones: Iterable[str]) -> tuple[str | None, list[dict[str, Any]]]:
    """(the scan's vantage, devices that answered it) when the vantage is one of ``zones``;
    each with its open ports and the newest earlier scan from that vantage that found its
    address silent (0: none)."""
    vantage = conn.execute(select(scans.c.vantage).where(scans.c.id == scan_id)).scalar()
    if vantage not in set(zones):
        return vantage, []
    rows = conn.execute(
        select(*_DEVICE, scan_hosts.c.ports_open)
        .select_from(_WITH_SITE.join(scan_hosts, scan_hosts.c.device_id == devices.c.id))
        .where(scan_hosts.c.scan_id == scan_id, scan_hosts.c.state == "answered")
        .order_by(devices.c.id)
    ).all()
    ips = sorted({r.ip for r in rows if r.ip})
    silent: dict[str, int] = {}
    for start in range(0, len(ips), CHUNK):
        for ip, last in conn.execute(
            select(scan_hosts.c.ip, func.max(scans.c.id))
            .select_from(scan_hosts.join(scans, scans.c.id == scan_hosts.c.scan_id))
            .where(
                scans.c.vantage == vantage,
                scans.c.id < scan_id,
                scans.c.status == "complete",
                scan_hosts.c.state == "silent",
                scan_hosts.c.ip.in_(ips[start : start + CHUNK]),
            )
            .group_by(scan_hosts.c.ip)
        ):
            silent[str(ip)] = int(last)
    out = []
    for r in rows:
        item = dict(r._mapping)
        item["ports"] = tuple(sorted(int(p) for p in json.loads(item.pop("ports_open") or "[]")))
        item["rearmed_by"] = silent.get(r.ip or "", 0)
        out.append(item)
    return str(vantage), out


def passed_deadlines(conn: Connection, before: dt.date) -> list[dt.date]:
    """Removal deadlines before ``before`` that assessments carry (read through their index)."""
    out = []
    for value in conn.execute(
        select(assessments.c.deadline)
        .where(assessments.c.deadline < before)
        .distinct()
        .order_by(assessments.c.deadline)
    ).scalars():
        out.append(value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)))
    return out


def deadline_left(conn: Connection, deadline: dt.date, examples: int = 5) -> dict[str, Any]:
    """Active devices whose earliest removal deadline is ``deadline``: how many, at how many
    sites, and a few of them (riskiest first)."""
    row = conn.execute(
        select(func.count(), func.count(func.distinct(devices.c.site_id)))
        .select_from(assessments.join(devices, devices.c.id == assessments.c.device_id))
        .where(assessments.c.deadline == deadline, devices.c.status == "active")
    ).one()
    some = conn.execute(
        select(*_DEVICE)
        .select_from(_WITH_SITE.join(assessments, assessments.c.device_id == devices.c.id))
        .where(assessments.c.deadline == deadline, devices.c.status == "active")
        .order_by(assessments.c.risk.desc(), devices.c.id)
        .limit(examples)
    ).all()
    return {"deadline": deadline, "devices": int(row[0]), "sites": int(row[1]), "examples": [tuple(x) for x in some]}


def covered_makers(conn: Connection) -> list[str]:
    return covered_makers_in_use(conn)


# -- what evaluation writes ---------------------------------------------------------------------


def known_keys(conn: Connection, alert_id: int, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` this alert has already fired for."""
    found: set[str] = set()
    for start in range(0, len(keys), CHUNK):
        found.update(
            str(k)
            for k in conn.execute(
                select(alert_occurrences.c.key).where(
                    alert_occurrences.c.alert_id == alert_id, alert_occurrences.c.key.in_(keys[start : start + CHUNK])
                )
            ).scalars()
        )
    return found


def queue(
    conn: Connection,
    alert_id: int,
    rule: str,
    payload: str,
    fired: Sequence[tuple[str, int | None]],
    now: dt.datetime,
) -> int:
    """One outbox row for a message, and its occurrences ``(key, device id)``."""
    outbox_id = int(
        conn.execute(
            alert_outbox.insert()
            .values(
                alert_id=alert_id, rule=rule, payload=payload, status="pending", next_attempt_at=now, created_at=now
            )
            .returning(alert_outbox.c.id)
        ).scalar_one()
    )
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    columns = "alert_id, key, device_id, outbox_id, fired_at"
    sql = f"INSERT INTO alert_occurrences ({columns}) VALUES ({', '.join([mark] * 5)})"
    stamp = alert_occurrences.c.fired_at.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    at = stamp(now) if stamp else now  # as SQLAlchemy would write it (SQLite: text)
    rows = [(alert_id, key, device, outbox_id, at) for key, device in fired]
    for start in range(0, len(rows), CHUNK):  # straight to the driver: tens of thousands of rows
        conn.exec_driver_sql(sql, rows[start : start + CHUNK])
    return outbox_id


def mark_evaluated(conn: Connection, batch_ids: Sequence[int], now: dt.datetime) -> None:
    if batch_ids:
        conn.execute(insert(alert_evaluated), [{"batch_id": b, "evaluated_at": now} for b in batch_ids])


# -- the outbox ---------------------------------------------------------------------------------


def _outbox_row(r: Any) -> dict[str, Any]:
    item = dict(r._mapping)
    for k in ("next_attempt_at", "claimed_until", "created_at", "delivered_at"):
        if k in item:
            item[k] = utc(item[k])
    return item


def list_outbox(conn: Connection, status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Outbox rows, newest first (payload summary only)."""
    query = (
        select(
            alert_outbox.c.id,
            alerts.c.name.label("alert"),
            alerts.c.kind,
            alert_outbox.c.rule,
            alert_outbox.c.status,
            alert_outbox.c.attempts,
            alert_outbox.c.next_attempt_at,
            alert_outbox.c.last_error,
            alert_outbox.c.created_at,
            alert_outbox.c.delivered_at,
            alert_outbox.c.payload,
        )
        .select_from(alert_outbox.join(alerts, alerts.c.id == alert_outbox.c.alert_id))
        .order_by(alert_outbox.c.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(alert_outbox.c.status == status)
    out = []
    for r in conn.execute(query):
        item = _outbox_row(r)
        payload = json.loads(item.pop("payload"))
        item["summary"] = payload.get("summary", "")
        item["count"] = payload.get("count", 0)
        out.append(item)
    return out


def outbox_counts(conn: Connection) -> dict[str, int]:
    return {
        str(s): int(n)
        for s, n in conn.execute(select(alert_outbox.c.status, func.count()).group_by(alert_outbox.c.status))
    }


def claim(engine: Engine, now: dt.datetime, lease: dt.timedelta, limit: int) -> list[dict[str, Any]]:
    """Take up to ``limit`` due rows (pending and due, or sending with an expired lease) for this
    deliverer: each comes back with its alert's destination, secret and the claim token."""
    due = or_(
        and_(alert_outbox.c.status == "pending", alert_outbox.c.next_attempt_at <= now),
        and_(alert_outbox.c.status == "sending", alert_outbox.c.claimed_until < now),
    )
    taken = []
    with engine.connect() as conn:  # nothing due (the common case): no write lock taken
        if conn.execute(select(alert_outbox.c.id).where(due).limit(1)).first() is None:
            return []
    with writing(engine) as conn:
        ids = [
            int(i)
            for i in conn.execute(
                select(alert_outbox.c.id).where(due).order_by(alert_outbox.c.id).limit(limit)
            ).scalars()
        ]
        for oid in ids:
            token = secrets.token_hex(16)
            done = conn.execute(
                update(alert_outbox)
                .where(alert_outbox.c.id == oid, due)
                .values(status="sending", claimed_until=now + lease, claim=token)
            )
            if done.rowcount == 1:
                taken.append((oid, token))
        out = []
        for oid, token in taken:
            r = conn.execute(
                select(
                    alert_outbox.c.id,
                    alert_outbox.c.alert_id,
                    alert_outbox.c.rule,
                    alert_outbox.c.payload,
                    alert_outbox.c.attempts,
                    alerts.c.name,
                    alerts.c.kind,
                    alerts.c.config,
                    alerts.c.secret,
                )
                .select_from(alert_outbox.join(alerts, alerts.c.id == alert_outbox.c.alert_id))
                .where(alert_outbox.c.id == oid)
            ).one()
            item = dict(r._mapping)
            item["config"] = json.loads(item["config"])
            item["payload"] = json.loads(item["payload"])
            item["claim"] = token
            out.append(item)
    return out


def finish(
    engine: Engine,
    row: dict[str, Any],
    *,
    ok: bool,
    detail: str,
    now: dt.datetime,
    retry_at: dt.datetime | None,
    actor: str,
) -> str:
    """Record one attempt's outcome (only while this deliverer's claim holds) and its audit
    event.  Returns the row's new status, or ``lost-claim`` when another deliverer took over."""
    attempts = int(row["attempts"]) + 1
    if ok:
        values: dict[str, Any] = {"status": "delivered", "delivered_at": now, "last_error": ""}
    elif retry_at is not None:
        values = {"status": "pending", "next_attempt_at": retry_at, "last_error": detail[:2000]}
    else:
        values = {"status": "failed", "last_error": detail[:2000]}
    with writing(engine) as conn:
        done = conn.execute(
            update(alert_outbox)
            .where(
                alert_outbox.c.id == row["id"], alert_outbox.c.status == "sending", alert_outbox.c.claim == row["claim"]
            )
            .values(attempts=attempts, claimed_until=None, claim=None, **values)
        )
        if done.rowcount != 1:
            return "lost-claim"
        record_event(
            conn,
            actor,
            "alert.delivery",
            "alert",
            row["name"],
            {"outbox": row["id"], "attempt": attempts},
            {
                "outbox": row["id"],
                "rule": row["rule"],
                "destination": row["kind"],
                "outcome": values["status"],
                "detail": detail[:500],
                **({"retry_at": retry_at.isoformat()} if retry_at and not ok else {}),
            },
        )
    return str(values["status"])


def retry_failed(engine: Engine, actor: str, now: dt.datetime) -> int:
    """Put every failed row back in the queue (after the receiver was fixed)."""
    with writing(engine) as conn:
        done = conn.execute(
            update(alert_outbox).where(alert_outbox.c.status == "failed").values(status="pending", next_attempt_at=now)
        )
        if done.rowcount:
            record_event(conn, actor, "alert.retry", "alert", "*", None, {"rows": done.rowcount})
    return int(done.rowcount)


def record_test(engine: Engine, actor: str, name: str, kind: str, outcome: str, detail: str) -> None:
    """A test delivery's outcome, in the audit trail like any other."""
    with writing(engine) as conn:
        record_event(
            conn,
            actor,
            "alert.test",
            "alert",
            name,
            None,
            {"destination": kind, "outcome": outcome, "detail": detail[:500]},
        )
