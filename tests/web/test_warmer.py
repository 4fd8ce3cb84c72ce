"""The background warmer computes what a worker's first pages need before a visitor asks:
the aggregates, the site list's default order and the newest plan's cameras per site (18 MB of
plan JSON at 30,000 sites, parsed on a worker's first site page before)."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import func, select, text

from phaseout.queries import dashboard
from phaseout.store import Store, aggregates
from phaseout.store.schema import plans


def test_the_warmer_prepares_a_workers_first_pages(store: Store) -> None:
    with dashboard._lock:
        dashboard._cache.clear()
        dashboard._cameras_cache.clear()
    with store.engine.connect() as conn:
        latest = conn.execute(select(func.max(plans.c.id))).scalar()
        now = dashboard.generation(conn)
    assert latest is not None, "the web estate holds a plan"
    warmer = dashboard.Warmer(store.engine, every=0.05)
    warmer.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with dashboard._lock:
                ready = latest in dashboard._cameras_cache and ("sites-by:risk:desc", now) in dashboard._cache
            if ready:
                break
            time.sleep(0.05)
    finally:
        warmer.stop.set()
        warmer.thread.join(timeout=60)
    with dashboard._lock:
        assert latest in dashboard._cameras_cache
        assert ("sites-by:risk:desc", now) in dashboard._cache
        assert ("overview", now) in dashboard._cache


def test_the_warmer_rests_in_proportion_to_its_last_pass(store: Store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Under a stream of changes (a generation per collector upload) the warmer does not
    recompute without rest: after a pass that took T seconds it waits PACE x T (``every`` at
    least), and after a pass with nothing to do, ``every``."""
    clock = [100.0]
    monkeypatch.setattr(dashboard.time, "monotonic", lambda: clock[0])

    def slow_pass(conn) -> None:  # type: ignore[no-untyped-def]
        clock[0] += 2.5  # a pass over a large estate

    monkeypatch.setattr(dashboard.Warmer, "warm", staticmethod(slow_pass))
    warmer = dashboard.Warmer(store.engine, every=5.0)
    rests: list[float] = []

    def wait(timeout: float) -> bool:
        rests.append(timeout)
        if len(rests) == 2:
            warmer.stop.set()
        return warmer.stop.is_set()

    monkeypatch.setattr(warmer.stop, "wait", wait)
    warmer._run()  # first pass: a new generation, 2.5 s; second: the same generation, nothing to do
    assert rests == [dashboard.PACE * 2.5, 5.0]
    assert dashboard.warmer_rest(5.0, 0.1) == 5.0


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_one_worker_warms_at_a_time(db_url: str) -> None:
    """Each web worker warmed on its own: N workers recomputed the same aggregates N times per
    generation.  The turn is shared through the database: one worker wins it and holds it for
    its pass and its rest; a worker that died mid-pass holds it only for ``WARM_HOLD``."""
    with Store.open(db_url) as a, Store.open(db_url) as b:
        t0 = dt.datetime(2026, 12, 2, 5, 0, tzinfo=dt.UTC)
        assert aggregates.take_warming_turn(a.engine, t0)
        assert not aggregates.take_warming_turn(b.engine, t0 + dt.timedelta(seconds=1))
        aggregates.end_warming_turn(a.engine, 20.0, t0 + dt.timedelta(seconds=5))  # a 5 s pass, 20 s rest
        assert not aggregates.take_warming_turn(b.engine, t0 + dt.timedelta(seconds=24))
        assert aggregates.take_warming_turn(b.engine, t0 + dt.timedelta(seconds=26))
        # b "dies" holding the turn: after WARM_HOLD anyone may take it
        late = t0 + dt.timedelta(seconds=26) + aggregates.WARM_HOLD
        assert not aggregates.take_warming_turn(a.engine, late - dt.timedelta(seconds=1))
        assert aggregates.take_warming_turn(a.engine, late + dt.timedelta(seconds=1))


def test_sqlite_warmers_always_warm(store: Store) -> None:
    assert store.engine.dialect.name == "sqlite"
    assert aggregates.take_warming_turn(store.engine) and aggregates.take_warming_turn(store.engine)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_warmer_that_loses_the_turn_rests_and_asks_again(db_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with Store.open(db_url) as a:
        assert aggregates.take_warming_turn(a.engine)  # another worker is warming
        passes: list[int] = []
        monkeypatch.setattr(dashboard.Warmer, "warm", staticmethod(lambda conn: passes.append(1)))
        warmer = dashboard.Warmer(a.engine, every=5.0)
        rests: list[float] = []

        def wait(timeout: float) -> bool:
            rests.append(timeout)
            warmer.stop.set()
            return True

        monkeypatch.setattr(warmer.stop, "wait", wait)
        warmer._run()
        assert passes == [] and rests == [5.0]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_the_warmers_queries_take_one_core(db_url: str) -> None:
    """Background work runs without parallel workers, for its own transaction only."""
    with Store.open(db_url) as store:
        with store.engine.connect() as conn:
            default = conn.execute(text("SHOW max_parallel_workers_per_gather")).scalar()
            dashboard.Warmer.warm(conn)
            assert conn.execute(text("SHOW max_parallel_workers_per_gather")).scalar() == "0"
        with store.engine.connect() as conn:
            assert conn.execute(text("SHOW max_parallel_workers_per_gather")).scalar() == default


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_worker_without_the_turn_reads_what_the_other_stored(db_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The worker that has the turn computes and stores the aggregates; the others read them
    into their own process once stored, with what is derived from them there (the site list's
    order), computing none.  Left to their visitors, each other worker's first pages read and
    sorted them, and its first site page parsed the newest plan."""
    from phaseout.store.generation import bump

    with Store.open(db_url) as store:
        with store.engine.begin() as conn:
            bump(conn)
        with store.engine.connect() as conn:
            now = dashboard.generation(conn)
            dashboard.Warmer.warm(conn)  # the worker with the turn stores its pass...
        assert aggregates.take_warming_turn(store.engine)  # ...and holds the turn
        with dashboard._lock:
            dashboard._cache.clear()  # this process is another worker
        computed: list[str] = []
        for name in ("_overview", "_site_rows", "_findings"):
            monkeypatch.setattr(dashboard, name, lambda conn, name=name: computed.append(name))
        warmer = dashboard.Warmer(store.engine, every=5.0)
        monkeypatch.setattr(warmer.stop, "wait", lambda timeout: warmer.stop.set() or True)
        warmer._run()
        assert computed == []
        with dashboard._lock:
            assert {("overview", now), ("sites", now), ("findings", now), ("sites-by:risk:desc", now)} <= set(
                dashboard._cache
            )


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_the_turn_keeps_the_databases_time(db_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Workers on hosts whose clocks differ share one turn: each worker's own clock made one
    whose clock ran an hour ahead hold the turn an hour past its rest (and past ``WARM_HOLD``
    had it died); the database's clock is the one they all read."""
    import types

    class Ahead(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Ahead:  # type: ignore[override]
            return super().now(tz) + dt.timedelta(hours=1)

    with Store.open(db_url) as store:
        monkeypatch.setattr(aggregates, "dt", types.SimpleNamespace(datetime=Ahead, timedelta=dt.timedelta, UTC=dt.UTC))
        assert aggregates.take_warming_turn(store.engine)  # a worker on the host an hour ahead
        aggregates.end_warming_turn(store.engine, 0.2)  # its pass is over: 0.2 s of rest
        monkeypatch.undo()
        time.sleep(0.5)
        assert aggregates.take_warming_turn(store.engine)  # a worker on a host with the right time
