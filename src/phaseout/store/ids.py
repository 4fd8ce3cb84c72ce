"""Allocate primary keys for bulk inserts without a round trip per row.

``executemany`` cannot return generated ids on SQLite, and a million single-row inserts
with ``RETURNING`` are far too slow, so imports take ids themselves: on SQLite the write
lock held by the import transaction makes ``max(id) + 1`` safe; on PostgreSQL the table is
locked for the import and the sequence is moved past the ids used before commit.
"""

from __future__ import annotations

from sqlalchemy import Connection, Table, func, select, text

from phaseout.store.bulk import SuspendedForeignKeys, bulk_settings
from phaseout.store.match_candidates import IRREGULAR_INDEX, TAIL_INDEX, index_ddl
from phaseout.store.search import SuspendedSearch


class IdAllocator:
    def __init__(self, conn: Connection, table: Table) -> None:
        self.conn = conn
        self.table = table
        current = conn.execute(select(func.max(table.c.id))).scalar_one()
        self.next_id = int(current or 0) + 1

    def take(self) -> int:
        value = self.next_id
        self.next_id += 1
        return value

    def finish(self) -> None:
        """Bring PostgreSQL's sequence up to date so later single-row inserts don't collide."""
        if self.conn.dialect.name == "postgresql" and self.next_id > 1:
            self.conn.execute(
                text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :v, false)"),
                {"t": self.table.name, "v": self.next_id},
            )


def lock_for_import(conn: Connection, *tables: Table) -> None:
    """Serialise imports.  SQLite: the IMMEDIATE transaction already holds the write lock.
    PostgreSQL: readers go on; a second writer waits for this import to finish."""
    if conn.dialect.name == "postgresql":
        names = ", ".join(t.name for t in tables)
        conn.execute(text(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE"))


#: Below this many incoming rows, keeping indexes up to date row by row is cheaper.
BULK_ROWS = 100_000


class SuspendedIndexes:
    """Drop a table's secondary indexes (and on PostgreSQL its foreign keys:
    :mod:`phaseout.store.bulk`) for a bulk load and build them again before commit.

    Building an index once over a million sorted keys is much faster than inserting a million
    random keys one by one.  Worth it only when the load is large compared with what the
    table holds already (``worth_it``).  DDL is transactional on SQLite and PostgreSQL: an
    import that fails or is killed rolls the drop back with everything else.
    """

    def __init__(self, conn: Connection, *tables: Table, keys: bool = True) -> None:
        """``keys``: suspend the tables' foreign keys too.  Dropping a key locks the table it
        references as well (an import's sites and batches: already locked out of other imports);
        the assessment keeps its key to ``devices``, so pages that read devices are not locked out
        while it writes."""
        self.conn = conn
        self.tables = tables
        self.indexes = [ix for t in tables for ix in sorted(t.indexes, key=lambda i: str(i.name)) if not ix.unique]
        self.dropped = False
        # the free-text search index (migration 0012) is kept up to date row by row otherwise
        self.search = SuspendedSearch(conn) if any(t.name == "devices" for t in tables) else None
        # the scan merge's serial indexes (expressions ``schema.py`` cannot declare): rebuilt too
        self.match_ddl = index_ddl(conn.dialect.name) if any(t.name == "devices" for t in tables) else ()
        self.keys = SuspendedForeignKeys(conn, *tables) if keys else None

    @staticmethod
    def worth_it(conn: Connection, table: Table, incoming_rows: int) -> bool:
        if incoming_rows < BULK_ROWS:
            return False
        existing = conn.execute(select(func.count()).select_from(table)).scalar_one()
        return bool(existing < incoming_rows)

    def drop(self) -> None:
        bulk_settings(self.conn)
        if self.keys is not None:
            self.keys.drop()
        for ix in self.indexes:
            ix.drop(self.conn)
        for name in (TAIL_INDEX, IRREGULAR_INDEX) if self.match_ddl else ():
            self.conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
        if self.search is not None:
            self.search.drop()
        self.dropped = True

    def restore(self) -> None:
        if self.dropped:
            for ix in self.indexes:
                ix.create(self.conn)
            for ddl in self.match_ddl:
                self.conn.execute(text(ddl))
            if self.search is not None:
                self.search.restore()
            if self.keys is not None:
                self.keys.restore()
            if self.conn.dialect.name == "postgresql":
                # statistics for the planner now, not when autovacuum next passes: without them
                # it guesses 0.5 % of rows match any filter and picks whole-table scans
                self.conn.execute(text(f"ANALYZE {', '.join(t.name for t in self.tables)}"))
            self.dropped = False
