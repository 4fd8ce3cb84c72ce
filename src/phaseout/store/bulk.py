"""PostgreSQL settings and constraint handling for the bulk writes (a large import, a full
re-assessment): what made the server, not Python, the slow side of those writes.

Measured on 200,000 stored assessments (``COPY`` of the same rows, loaded 2-core machine):
9.6 s as the table stands (pglz-compressed JSON, the foreign key checked row by row, two
B-trees kept up to date), 7.6 s without the foreign key, 6.1 s with lz4 instead of pglz,
4.2 s with neither key nor secondary indexes and then 0.24 s to add the key back (one
validating join instead of a lookup per row).

Everything here is transaction-scoped (``SET LOCAL``, transactional DDL): a failed or killed
bulk write leaves the schema and the session as they were.  SQLite needs none of it.
"""

from __future__ import annotations

from sqlalchemy import Connection, Table, text

#: Memory for building the indexes a bulk load dropped (a GIN trigram index over 1,000,000
#: devices spills to disk many times at PostgreSQL's default 64 MB).
MAINTENANCE_WORK_MEM_MB = 512


def bulk_settings(conn: Connection) -> None:
    """For the rest of this transaction (PostgreSQL only): room to build indexes in memory,
    and lz4 for the large JSON texts written (a few times faster than the default pglz; the
    values read back the same, whichever compression stored them)."""
    if conn.dialect.name != "postgresql":
        return
    current = conn.execute(text("SELECT setting::bigint / 1024 FROM pg_settings WHERE name = 'maintenance_work_mem'"))
    if (current.scalar() or 0) < MAINTENANCE_WORK_MEM_MB:
        conn.execute(text(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM_MB}MB'"))
    lz4 = conn.execute(
        text("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
    ).scalar()
    if lz4:  # a server built without lz4 keeps pglz
        conn.execute(text("SET LOCAL default_toast_compression = 'lz4'"))


class SuspendedForeignKeys:
    """Drop the foreign keys a table holds (PostgreSQL) for a bulk load and add them back,
    with the same names and definitions, before commit.  Adding a key back checks every row
    in one join, so a row that breaks it still fails the whole transaction."""

    def __init__(self, conn: Connection, *tables: Table) -> None:
        self.conn = conn
        self.tables = tables
        self.dropped: list[tuple[str, str, str]] = []  # (table, constraint, definition)

    def drop(self) -> None:
        if self.conn.dialect.name != "postgresql":
            return
        for table in self.tables:
            rows = self.conn.execute(
                text(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE contype = 'f' AND conrelid = to_regclass(:t) ORDER BY conname"
                ),
                {"t": table.name},
            ).all()
            for name, definition in rows:
                self.conn.execute(text(f'ALTER TABLE {table.name} DROP CONSTRAINT "{name}"'))
                self.dropped.append((table.name, name, definition))

    def restore(self) -> None:
        for table, name, definition in self.dropped:
            self.conn.execute(text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))
        self.dropped = []
