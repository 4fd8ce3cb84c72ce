"""The store's generation: a token every writer changes in its own transaction.

Readers cache estate-wide aggregates (the dashboard's overview, counts per vendor...) keyed by
this token, so a cached answer can never outlive a change: an import, a scan, an assessment, a
verification or a re-identification each call :func:`bump` before they commit, and nothing
clears caches by hand.  The token is random rather than a counter so concurrent writers on
PostgreSQL never need to read it first.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, select

from phaseout.store.schema import meta

KEY = "generation"


def bump(conn: Connection) -> str:
    """Give the store a new generation (inside the writer's transaction); returns it."""
    token = uuid.uuid4().hex
    done = conn.execute(meta.update().where(meta.c.key == KEY).values(value=token))
    if not done.rowcount:
        conn.execute(meta.insert().values(key=KEY, value=token))
    return token


def current(conn: Connection) -> str:
    """The store's generation now (``""`` before the first write)."""
    return conn.execute(select(meta.c.value).where(meta.c.key == KEY)).scalar() or ""
