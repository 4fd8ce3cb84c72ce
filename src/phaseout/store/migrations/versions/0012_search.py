"""indexed free-text device search: SQLite FTS5 (trigram) kept in step by triggers;
PostgreSQL pg_trgm GIN indexes

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 17:10:00

The DDL is frozen here (``phaseout.store.search`` holds the same statements for bulk loads; a
test checks they agree).  Where the index cannot be made -- an SQLite without FTS5 or its
trigram tokenizer (before 3.34), a PostgreSQL role that may not create the ``pg_trgm``
extension -- the migration leaves it out and says so; the device listing then reads with the
plain ``LIKE`` (same answers, slower).  A later migration that rebuilds ``devices`` in SQLite
batch mode drops its triggers with the old table and must create them again.
"""

from __future__ import annotations

import logging

from alembic import op
from sqlalchemy import text

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

COLUMNS = (
    "model",
    "serial",
    "mac",
    "ip",
    "hostname",
    "description",
    "manufacturer",
    "brand",
    "asset_id",
    "id_model",
    "label",
)
_cols = ", ".join(COLUMNS)
_new = ", ".join(f"new.{c}" for c in COLUMNS)
_old = ", ".join(f"old.{c}" for c in COLUMNS)
#: re-imports rewrite every row with the values it had: only a real change touches the index
_changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in COLUMNS)

SQLITE_CREATE = (
    f"CREATE VIRTUAL TABLE devices_search USING fts5({_cols}, "
    "content='devices', content_rowid='id', tokenize='trigram')"
)
SQLITE_TRIGGER_DDL = {
    "devices_search_ai": (
        f"CREATE TRIGGER devices_search_ai AFTER INSERT ON devices BEGIN "
        f"INSERT INTO devices_search(rowid, {_cols}) VALUES (new.id, {_new}); END"
    ),
    "devices_search_ad": (
        f"CREATE TRIGGER devices_search_ad AFTER DELETE ON devices BEGIN "
        f"INSERT INTO devices_search(devices_search, rowid, {_cols}) VALUES ('delete', old.id, {_old}); END"
    ),
    "devices_search_au": (
        f"CREATE TRIGGER devices_search_au AFTER UPDATE OF {_cols} ON devices WHEN {_changed} BEGIN "
        f"INSERT INTO devices_search(devices_search, rowid, {_cols}) VALUES ('delete', old.id, {_old}); "
        f"INSERT INTO devices_search(rowid, {_cols}) VALUES (new.id, {_new}); END"
    ),
}
SQLITE_REBUILD = "INSERT INTO devices_search(devices_search) VALUES ('rebuild')"
SEARCH_EXPR = "lower(" + " || chr(31) || ".join(f"coalesce({c}, '')" for c in COLUMNS) + ")"


def pg_index_ddl(opclass: str) -> tuple[str, str]:
    return (
        f"CREATE INDEX ix_devices_search_trgm ON devices USING gin (({SEARCH_EXPR}) {opclass})",
        f"CREATE INDEX ix_sites_code_trgm ON sites USING gin ((lower(code)) {opclass})",
    )


SITES_LOWER_DDL = "CREATE INDEX ix_sites_code_lower ON sites (lower(code))"


def _sqlite_upgrade() -> None:
    conn = op.get_bind()
    try:
        with conn.begin_nested():
            conn.execute(text("CREATE VIRTUAL TABLE temp.phaseout_probe USING fts5(x, tokenize='trigram')"))
            conn.execute(text("DROP TABLE temp.phaseout_probe"))
    except Exception as exc:
        log.warning("free-text search index not created (SQLite lacks FTS5 trigram): %s", exc)
        return
    conn.execute(text(SQLITE_CREATE))
    conn.execute(text(SQLITE_REBUILD))  # backfill from the rows already there
    for ddl in SQLITE_TRIGGER_DDL.values():
        conn.execute(text(ddl))


def _pg_upgrade() -> None:
    conn = op.get_bind()
    try:
        with conn.begin_nested():
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except Exception as exc:
        log.warning(
            "free-text search index not created: CREATE EXTENSION pg_trgm refused (%s); "
            "ask the database owner to run it, then `phaseout db upgrade` again after a downgrade to 0011",
            exc,
        )
        return
    schema = conn.execute(
        text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE extname = 'pg_trgm'"
        )
    ).scalar_one()
    for ddl in pg_index_ddl(f'"{schema}".gin_trgm_ops'):  # backfills: the index is built over existing rows
        conn.execute(text(ddl))


def upgrade() -> None:
    op.execute(SITES_LOWER_DDL)  # the site filter's lower(code) = ...: an index and its statistics
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_upgrade()
    else:
        _pg_upgrade()


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_sites_code_lower")
    if op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_TRIGGER_DDL:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS devices_search")
    else:  # the extension stays: other objects may use it, and dropping it needs the owner
        op.execute("DROP INDEX IF EXISTS ix_devices_search_trgm")
        op.execute("DROP INDEX IF EXISTS ix_sites_code_trgm")
