"""The solve hands memory back and reports the LP bound it judged its plan by (issue 18)."""

from __future__ import annotations

import platform
import sys

import numpy as np
import pytest

from phaseout.plan.memory import map_large_blocks, return_freed_memory
from phaseout.plan.problem import problem_from_dict
from phaseout.plan.solve import lp_bound, solve

from .conftest import random_problem

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


def _resident_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not GLIBC, reason="mallopt / malloc_trim are glibc's")
def test_a_freed_large_block_goes_back_at_once() -> None:
    assert map_large_blocks() is True
    before = _resident_mb()
    block = np.ones(8 << 20)  # 64 MB, touched
    assert _resident_mb() - before > 50
    del block
    assert _resident_mb() - before < 10
    assert isinstance(return_freed_memory(), bool)


@pytest.mark.parametrize(("sites", "carry_over"), [(400, False), (3000, True)])
def test_the_solve_reports_the_lp_bound_it_was_judged_by(sites: int, carry_over: bool) -> None:
    """The benchmarks take ``relaxation`` instead of solving the LP again: it must be that LP's
    optimum, on the one-solve path and on the column-generation path (3,000 sites)."""
    problem = problem_from_dict(random_problem(11, sites=sites, periods=8, carry_over=carry_over))
    result = solve(problem, time_limit=None)
    assert result.status != "infeasible"
    again = lp_bound(problem)
    assert result.relaxation is not None and again is not None
    assert result.relaxation == pytest.approx(again, rel=1e-9)
    assert result.bound is not None and result.bound >= result.relaxation - 1e-6 * max(abs(again), 1.0)
