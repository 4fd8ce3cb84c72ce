"""Shared fixtures.

``db_url`` runs a store test twice: on a fresh SQLite file, and on PostgreSQL in a schema of
its own (dropped afterwards).  PostgreSQL tests are skipped when no server answers, except
under ``CI=true``, where a missing server fails the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

# Rich reads the terminal width once, when a console is created: give the CLI's consoles a wide
# one before any test imports them, so tables are not wrapped in captured output.
os.environ.setdefault("COLUMNS", "200")

PG_URL = os.environ.get("PHASEOUT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# The team's shared research folder (read-only test data, never committed): beside the checkout,
# or where PHASEOUT_SHARED points (CI clones the project elsewhere).
SHARED = next(
    (
        p
        for p in (
            Path(os.environ.get("PHASEOUT_SHARED", "/nonexistent")),
            Path(__file__).resolve().parents[2] / "shared",
            Path("/work/shared"),
        )
        if p.is_dir()
    ),
    Path(__file__).resolve().parents[2] / "shared",
)

_pg_state: dict[str, str | None] = {}


def pg_unavailable() -> str | None:
    """None when PostgreSQL answers, else the reason (cached for the session)."""
    if "reason" not in _pg_state:
        try:
            engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(text("select 1"))
            engine.dispose()
            _pg_state["reason"] = None
        except Exception as exc:  # any failure means "not here"
            _pg_state["reason"] = f"PostgreSQL not reachable at {PG_URL}: {exc.__class__.__name__}"
    return _pg_state["reason"]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return str(tmp_path / "phaseout.db")


@pytest.fixture
def pg_url() -> Iterator[str]:
    reason = pg_unavailable()
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true requires PostgreSQL: {reason}")
        pytest.skip(reason)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        # the search index's extension, database-wide in public: installed by a migration inside a
        # test's schema it would vanish with that schema under another test (migration 0012)
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database of each kind."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path
