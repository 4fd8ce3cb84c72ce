"""Writes that read first must wait for each other on SQLite, not fail.

In WAL mode a transaction that reads before it writes holds a snapshot; if another connection
commits meanwhile, SQLite refuses the write at once (``SQLITE_BUSY_SNAPSHOT``) and the busy
timeout never applies.  The web server runs requests on a thread pool, so two admins creating
API tokens, a setting changed while a collector checks in, or two waivers at once each lost
most of their writes with "the database is busy".  ``store.engine.writing`` takes the write lock
at ``BEGIN`` instead."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, func, select, text

from phaseout.store import Store
from phaseout.store.engine import writing
from phaseout.store.schema import api_tokens
from phaseout.store.settings import set_setting
from phaseout.store.users import add_user, create_token

THREADS = 4
EACH = 25


def _together(jobs: list[Callable[[], None]]) -> list[BaseException]:
    """Run the jobs on threads started at once; the errors they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(jobs))

    def run(job: Callable[[], None]) -> None:
        start.wait()
        try:
            job()
        except BaseException as exc:  # collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_concurrent_read_then_write_transactions_all_land(tmp_path: Path) -> None:
    with Store.open(str(tmp_path / "phaseout.db")) as store:
        add_user(store.engine, "admin", "admin", "a-long-password-1")

        def tokens(n: int) -> Callable[[], None]:
            def make() -> None:
                for i in range(EACH):
                    create_token(store.engine, "admin", f"t{n}-{i}")

            return make

        def settings() -> None:
            for i in range(EACH):
                set_setting(store.engine, "currency", "EUR" if i % 2 else "GBP", actor="admin")

        errors = _together([tokens(n) for n in range(THREADS - 1)] + [settings])
        assert errors == []
        with store.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(api_tokens)).scalar() == (THREADS - 1) * EACH


def test_a_deferred_read_then_write_would_fail(tmp_path: Path) -> None:
    """The failure ``writing`` avoids, shown directly: a plain transaction that read before
    another connection committed cannot write; the same through ``writing`` waits and writes."""
    with Store.open(str(tmp_path / "phaseout.db")) as store:
        engine = store.engine
        with writing(engine) as conn:
            conn.execute(text("CREATE TABLE t (n INTEGER)"))
        with engine.connect() as first:
            first.execute(text("SELECT count(*) FROM t")).scalar()  # a snapshot is held from here
            with writing(engine) as other:
                other.execute(text("INSERT INTO t VALUES (1)"))
            try:
                first.execute(text("INSERT INTO t VALUES (2)"))
                failed = False
            except Exception as exc:  # StoreError (translated "database is locked")
                failed = "busy" in str(exc)
            first.rollback()
        assert failed
        errors = _together([lambda: _read_then_write(engine) for _ in range(THREADS)])
        assert errors == []
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 1 + THREADS


def _read_then_write(engine: Engine) -> None:
    with writing(engine) as conn:
        n = conn.execute(text("SELECT count(*) FROM t")).scalar()
        conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
