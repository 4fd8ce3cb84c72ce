"""Fix-and-optimise: free the visits of one region (a sample of them when the region is large),
hold every other visit where it is, and let HiGHS re-plan the freed ones exactly within what the
held ones leave of each budget and of the region's crews.

Why: where crews are small (a few visits per region and period) the best plan packs each crew's
hours like a knapsack, which one-for-one swaps cannot do; a sub-problem of a few hundred visits
is solved to optimality by HiGHS in well under a second, where the whole problem's branch and
bound would not finish its root node.  The sub-problem is an ordinary :class:`Problem` (budgets
and crew hours reduced by what the held visits use), so the model, its carry-over rows and the
warm start are the product's own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import highspy
import numpy as np
import numpy.typing as npt

from phaseout.plan.improve import Arrays
from phaseout.plan.model import Model, build_model, start_vector
from phaseout.plan.problem import Period, Problem, Region

MAX_FREE = 360  # visits freed at once: HiGHS solves such a sub-problem in about a second
SUB_SECONDS = 1.0  # per sub-problem: most are solved or improved by then
Runner = Callable[[Model, float | None, float, npt.NDArray[np.float64] | None, dict[str, Any] | None], Any]


def _sub_problem(problem: Problem, a: Arrays, periods: npt.NDArray[np.int64], free: npt.NDArray[np.int64]) -> Problem:
    h = a.horizon
    held = np.ones(len(periods), dtype=bool)
    held[free] = False
    done = np.flatnonzero(held & (periods < h))
    spent = np.zeros(h)
    np.add.at(spent, periods[done], a.spend(done, periods[done]))
    used = np.zeros_like(a.crew)
    np.add.at(used, (a.region[done], periods[done]), a.hours[done])
    regions = sorted({int(r) for r in a.region[free]})
    packages = tuple(problem.packages[int(i)] for i in free)
    site_ids = {p.site for p in packages}
    return Problem(
        tuple(Period(p.id, float(a.budgets[t] - spent[t])) for t, p in enumerate(problem.periods)),
        tuple(
            Region(problem.regions[r].id, tuple(float(x) for x in np.maximum(a.crew[r] - used[r], 0.0)))
            for r in regions
        ),
        tuple(s for s in problem.sites if s.id in site_ids),
        packages,
        problem.carry_over,
    )


def reoptimise(
    problem: Problem,
    a: Arrays,
    periods: npt.NDArray[np.int64],
    free: npt.NDArray[np.int64],
    run: Runner,
    seconds: float,
    *,
    repair: bool = False,
) -> npt.NDArray[np.int64] | None:
    """The plan with the ``free`` visits re-planned optimally (or as well as ``seconds`` allow),
    or None when nothing better was found.  ``repair``: the plan misses deadlines among the
    freed visits; any plan that meets them is better."""
    sub = _sub_problem(problem, a, periods, free)
    model = build_model(sub)
    start = {p.id: int(periods[i]) for p, i in zip(sub.packages, free.tolist(), strict=True) if periods[i] < a.horizon}
    # a repair takes the first plan that meets the deadlines: the searches after it improve it
    options = {"mip_max_improving_sols": 1} if repair else None
    h = run(model, seconds, 1e-6, start_vector(model, sub, start), options)
    info = h.getInfo()
    if info.primal_solution_status != highspy.kSolutionStatusFeasible:
        return None
    values = np.asarray(h.getSolution().col_value)[: model.n_x]
    new = periods.copy()
    new[free] = a.horizon
    picked = np.flatnonzero(values > 0.5)
    new[free[model.x_package[picked]]] = model.x_period[picked]
    if repair:
        return new
    before = float((a.risk[free] * periods[free]).sum())
    after = float((a.risk[free] * new[free]).sum())
    return new if after < before - 1e-6 else None


def repair_deadlines(
    problem: Problem, a: Arrays, periods: npt.NDArray[np.int64], run: Runner, deadline: float
) -> npt.NDArray[np.int64]:
    """For each region with deadline visits left out, re-plan its visits (all its deadline
    visits and as many others as fit in a sub-problem) so the deadlines are met, when the
    budgets the other regions leave allow it."""
    h = a.horizon
    rng = np.random.default_rng(0)
    for r in np.unique(a.region[a.must & (periods >= h)]).tolist():
        left = deadline - time.perf_counter()
        if left < 0.3:
            break
        members = np.flatnonzero(a.region == r)
        if members.size > MAX_FREE:
            due = members[a.must[members]]
            others = members[~a.must[members]]
            room = max(MAX_FREE - due.size, 0)
            members = np.sort(np.concatenate([due, rng.choice(others, min(room, others.size), replace=False)]))
        fixed = reoptimise(problem, a, periods, members, run, min(left, 5 * SUB_SECONDS), repair=True)
        if fixed is not None:
            periods = fixed
    return periods


def by_region(
    problem: Problem,
    a: Arrays,
    periods: npt.NDArray[np.int64],
    run: Runner,
    deadline: float,
    seed: int = 0,
) -> npt.NDArray[np.int64]:
    """One pass over the regions, the one with most visits left undone or late first; stops at
    ``deadline`` (a ``time.perf_counter()`` value)."""
    rng = np.random.default_rng(seed)
    n_reg = a.crew.shape[0]
    weight = np.bincount(a.region, weights=a.risk * periods, minlength=n_reg)
    for r in np.argsort(-weight).tolist():
        left = deadline - time.perf_counter()
        if left < 0.3:
            break
        members = np.flatnonzero(a.region == r)
        if members.size > MAX_FREE:
            members = np.sort(rng.choice(members, MAX_FREE, replace=False))
        better = reoptimise(problem, a, periods, members, run, min(left, SUB_SECONDS))
        if better is not None:
            periods = better
    return periods
