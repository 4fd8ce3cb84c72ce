"""The background warmer computes what a worker's first pages need before a visitor asks:
the aggregates, the site list's default order and the newest plan's cameras per site (18 MB of
plan JSON at 30,000 sites, parsed on a worker's first site page before)."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from phaseout.queries import dashboard
from phaseout.store import Store
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
