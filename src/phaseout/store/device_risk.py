"""``devices.risk`` and ``devices.policy_status``: each device's stored assessment values,
beside its own columns (migration 0013).

The device listing sorts by risk and filters by policy status; read through the join to
``assessments`` the 50 riskiest of 285,000 Dahua devices needed every one of their assessments
and a sort (5 s at 1,000,000 devices).  On ``devices`` they are an index walk.  The copy is
kept exact by :func:`sync`, which the assessment writer calls in the transaction that replaces
the assessments: a device with an assessment carries its values, any other device NULL.
Nothing else writes ``assessments``; a new device starts with NULL, as it has no assessment.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, exists, func, or_, select, text, update

from phaseout.store.ids import BULK_ROWS, SuspendedIndexes
from phaseout.store.schema import assessments, devices


def _differs() -> ColumnElement[bool]:
    a = assessments
    return or_(
        devices.c.risk.is_distinct_from(a.c.risk),
        devices.c.policy_status.is_distinct_from(a.c.policy_status),
    )


def sync(conn: Connection) -> int:
    """Bring every device's copy in step with ``assessments``; returns the rows changed.

    Only rows whose values differ are written: a re-assessment that changes few risks rewrites
    few devices.  On PostgreSQL each rewritten row costs an entry in every index of ``devices``
    (the trigram index's ~100 among them): 1,000,000 rows took minutes that way, so when
    ``BULK_ROWS`` rows or more change (the first assessment after a large import, new packs)
    the indexes are dropped for the update and built again once, as a bulk import does.
    SQLite updates only the indexes that hold the changed columns."""
    a = assessments
    if conn.dialect.name == "postgresql":
        changing = conn.execute(
            select(func.count()).select_from(devices.join(a, a.c.device_id == devices.c.id)).where(_differs())
        ).scalar_one()
        indexes = SuspendedIndexes(conn, devices, keys=False)
        if changing >= BULK_ROWS:
            indexes.drop()
    changed = conn.execute(
        update(devices)
        .where(a.c.device_id == devices.c.id)
        .where(_differs())
        .values(risk=a.c.risk, policy_status=a.c.policy_status)
    ).rowcount
    cleared = conn.execute(
        update(devices)
        .where(or_(devices.c.risk.is_not(None), devices.c.policy_status.is_not(None)))
        .where(~exists(select(a.c.device_id).where(a.c.device_id == devices.c.id)))
        .values(risk=None, policy_status=None)
    ).rowcount
    done = int(changed or 0) + int(cleared or 0)
    if conn.dialect.name == "postgresql":
        if indexes.dropped:
            indexes.restore()  # and ANALYZE
        elif done:
            conn.execute(text("ANALYZE devices"))  # the listing's estimates for the new values
    return done
