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
from phaseout.plan.model import build_model, start_vector
from phaseout.plan.problem import Period, Problem, Region

MAX_FREE = 360  # visits freed at once: HiGHS solves such a sub-problem in about a second
SUB_SECONDS = 1.0  # CPU seconds per sub-problem: most are solved or improved by then
#: :func:`phaseout.plan.solve.run_highs` (model, wall seconds, gap, start, options, cpu_seconds=...)
Runner = Callable[..., Any]


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
    cpu_seconds: float | None = None,
) -> npt.NDArray[np.int64] | None:
    """The plan with the ``free`` visits re-planned optimally (or as well as ``seconds`` of wall
    clock and ``cpu_seconds`` of this process's CPU time allow), or None when nothing better was
    found.  ``repair``: the plan misses deadlines among the
    freed visits; any plan that meets them is better."""
    sub = _sub_problem(problem, a, periods, free)
    model = build_model(sub)
    start = {p.id: int(periods[i]) for p, i in zip(sub.packages, free.tolist(), strict=True) if periods[i] < a.horizon}
    # a repair takes the first plan that meets the deadlines: the searches after it improve it
    options = {"mip_max_improving_sols": 1} if repair else None
    h = run(model, seconds, 1e-6, start_vector(model, sub, start), options, cpu_seconds=cpu_seconds)
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
        better = reoptimise(problem, a, periods, members, run, left, cpu_seconds=SUB_SECONDS)
        if better is not None:
            periods = better
    return periods


#: visits freed at once by the LP-guided and period-window neighbourhoods: more than a region's
#: (HiGHS still improves such a sub-problem within a few seconds), because their gain is in
#: exchanges across regions and periods that a region's sub-problem cannot make
MAX_WIDE = 600
#: CPU seconds per LP-guided sub-problem (measured: one of 502 visits gained 0.21 % in 2.3 s)
WIDE_SECONDS = 3.0


def lp_guided(
    problem: Problem,
    a: Arrays,
    periods: npt.NDArray[np.int64],
    lp_periods: npt.NDArray[np.int64],
    run: Runner,
    deadline: float,
    seed: int = 0,
) -> npt.NDArray[np.int64]:
    """Relaxation-induced neighbourhood: hold every visit where the plan and the LP relaxation
    agree (the LP put it wholly in that period, or wholly out) and re-plan the rest exactly.

    Why: on shapes whose money binds every period, the plan loses to the bound in a few hundred
    visits the rounding placed differently from the LP, spread over every region and period; no
    region's sub-problem holds them together, and swaps one for one do not reach the exchanges
    (measured on ``one-visit-small-regions``: from 0.58 % to 0.27 % in one 5 s sub-problem).
    ``lp_periods`` is -1 for a visit the LP splits.  When more than :data:`MAX_WIDE` visits
    disagree, whole regions' disagreements are taken in a seeded random order until full."""
    free = np.flatnonzero(periods != lp_periods)
    if free.size == 0:
        return periods
    if free.size > MAX_WIDE:
        rng = np.random.default_rng(seed)
        order = rng.permutation(a.crew.shape[0])
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        free = free[np.argsort(rank[a.region[free]], kind="stable")][:MAX_WIDE]
        free.sort()
    left = deadline - time.perf_counter()
    if left < 0.3:
        return periods
    better = reoptimise(problem, a, periods, free, run, left, cpu_seconds=WIDE_SECONDS)
    return periods if better is None else better


def by_window(
    problem: Problem,
    a: Arrays,
    periods: npt.NDArray[np.int64],
    run: Runner,
    deadline: float,
    seed: int = 0,
) -> npt.NDArray[np.int64]:
    """One pass over pairs of consecutive periods: free the visits of both (every region) and the
    visits left out that could go there (a sample when over :data:`MAX_WIDE`), hold the rest.

    Why: with every budget binding, a better plan moves money between regions within a period
    and visits between neighbouring periods at once, which neither a region's sub-problem nor a
    swap can do."""
    rng = np.random.default_rng(seed)
    h = a.horizon
    for t in rng.permutation(max(h - 1, 1)).tolist():
        left = deadline - time.perf_counter()
        if left < 0.3:
            break
        free = np.flatnonzero((periods == t) | (periods == min(t + 1, h - 1)) | ((periods >= h) & (a.last >= t)))
        if free.size > MAX_WIDE:
            free = np.sort(rng.choice(free, MAX_WIDE, replace=False))
        better = reoptimise(problem, a, periods, free, run, left, cpu_seconds=SUB_SECONDS)
        if better is not None:
            periods = better
    return periods
