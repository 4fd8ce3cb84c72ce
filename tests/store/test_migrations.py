"""Alembic migrations and the table definitions must agree, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from phaseout.store import Store, migrate
from phaseout.store.match_candidates import is_match_object
from phaseout.store.schema import metadata
from phaseout.store.search import is_search_object


# migration 0012's lower(code) index on SQLite: SQLAlchemy cannot reflect expression indexes there
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_migrations_match_the_schema(db_url: str) -> None:
    with Store.open(db_url) as store:
        assert migrate.current_revision(store.engine) == migrate.head_revision()
        with store.engine.connect() as conn:
            # migration 0012's FTS/trigram objects and 0014's serial indexes are not in schema.py
            keep = {"include_name": lambda name, *_: not (is_search_object(name) or is_match_object(name))}
            context = MigrationContext.configure(conn, opts=keep)
            diff = compare_metadata(context, metadata)
        assert diff == [], f"schema.py and the migrations differ; add a revision: {diff}"


def test_downgrade_and_upgrade_again(db_url: str) -> None:
    with Store.open(db_url) as store:
        migrate.downgrade(store.engine, "base")
        assert not {"devices", "sites"} & set(inspect(store.engine).get_table_names())
        migrate.upgrade(store.engine)
        assert {"devices", "sites", "observations", "import_batches"} <= set(inspect(store.engine).get_table_names())


def test_sqlite_runs_in_wal_mode(sqlite_url: str) -> None:
    with Store.open(sqlite_url) as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_default_path_and_env(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from phaseout.store.engine import resolve_url

    monkeypatch.delenv("PHASEOUT_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert resolve_url().database == str(tmp_path / "phaseout" / "phaseout.db")
    monkeypatch.setenv("PHASEOUT_DB", "postgresql://u@h/db")
    assert resolve_url().drivername == "postgresql+psycopg"
    assert resolve_url("/x/y.db").database == "/x/y.db"
