"""The :class:`Store` object: an engine plus the read queries every front end needs.

Writes that must be atomic over many rows (imports) live in :mod:`phaseout.app.imports`
and take the store's engine; everything here is a short read or a single-row write.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from phaseout.errors import StoreError
from phaseout.store import migrate
from phaseout.store.engine import check_connection, create_store_engine, resolve_url
from phaseout.store.schema import assessments, devices, evidence, import_batches, observations, sites


class Store:
    """A migrated database.  Use :meth:`open`; close with :meth:`close` or ``with``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, db: str | None = None, *, upgrade: bool = True) -> Store:
        """Open (creating if needed) the database named by ``db`` / ``$PHASEOUT_DB`` / the
        default path, and bring its schema up to date."""
        url = resolve_url(db)
        engine = create_store_engine(url)
        check_connection(engine)
        if upgrade:
            try:
                migrate.upgrade(engine)
            except SQLAlchemyError as exc:
                engine.dispose()
                raise StoreError(
                    f"cannot bring the database schema up to date: {exc}",
                    hint="is this a phaseout database? Check --db / PHASEOUT_DB",
                ) from exc
        return cls(engine)

    @property
    def url_for_display(self) -> str:
        """A file path for SQLite (what ``--db`` takes), the URL without password otherwise."""
        url = self.engine.url
        if url.get_backend_name() == "sqlite" and url.database:
            return url.database
        return url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- reads -----------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Row counts of every table: a quick health view and a test oracle."""
        with self.engine.connect() as conn:
            return {
                t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in (sites, devices, observations, import_batches, evidence, assessments)
            }

    def table_rows(self, names: Sequence[str] | None = None) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the named tables, ordered by id: lets tests prove that a failed or
        killed import changed nothing at all."""
        tables = {t.name: t for t in (sites, devices, observations, import_batches, evidence)}
        with self.engine.connect() as conn:
            return {
                name: [tuple(r) for r in conn.execute(select(tables[name]).order_by(*tables[name].primary_key))]
                for name in (names or tables)
            }
