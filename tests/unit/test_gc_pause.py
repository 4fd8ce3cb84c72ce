"""The cycle collector is paused while any merge of the process runs, and resumes after the last
one, even when a merge fails; a collector that was off stays off."""

from __future__ import annotations

import gc
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
