"""Bulk inserts at the speed of the database: PostgreSQL ``COPY FROM STDIN``, SQLite ``executemany``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table

BATCH = 5_000


def placeholders(conn: Connection, n: int) -> str:
    """``n`` parameter marks in the driver's own style (sqlite3 ``?``, psycopg ``%s``)."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return ", ".join([mark] * n)


def copy_plain(conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Insert rows whose values are already in the stored form (dates as the driver takes them):
    ``COPY FROM STDIN`` on PostgreSQL, one driver-level ``executemany`` elsewhere, both on
    ``conn``'s transaction."""
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        copy_raw(conn.connection.dbapi_connection, table, columns, rows)
        return
    batch = list(rows)
    if batch:
        conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({placeholders(conn, len(columns))})", batch)


def copy_raw(raw: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """PostgreSQL: ``COPY FROM STDIN`` on a psycopg connection (what a background writer,
    which must not share the caller's SQLAlchemy ``Connection``, is given)."""
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as out:
        for row in rows:
            out.write_row(row)


def insert_rows(conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) on ``conn``'s transaction.

    On PostgreSQL through ``COPY`` (1,000,000 assessments with their JSON findings: an
    ``INSERT`` per 1,000 rows spends most of its time building and parsing statements); on
    SQLite through ``executemany`` in batches, as before.
    """
    if conn.dialect.name == "postgresql":
        copy_plain(conn, table.name, columns, rows)
        return
    batch: list[dict[str, Any]] = []
    for row in rows:  # SQLAlchemy's insert, so dates are stored in the format it reads back
        batch.append(dict(zip(columns, row, strict=True)))
        if len(batch) >= BATCH:
            conn.execute(table.insert(), batch)
            batch = []
    if batch:
        conn.execute(table.insert(), batch)


#: COPY's text format: backslash, tab, newline and carriage return written as escapes.
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_field(value: Any) -> str:
    """One value in PostgreSQL's ``COPY`` text format (what the driver would send for it):
    ``\\N`` for NULL, ISO dates and times, ``repr`` for numbers (a float's repr reads back
    exactly), text escaped."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.date):  # datetime too: isoformat keeps the offset
        return value.isoformat()
    return str(value).translate(_ESCAPES)


def copy_lines(conn: Connection, table: Table, columns: Sequence[str], lines: Iterable[str]) -> None:
    """PostgreSQL: ``COPY`` rows already written as text lines (fields by :func:`copy_field`,
    joined by tabs, each line ending in a newline), sent in large blocks.  For writers whose
    rows share most of their fields (a memoised assessment): the shared part is formatted once,
    not adapted value by value for every row."""
    raw: Any = conn.connection.dbapi_connection
    with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as out:
        block: list[str] = []
        size = 0
        for line in lines:
            block.append(line)
            size += len(line)
            if size >= COPY_BLOCK_CHARS:
                out.write("".join(block).encode())
                block, size = [], 0
        if block:
            out.write("".join(block).encode())


#: Characters of COPY text sent to the server at once.
COPY_BLOCK_CHARS = 1 << 20
