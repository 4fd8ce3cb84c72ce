"""The store: SQLAlchemy 2 over SQLite (default) or PostgreSQL, migrated by Alembic.

``Store.open()`` is the one way in; the CLI, the demo and (later) the web app share it.
"""

from phaseout.store.store import Store

__all__ = ["Store"]
