"""Allocate primary keys for bulk inserts without a round trip per row.

``executemany`` cannot return generated ids on SQLite, and a million single-row inserts
with ``RETURNING`` are far too slow, so imports take ids themselves: on SQLite the write
lock held by the import transaction makes ``max(id) + 1`` safe; on PostgreSQL the table is
locked for the import and the sequence is moved past the ids used before commit.
"""

from __future__ import annotations

from sqlalchemy import Connection, Table, func, select, text


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
