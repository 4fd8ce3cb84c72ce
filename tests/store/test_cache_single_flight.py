"""The generation cache computes an aggregate once per process even when the warmer and
requests ask for it at the same moment; a failed computation does not leave waiters stuck."""

from __future__ import annotations

import threading
import time

import pytest

from phaseout.queries.dashboard import cached
from phaseout.store import Store


def test_concurrent_callers_share_one_computation(sqlite_url: str) -> None:
    calls: list[int] = []
    gate = threading.Event()

    def compute() -> list[int]:
        calls.append(1)
        gate.wait(5)  # the other callers arrive while this one is still computing
        return [len(calls)]

    got: list[object] = []
    with Store.open(sqlite_url) as store:

        def ask() -> None:
            with store.engine.connect() as conn:
                got.append(cached(conn, "single-flight-test", compute))

        threads = [threading.Thread(target=ask) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        gate.set()
        for t in threads:
            t.join(10)
    assert len(calls) == 1
    assert got == [[1]] * 4
    assert all(g is got[0] for g in got)


def test_a_failed_computation_lets_the_next_caller_compute(sqlite_url: str) -> None:
    with Store.open(sqlite_url) as store, store.engine.connect() as conn:

        def broken() -> int:
            raise RuntimeError("database went away")

        with pytest.raises(RuntimeError):
            cached(conn, "single-flight-failure", broken)
        assert cached(conn, "single-flight-failure", lambda: 7) == 7
