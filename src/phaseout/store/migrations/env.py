"""Alembic environment: phaseout always passes an open connection (see ``store.migrate``)."""

from __future__ import annotations

from alembic import context

from phaseout.store.match_candidates import is_match_object
from phaseout.store.schema import metadata
from phaseout.store.search import is_search_object

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when someone runs the alembic CLI by hand
    raise RuntimeError("run migrations through `phaseout db upgrade`, which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    # the search index's FTS5 tables and expression indexes live in migration 0012, not schema.py;
    # the scan merge's serial indexes in 0014
    include_name=lambda name, *_: not (is_search_object(name) or is_match_object(name)),
)
with context.begin_transaction():
    context.run_migrations()
