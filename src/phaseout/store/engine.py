"""Open a database: resolve the URL, configure SQLite for safe concurrent use, migrate.

SQLite is the default (one file, no server) and runs in WAL mode so the dashboard can read
while an import writes.  PostgreSQL is used when the URL says so (``--db`` or
``PHASEOUT_DB``).  Both are brought to the newest schema by Alembic on open.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from phaseout.errors import StoreError, UsageError

ENV_VAR = "PHASEOUT_DB"
#: SQLite page cache per connection (negative = KiB): 64 MiB.
CACHE_KIB = -65536
#: How long a write waits for another writer (an import holds the lock for its whole file).
BUSY_TIMEOUT_MS = 10_000


def default_sqlite_path() -> Path:
    """``$XDG_DATA_HOME/phaseout/phaseout.db``, i.e. ``~/.local/share/phaseout/phaseout.db``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "phaseout" / "phaseout.db"


def resolve_url(db: str | None = None) -> URL:
    """The database to use: ``db`` argument, else ``$PHASEOUT_DB``, else the default file.

    A value without ``://`` is a path to an SQLite file.  ``postgresql://`` URLs are sent
    through psycopg 3.
    """
    value = db or os.environ.get(ENV_VAR) or str(default_sqlite_path())
    if "://" not in value:
        return URL.create("sqlite+pysqlite", database=str(Path(value).expanduser()))
    try:
        url = make_url(value)
    except ArgumentError as exc:
        raise StoreError(f"not a database URL: {value!r}", hint="use a file path or postgresql://...") from exc
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreError(
            f"unsupported database {url.get_backend_name()!r}",
            hint="phaseout runs on SQLite (a file path) or PostgreSQL (postgresql://user@host/db)",
        )
    return url


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, and real transactions (pysqlite's implicit BEGIN is turned off so
    SQLAlchemy's BEGIN is the only one; ``sqlite_begin="IMMEDIATE"`` takes the write lock up
    front, which imports use to fail fast instead of deadlocking)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute(f"PRAGMA cache_size={CACHE_KIB}")
        cur.close()

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_conn: Any, record: Any) -> None:
        if record.info.pop("cache_raised", False):  # an import raised the page cache: put it back
            dbapi_conn.execute(f"PRAGMA cache_size={CACHE_KIB}")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A transaction that writes: ``engine.begin()``, but on SQLite it takes the write lock at
    ``BEGIN`` (``IMMEDIATE``).

    Why: in WAL mode a transaction that reads first holds a snapshot, and when it then writes
    after another connection has committed, SQLite cannot move the snapshot forward and fails at
    once (``SQLITE_BUSY_SNAPSHOT``) instead of waiting: four threads creating API tokens at once
    lost 195 of 240 that way.  Taken up front, the lock is waited for (``BUSY_TIMEOUT_MS``) and
    the reads see the newest data.  Readers are never blocked (WAL); PostgreSQL is unchanged."""
    with engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
        yield conn


def _translate_errors(engine: Engine) -> None:
    """A busy database and an out-of-range number are the user's to fix: say so (exit 5 / 2)
    instead of a driver traceback."""

    @event.listens_for(engine, "handle_error")
    def _on_error(context: Any) -> None:
        original = context.original_exception
        if isinstance(original, OverflowError) or getattr(original, "sqlstate", None) == "22003":
            raise UsageError(
                "a number given is larger than any id or count the database holds",
                hint="ids and counts are at most 9,223,372,036,854,775,807; check the number",
            ) from None
        if "database is locked" in str(original) or "database is busy" in str(original):
            raise StoreError(
                f"the database is busy: another import or write held it for {BUSY_TIMEOUT_MS / 1000:g} s",
                hint="wait for the other import to finish (phaseout imports shows it), then run this again",
            ) from original


def create_store_engine(url: URL) -> Engine:
    """An engine for ``url``; creates the SQLite file's folder if needed."""
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            try:
                Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the folder for {url.database}: {exc.strerror}",
                    hint="choose another path with --db or PHASEOUT_DB",
                ) from exc
        engine = create_engine(url)
        _configure_sqlite(engine)
        _translate_errors(engine)
        return engine
    engine = create_engine(url, pool_pre_ping=True)
    _translate_errors(engine)
    return engine


def check_connection(engine: Engine) -> None:
    """Fail early with advice when the database is unreachable."""
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        raise StoreError(
            f"cannot open the database {engine.url.render_as_string(hide_password=True)}: {exc.orig}",
            hint="check the path or URL given with --db / PHASEOUT_DB, and that the server is running",
        ) from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"database error: {exc}") from exc
