"""Aggregates computed by one process are read by the others for the same store generation
(``store.aggregates``, migration 0013): a second worker, or a restarted one, does not compute
them again; a process that finds another computing waits for its answer; a new generation, a
value JSON cannot give back exactly, a failed or abandoned computation each lead to computing
here, never to a wrong or stale answer."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from phaseout.app.assessment import run_assessment
from phaseout.policy.packs import available_packs
from phaseout.queries import dashboard
from phaseout.store import Store, aggregates
from phaseout.store.generation import bump
from phaseout.store.schema import aggregate_cache
from tests.store.test_search import _estate


@pytest.fixture
def store(pg_url: str) -> Iterator[Store]:
    with Store.open(pg_url) as s:
        with s.engine.begin() as conn:
            bump(conn)
        yield s


def _forget_in_process() -> None:
    """What a second worker (or a restart) starts with: nothing in its own memory."""
    with dashboard._lock:
        dashboard._cache.clear()


def _never() -> object:
    raise AssertionError("computed again although another process stored the answer")


def test_a_second_process_reads_the_stored_answer(store: Store) -> None:
    value = {"by_vendor": [{"key": "hikvision", "n": 3}], "total": 3, "share": 0.5, "none": None}
    with store.engine.connect() as conn:
        assert dashboard.cached(conn, "shared-test", lambda: value) == value
    _forget_in_process()
    with store.engine.connect() as conn:
        assert dashboard.cached(conn, "shared-test", _never) == value
    with store.engine.begin() as conn:  # any write: a new generation, computed afresh
        bump(conn)
    _forget_in_process()
    with store.engine.connect() as conn:
        assert dashboard.cached(conn, "shared-test", lambda: {"total": 4}) == {"total": 4}


@pytest.mark.parametrize("value", [{"when": dt.date(2026, 12, 1)}, {"pair": (1, 2)}, [float("nan")]])
def test_values_json_cannot_give_back_are_not_shared(store: Store, value: object) -> None:
    with store.engine.connect() as conn:
        dashboard.cached(conn, "unshared-test", lambda: value)
    _forget_in_process()
    calls: list[int] = []

    def again() -> object:
        calls.append(1)
        return value

    with store.engine.connect() as conn:
        dashboard.cached(conn, "unshared-test", again)
    assert calls == [1]


def test_a_process_waits_for_the_one_computing(store: Store) -> None:
    with store.engine.connect() as conn:
        generation = dashboard.generation(conn)
    now = dt.datetime.now(dt.UTC)
    with store.engine.begin() as conn:  # another worker has claimed it and is computing
        conn.execute(insert(aggregate_cache).values(name="wait-test", generation=generation, started_at=now))

    def finish() -> None:
        time.sleep(0.6)
        with store.engine.begin() as conn:
            conn.execute(update(aggregate_cache).where(aggregate_cache.c.name == "wait-test").values(value="[42]"))

    other = threading.Thread(target=finish)
    other.start()
    started = time.monotonic()
    with store.engine.connect() as conn:
        assert dashboard.cached(conn, "wait-test", _never) == [42]
    other.join()
    assert time.monotonic() - started >= 0.5


def test_an_abandoned_claim_is_taken_over(store: Store) -> None:
    with store.engine.connect() as conn:
        generation = dashboard.generation(conn)
    long_ago = dt.datetime.now(dt.UTC) - aggregates.STALE - dt.timedelta(seconds=1)
    with store.engine.begin() as conn:
        conn.execute(insert(aggregate_cache).values(name="stale-test", generation=generation, started_at=long_ago))
    with store.engine.connect() as conn:
        assert dashboard.cached(conn, "stale-test", lambda: [7]) == [7]
    with store.engine.connect() as conn:
        stored = conn.execute(select(aggregate_cache.c.value).where(aggregate_cache.c.name == "stale-test")).scalar()
    assert stored == "[7]"


def test_a_failed_computation_leaves_no_claim(store: Store) -> None:
    def broken() -> object:
        raise RuntimeError("database went away")

    with store.engine.connect() as conn, pytest.raises(RuntimeError):
        dashboard.cached(conn, "failed-test", broken)
    with store.engine.connect() as conn:
        assert conn.execute(select(aggregate_cache).where(aggregate_cache.c.name == "failed-test")).first() is None
        assert dashboard.cached(conn, "failed-test", lambda: 5) == 5  # no one waits for a claim left behind


def test_the_dashboard_aggregates_are_shared(pg_url: str, tmp_path: Path) -> None:
    """The real aggregates of an assessed estate are stored, and a second worker reads back
    exactly what it would compute."""
    with _estate(pg_url, tmp_path) as store:
        run_assessment(store.engine, [available_packs()["org-template"]], dt.date(2026, 12, 1))
        _forget_in_process()
        with store.engine.connect() as conn:
            computed = dashboard.overview(conn), dashboard.all_sites(conn), dashboard.findings_summary(conn)
        with store.engine.connect() as conn:  # a new snapshot (SQLite's reader keeps its own)
            stored = dict(conn.execute(select(aggregate_cache.c.name, aggregate_cache.c.value)).all())
        assert all(stored.get(name) for name in ("overview", "sites", "findings")), stored.keys()
        _forget_in_process()
        with store.engine.connect() as conn:
            again = dashboard.overview(conn), dashboard.all_sites(conn), dashboard.findings_summary(conn)
        assert again == computed


def test_a_search_total_is_counted_once_across_workers(pg_url: str, tmp_path: Path, monkeypatch: Any) -> None:
    with _estate(pg_url, tmp_path) as store:
        with store.engine.connect() as conn:
            first = dashboard.list_devices(conn, q="cam-")
        assert first[0] == 2
        with dashboard._lock:  # the second worker: no totals of its own
            dashboard._text_counts.clear()

        def never(*_: object, **__: object) -> int:
            raise AssertionError("counted again although another worker stored the total")

        monkeypatch.setattr(dashboard, "count", never)
        with store.engine.connect() as conn:
            assert dashboard.list_devices(conn, q="cam-") == first


def test_sqlite_computes_in_each_process_and_writes_nothing(sqlite_url: str) -> None:
    """A SQLite store never writes the cache: a background write there broke a user's
    read-then-write transaction (``SQLITE_BUSY`` on a stale snapshot)."""
    with Store.open(sqlite_url) as s:
        with s.engine.begin() as conn:
            bump(conn)
        calls: list[int] = []
        with s.engine.connect() as conn:
            for _ in range(2):
                _forget_in_process()
                assert dashboard.cached(conn, "sqlite-test", lambda: calls.append(1) or {"n": 1}) == {"n": 1}
        assert len(calls) == 2
        with s.engine.connect() as conn:
            assert conn.execute(select(aggregate_cache)).first() is None
