"""The cycle collector is paused while any merge of the process runs, and resumes after the last
one, even when a merge fails; a collector that was off stays off."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from phaseout.app import gc_pause


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_nested_and_failing_merges_resume_the_collector() -> None:
    gc.enable()
    with gc_pause.paused():
        assert not gc.isenabled()
        with pytest.raises(RuntimeError), gc_pause.paused():
            raise RuntimeError("a merge failed")
        assert not gc.isenabled()  # the outer merge still runs
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with gc_pause.paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_merges_that_overlap_without_end_still_collect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Uploads from many collectors can overlap so that one merge always runs (A starts, B
    starts, A ends, C starts, B ends...): the count never reaches zero, and without a bound the
    cycle collector would never run again, while every request of the server (not only the
    merges) leaves cyclic garbage.  After ``MAX_PAUSE`` seconds paused, a merge that ends
    collects although another still runs."""
    monkeypatch.setattr(gc_pause, "MAX_PAUSE", 0.0, raising=False)  # (any pause is long enough)
    gc.enable()
    gc.collect()
    first = gc_pause.paused()
    first.__enter__()
    second = gc_pause.paused()
    second.__enter__()

    class Node:
        pass

    cycle = Node()
    cycle.self = cycle  # type: ignore[attr-defined]
    alive = weakref.ref(cycle)
    del cycle
    assert alive() is not None  # garbage, but only the cycle collector frees it
    first.__exit__(None, None, None)  # the second merge still runs
    assert not gc.isenabled()
    assert alive() is None
    second.__exit__(None, None, None)
    assert gc.isenabled()
