"""Which policy packs the organisation applies, and the makers they cover (kept in the store's
``meta`` table, so a team sharing a PostgreSQL database shares the choice).  Evaluating the
packs is :mod:`phaseout.policy`; choosing them is :meth:`phaseout.app.Phaseout.use_packs`."""

from __future__ import annotations

import json

from sqlalchemy import Connection, Engine, select

from phaseout.store.audit import record_event
from phaseout.store.engine import writing
from phaseout.store.generation import bump
from phaseout.store.schema import meta

KEY = "policies"
COVERED_KEY = "covered_makers"


def _get(conn: Connection, key: str) -> list[str]:
    value = conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar()
    return list(json.loads(value)) if value else []


def _put(conn: Connection, key: str, value: list[str]) -> None:
    text = json.dumps(value)
    if conn.execute(select(meta.c.key).where(meta.c.key == key)).first() is None:
        conn.execute(meta.insert().values(key=key, value=text))
    else:
        conn.execute(meta.update().where(meta.c.key == key).values(value=text))


def packs_in_use(conn: Connection) -> list[str]:
    return _get(conn, KEY)


def covered_makers_in_use(conn: Connection) -> list[str]:
    """Makers covered by the packs in use, as recorded when they were chosen."""
    return _get(conn, COVERED_KEY)


def set_packs_in_use(engine: Engine, pack_ids: list[str], covered: list[str], actor: str) -> None:
    """Record the packs chosen and the makers they cover, with an audit event."""
    with writing(engine) as conn:
        record_event(conn, actor, "policy.use", "policy", "in-use", packs_in_use(conn), pack_ids)
        _put(conn, KEY, pack_ids)
        _put(conn, COVERED_KEY, sorted(covered))
        bump(conn)


def record_covered(engine: Engine, covered: list[str]) -> None:
    """Refresh the covered makers (the packs' files may have changed since they were chosen)."""
    with writing(engine) as conn:
        if covered_makers_in_use(conn) != sorted(covered):
            _put(conn, COVERED_KEY, sorted(covered))
            bump(conn)
