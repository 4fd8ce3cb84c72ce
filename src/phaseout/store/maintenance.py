"""``phaseout db compact``: give the device table's indexes back their built size after bulk work.

Why: a bulk load or a bulk update on PostgreSQL leaves the device table's indexes larger than
they need to be, and the free-text search pays for it on every request.  The first assessment
after a 1,000,000-row import rewrites every device (its copy of the risk, ``store.device_risk``);
each rewritten row is a new row version with its own index entries, and the trigram index, fed
through its pending list during the load and the update, ended at 284 MB where a fresh build
of the same rows takes 110 MB.  A serial search then spent 98 ms scanning the index instead of
31 ms (p95 of ``q=sn000424242`` through two workers: 328 ms against 104 ms).  Rebuilding inside
the assessment's own transaction does not help (the old row versions are still there to be
indexed) and made the assessment slower, so it is a separate step, run once the work is
committed.

PostgreSQL: ``VACUUM (ANALYZE) devices`` (the old row versions go, the planner's statistics are
fresh), then ``REINDEX TABLE CONCURRENTLY devices``: readers and writers carry on meanwhile.
SQLite: the FTS5 index's ``optimize`` (its segments merged into one) and ``PRAGMA optimize``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Engine, text

from phaseout.store.bulk import MAINTENANCE_WORK_MEM_MB
from phaseout.store.engine import writing
from phaseout.store.search import FTS_TABLE, has_index


@dataclass(frozen=True, slots=True)
class Step:
    """One maintenance step: what it did, how long it took, and the bytes of what it works on
    (the table, its indexes) before and after (None where the database cannot tell)."""

    name: str
    seconds: float
    before: int | None = None
    after: int | None = None


def compact(engine: Engine) -> list[Step]:
    """Compact the device table's indexes; returns the steps taken."""
    if engine.dialect.name == "postgresql":
        return _postgresql(engine)
    return _sqlite(engine)


def _postgresql(engine: Engine) -> list[Step]:
    steps: list[Step] = []
    # VACUUM and REINDEX CONCURRENTLY cannot run inside a transaction block
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        size = "SELECT pg_indexes_size(to_regclass('devices'))"
        heap = "SELECT pg_relation_size(to_regclass('devices'))"
        before_heap = conn.execute(text(heap)).scalar()
        start = time.perf_counter()
        conn.execute(text("VACUUM (ANALYZE) devices"))
        spent = time.perf_counter() - start
        steps.append(Step("vacuum and analyse devices", spent, before_heap, conn.execute(text(heap)).scalar()))
        before = conn.execute(text(size)).scalar()
        conn.execute(text(f"SET maintenance_work_mem = '{MAINTENANCE_WORK_MEM_MB}MB'"))
        start = time.perf_counter()
        conn.execute(text("REINDEX TABLE CONCURRENTLY devices"))
        spent = time.perf_counter() - start
        conn.execute(text("RESET maintenance_work_mem"))
        after = conn.execute(text(size)).scalar()
        steps.append(Step("rebuild the indexes of devices", spent, before, after))
    return steps


def _sqlite(engine: Engine) -> list[Step]:
    steps: list[Step] = []
    with writing(engine) as conn:
        if has_index(conn):
            start = time.perf_counter()
            conn.execute(text(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('optimize')"))
            steps.append(Step("merge the search index's segments", time.perf_counter() - start))
        start = time.perf_counter()
        conn.execute(text("PRAGMA optimize"))
        steps.append(Step("refresh the planner's statistics", time.perf_counter() - start))
    return steps
