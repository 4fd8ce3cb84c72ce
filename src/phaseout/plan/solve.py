"""Solve a planning problem with HiGHS, warm-started from the greedy plan, and say what came out:
status, risk-exposure, the solver's bound and gap, the time, and each period's spend and crew use.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
import numpy.typing as npt

from phaseout.plan.columns import COLUMNS_AT_ONCE, solve_by_columns
from phaseout.plan.greedy import greedy_plan, meets_deadlines, plan_cost, risk_exposure, rounded_plan
from phaseout.plan.improve import Arrays, force_deadlines, local_search, problem_arrays
from phaseout.plan.memory import map_large_blocks, return_freed_memory
from phaseout.plan.model import Model, build_model, start_vector
from phaseout.plan.neighbourhood import MAX_FREE, by_region, by_window, lp_guided, repair_deadlines
from phaseout.plan.problem import Problem
from phaseout.plan.status import OPTIMAL_GAP, honest_status, status_label

DEFAULT_GAP = 0.001  # stop searching once a plan is proved within 0.1 % of the best possible
#: branch and bound on the whole problem only up to this many x[p, t]: beyond, its root cut rounds
#: (5 s each at 3,000 sites, the clock unread between them) overran a 30 s limit by 6 s and
#: lifted the bound by under 0.001 %; at 30,000 sites it needed 1.5 GB
MAX_BNB_COLUMNS = 20_000


@dataclass(slots=True)
class PeriodUse:
    id: str
    spend: float
    budget: float
    hours_by_region: dict[str, float]
    crew_by_region: dict[str, float]
    packages: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "spend": round(self.spend, 2),
            "budget": self.budget,
            "hours_by_region": {k: round(v, 2) for k, v in self.hours_by_region.items()},
            "crew_hours_by_region": self.crew_by_region,
            "packages": self.packages,
        }


@dataclass(slots=True)
class PlanResult:
    """``plan.json``: the fixed fields first (other tools read them), then ours."""

    status: str  # optimal | feasible (time limit) | infeasible | no-solution
    objective: float | None  # risk-exposure of the plan
    bound: float | None  # no plan can have a lower risk-exposure
    gap: float | None  # (objective - bound) / objective
    seconds: float
    assignments: dict[str, int]  # package id -> period index
    problem: Problem
    cost: float = 0.0
    greedy_objective: float | None = None
    greedy_cost: float | None = None
    explanation: list[str] = field(default_factory=list)
    solver: str = ""
    fallback: bool = False  # the rule's plan, repaired: the time limit came before a solved plan
    #: the LP relaxation's optimum (risk-exposure) when the solve reached it: the benchmarks judge
    #: the plan against it without building and solving the whole model a second time
    relaxation: float | None = None

    @property
    def label(self) -> str:
        """``optimal``, ``within 0.12 % of optimal``, ...: :func:`phaseout.plan.status.status_label`."""
        return status_label(self.status, self.gap, fallback=self.fallback)

    @property
    def unscheduled(self) -> list[str]:
        return [p.id for p in self.problem.packages if p.id not in self.assignments]

    def period_use(self) -> list[PeriodUse]:
        problem = self.problem
        uses = [
            PeriodUse(
                period.id,
                0.0,
                period.budget,
                {r.id: 0.0 for r in problem.regions},
                {r.id: r.crew_hours[t] for r in problem.regions},
                0,
            )
            for t, period in enumerate(problem.periods)
        ]
        for package in problem.packages:
            t = self.assignments.get(package.id)
            if t is None:
                continue
            use = uses[t]
            use.spend += problem.spend(package, t)
            use.hours_by_region[problem.site_by_id[package.site].region] += package.hours
            use.packages += 1
        return uses

    def as_dict(self) -> dict[str, Any]:
        periods = self.problem.periods
        return {
            "status": self.status,
            "label": self.label,
            "objective": _round(self.objective),
            "bound": _round(self.bound),
            "gap": None if self.gap is None else round(self.gap, 6),
            "seconds": round(self.seconds, 3),
            "assignments": [
                {"package": p.id, "period": periods[self.assignments[p.id]].id}
                for p in self.problem.packages
                if p.id in self.assignments
            ],
            "unscheduled": self.unscheduled,
            "periods": [u.as_dict() for u in self.period_use()],
            "cost": round(self.cost, 2),
            "greedy": {"objective": _round(self.greedy_objective), "cost": _round(self.greedy_cost)},
            "explanation": self.explanation,
            "solver": self.solver,
            "carry_over": self.problem.carry_over,
            "fallback": self.fallback,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def run_highs(
    model: Model,
    time_limit: float | None,
    gap: float,
    start: npt.NDArray[np.float64] | None = None,
    options: dict[str, Any] | None = None,
    cpu_seconds: float | None = None,
    *,
    relaxed: bool = False,
) -> highspy.Highs:
    """Pass the arrays to HiGHS, optionally with a starting solution (and extra HiGHS
    ``options``), and solve; ``relaxed``: every column continuous (the LP relaxation).
    ``cpu_seconds`` stops it once this process has used that much CPU time (``time_limit`` still
    bounds the wall clock): a sub-problem then gets the same work on a loaded machine as on a
    quiet one, where a wall-clock budget gave it a third of it."""
    highs_version()  # the first instance prints a banner: keep it off standard output
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", bool(os.environ.get("PHASEOUT_HIGHS_LOG")))
    h.setOptionValue("mip_rel_gap", gap)
    # MIP presolve finds nothing to remove in this model yet spends many seconds probing 100,000+
    # binaries before it looks at the time limit; the LP relaxation is tight without it.
    h.setOptionValue("presolve", "off")
    for name, value in {**(options or {}), **json.loads(os.environ.get("PHASEOUT_HIGHS_OPTS", "{}"))}.items():
        h.setOptionValue(name, value)
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    n_col, n_row = len(model.cost), len(model.row_lower)
    lower, upper = model.bounds()  # built for the call only (see Model)
    h.passModel(
        n_col,
        n_row,
        len(model.value),
        1,  # column-wise matrix
        1,  # minimise
        model.offset,
        model.cost,
        lower,
        upper,
        model.row_lower,
        model.row_upper,
        model.starts,
        model.index,
        model.value,
        model.integrality(relaxed=relaxed),
    )
    del lower, upper
    if time_limit is not None or cpu_seconds is not None:
        # HiGHS checks its time limit only now and then (presolve and the root node can run far
        # past it); the interrupt callbacks are called often, so they keep the promise.
        deadline = time.perf_counter() + (math.inf if time_limit is None else float(time_limit))
        cpu_deadline = time.process_time() + (math.inf if cpu_seconds is None else cpu_seconds)

        def stop_when_late(event: Any) -> None:
            if time.perf_counter() > deadline or time.process_time() > cpu_deadline:
                event.interrupt()

        h.cbMipInterrupt += stop_when_late
        h.cbSimplexInterrupt += stop_when_late
        h.cbIpmInterrupt += stop_when_late
    if start is not None:
        solution = highspy.HighsSolution()
        solution.col_value = list(start)
        solution.value_valid = True
        h.setSolution(solution)
    h.run()
    return h


def _chosen(model: Model, values: npt.NDArray[np.float64], problem: Problem) -> dict[str, int]:
    picked = np.flatnonzero(values[: model.n_x] > 0.5)
    packages = problem.packages
    return {packages[int(model.x_package[j])].id: int(model.x_period[j]) for j in picked}


def _as_periods(problem: Problem, plan: dict[str, int]) -> npt.NDArray[np.int64]:
    """Plan (package id -> period) as an array, ``horizon`` for a package not done."""
    return np.array([plan.get(p.id, problem.horizon) for p in problem.packages], dtype=np.int64)


def _as_plan(problem: Problem, periods: npt.NDArray[np.int64]) -> dict[str, int]:
    return {p.id: int(t) for p, t in zip(problem.packages, periods.tolist(), strict=True) if t < problem.horizon}


def _lp_periods(model: Model, values: npt.NDArray[np.float64], problem: Problem) -> npt.NDArray[np.int64]:
    """Per package, the period the LP relaxation puts it in wholly, ``horizon`` when the LP
    leaves it wholly out, -1 when the LP splits it."""
    x = values[: model.n_x]
    n = len(problem.packages)
    placed = np.bincount(model.x_package, weights=x, minlength=n)
    out = np.full(n, -1, dtype=np.int64)
    out[placed <= 1e-6] = problem.horizon
    whole = np.flatnonzero(x > 1 - 1e-6)
    out[model.x_package[whole]] = model.x_period[whole]
    return out


def _margin(time_limit: float) -> float:
    """Time kept back from the search for writing the answer (the promise is 5 %)."""
    return min(max(0.02 * time_limit, 0.05), 5.0)


def solve(
    problem: Problem,
    *,
    time_limit: float | None = 60.0,
    gap: float = DEFAULT_GAP,
    start: dict[str, int] | None = None,
) -> PlanResult:
    """The plan that minimises risk-exposure (then cost) within every hard constraint, with its
    proven gap to the best possible, returned within ``time_limit`` seconds (+5 %).

    Steps, each kept because the benchmarks (``bench/plan_shapes.py``) showed it pays: the LP
    relaxation (its optimum bounds every plan; its answer, rounded and repaired, is the first
    plan), a swap local search on the best of that plan, the spreadsheet rule's and ``start``
    (it closes most of what rounding loses, in about a second at 3,000 sites), then HiGHS's
    branch and bound from there for what is left of the time when the gap is still above
    ``gap``, and the local search again on what it found.  A limit too short to solve the LP
    returns the rule's plan, repaired to meet the deadlines, flagged as such."""
    started = time.perf_counter()
    stop = None if time_limit is None else started + max(time_limit - _margin(time_limit), 0.0)
    if len(problem.packages) <= MAX_FREE:
        gap = min(gap, OPTIMAL_GAP)  # small: branch and bound proves the optimum in moments

    def left() -> float | None:
        return None if stop is None else max(stop - time.perf_counter(), 0.0)

    result = PlanResult("no-solution", None, None, None, 0.0, {}, problem, solver=f"HiGHS {highs_version()}")
    greedy = greedy_plan(problem)
    if meets_deadlines(problem, greedy):
        result.greedy_objective = risk_exposure(problem, greedy)
        result.greedy_cost = plan_cost(problem, greedy)
    if not problem.packages:
        result.status, result.objective, result.bound, result.gap = "optimal", 0.0, 0.0, 0.0
        result.seconds = time.perf_counter() - started
        return result
    arrays = problem_arrays(problem)
    map_large_blocks()  # HiGHS's growing vectors would otherwise fragment the heap (memory.py)
    if left() == 0.0:  # no time for the LP: HiGHS would still spend seconds setting it up
        return _fallback(result, problem, arrays, greedy, time_limit, started, stop)
    model = build_model(problem)
    return_freed_memory()  # before the LP, the solve's peak: the heap's holes go back first
    lp_status, lp_value, lp_values = _solve_lp(model, left(), _as_periods(problem, greedy), arrays)
    return_freed_memory()  # the LP's HiGHS instance is gone: its heap blocks go back (see memory.py)
    if lp_status == "infeasible":
        from phaseout.plan.explain import explain_infeasible

        result.status = "infeasible"
        result.explanation = explain_infeasible(problem)
        result.seconds = time.perf_counter() - started
        return result
    if lp_status != "optimal":
        return _fallback(result, problem, arrays, greedy, time_limit, started, stop)
    result.relaxation = lp_value
    whole = np.flatnonzero(lp_values[: model.n_x] > 1 - 1e-6)
    fixed = {problem.packages[int(model.x_package[j])].id: int(model.x_period[j]) for j in whole}
    candidates = [rounded_plan(problem, fixed), greedy] + ([start] if start is not None else [])
    # deadline visits a rounding left out make room for themselves; then the best start
    repaired = [force_deadlines(arrays, _as_periods(problem, plan)) for plan in candidates]
    valid = [periods for periods in repaired if not (arrays.must & (periods >= problem.horizon)).any()]
    if not valid:  # deadline work packed tight: re-plan the regions concerned exactly
        fixed_up = repair_deadlines(problem, arrays, repaired[0], run_highs, _clock(left()))
        if not (arrays.must & (fixed_up >= problem.horizon)).any():
            valid.append(fixed_up)
    best_periods = None
    if valid:
        first = min(valid, key=lambda periods: float((arrays.risk * periods).sum()))
        best_periods = _improve(problem, arrays, first, _lp_periods(model, lp_values, problem), lp_value, gap, stop)
    best = _as_plan(problem, best_periods) if best_periods is not None else {}
    mip_bound: float | None = None
    searched = False
    if best_periods is None or not _within(risk_exposure(problem, best), lp_value, gap):
        remaining = left()
        # on the whole of a large problem branch and bound overruns the clock and barely moves
        # the bound (see MAX_BNB_COLUMNS): the neighbourhoods had that time instead
        small = model.n_x <= MAX_BNB_COLUMNS
        if (remaining is None or remaining > 0.2) and (small or best_periods is None):
            searched = True
            warm = start_vector(model, problem, best) if best_periods is not None else None
            h = run_highs(model, remaining, gap, warm)
            info = h.getInfo()
            bound = float(info.mip_dual_bound)
            mip_bound = bound if math.isfinite(bound) else None
            if info.primal_solution_status == highspy.kSolutionStatusFeasible:
                found = _chosen(model, np.asarray(h.getSolution().col_value), problem)
                if best_periods is None or risk_exposure(problem, found) < risk_exposure(problem, best):
                    best_periods = local_search(problem_arrays(problem), _as_periods(problem, found), _clock(left()))
                    best = _as_plan(problem, best_periods)
            elif best_periods is None and h.getModelStatus() == highspy.HighsModelStatus.kInfeasible:
                from phaseout.plan.explain import explain_infeasible

                result.status = "infeasible"
                result.explanation = explain_infeasible(problem)
                result.seconds = time.perf_counter() - started
                return result
    if best_periods is None:
        return _fallback(result, problem, arrays, greedy, time_limit, started, stop)
    result.assignments = best
    _finish(result, problem, lp_value, mip_bound, model.tie)
    result.status = honest_status("feasible", result.gap)
    if result.gap is not None and result.gap > gap:
        left_over = left()
        why = "the time limit" if left_over is not None and left_over < 1.0 else "no neighbourhood improving it"
        result.explanation.append(
            f"stopped by the time limit ({time_limit} s) at a proven gap of {result.gap:.3%}"
            if searched
            else f"stopped at a proven gap of {result.gap:.3%}: {why} ({time_limit} s limit)"
        )
    result.seconds = time.perf_counter() - started
    return result


def _improve(
    problem: Problem,
    arrays: Arrays,
    periods: npt.NDArray[np.int64],
    lp_periods: npt.NDArray[np.int64],
    bound: float,
    gap: float,
    stop: float | None,
) -> npt.NDArray[np.int64]:
    """Local search, then rounds of fix-and-optimise (each followed by the local search again)
    while they gain and the gap is above ``gap``: the LP-guided neighbourhood first (the visits
    the plan places differently from the LP relaxation), then pairs of consecutive periods, then
    the regions.  Small problems go straight to branch and bound, which also proves their
    optimum."""
    deadline = _clock(None if stop is None else stop - time.perf_counter())
    periods = local_search(arrays, periods, deadline)
    if len(problem.packages) <= MAX_FREE:
        return periods

    def value(plan: npt.NDArray[np.int64]) -> float:
        return float((arrays.risk * (plan + 1)).sum())

    def done() -> bool:
        return _within(value(periods), bound, gap) or deadline - time.perf_counter() < 0.5

    tried: set[bytes] = set()  # LP-guided sets already re-planned without gain
    for seed in range(1000):
        start = value(periods)
        # the LP-guided neighbourhood gains most per second: again while it gains
        while not done():
            key = np.flatnonzero(periods != lp_periods).tobytes()
            if key in tried:
                break
            before = value(periods)
            periods = local_search(
                arrays, lp_guided(problem, arrays, periods, lp_periods, run_highs, deadline, seed), deadline
            )
            if value(periods) >= before * (1 - 1e-6):
                tried.add(key)
        for step in (by_window, by_region):
            if done():
                return periods
            periods = local_search(arrays, step(problem, arrays, periods, run_highs, deadline, seed), deadline)
        if value(periods) >= start * (1 - 1e-5):
            break  # a whole round gained under 0.001 %: stop
    return periods


def _clock(seconds: float | None) -> float:
    """A ``time.perf_counter()`` deadline for the local search (at most 60 s without a limit)."""
    return time.perf_counter() + (60.0 if seconds is None else seconds)


def _fallback(
    result: PlanResult,
    problem: Problem,
    arrays: Arrays,
    greedy: dict[str, int],
    time_limit: float | None,
    started: float,
    stop: float | None,
) -> PlanResult:
    """The time limit came before the LP: the spreadsheet rule's plan, repaired so deadline
    visits make room for themselves, improved by the swap search for what is left of the time,
    flagged; never nothing.

    The repair works on arrays (a few hundredths of a second at 20,000 sites): the rule's own
    repair (:func:`rounded_plan`, seconds at that size) runs only when that one leaves a deadline
    missed, so a short limit is kept whenever the rule's plan itself fits in it."""
    periods = force_deadlines(arrays, _as_periods(problem, greedy))
    missed = bool((arrays.must & (periods >= problem.horizon)).any())
    if missed:
        again = force_deadlines(arrays, _as_periods(problem, rounded_plan(problem, {})))
        if not (arrays.must & (again >= problem.horizon)).any():
            periods, missed = again, False
    if not missed and stop is not None:
        periods = local_search(arrays, periods, stop)
    plan = _as_plan(problem, periods)
    result.assignments = plan
    result.fallback = True
    result.objective = risk_exposure(problem, plan)
    result.cost = plan_cost(problem, plan)
    result.status = "no-solution" if missed else "feasible"
    result.explanation.append(
        f"the time limit ({time_limit} s) came before the solver had a plan: this is the spreadsheet rule's "
        "plan, repaired" + (", and it still misses deadlines (not a valid plan)" if missed else "")
    )
    result.seconds = time.perf_counter() - started
    return result


def _within(objective: float, bound: float, gap: float) -> bool:
    return objective <= 0 or (objective - bound) / objective <= gap


def _finish(result: PlanResult, problem: Problem, lp_value: float, mip_bound: float | None, tie: float) -> None:
    """Objective, cost, bound and gap of the chosen assignments.  HiGHS's bound is on
    risk-exposure + tie x cost; the largest cost term comes off to make it a risk-exposure bound."""
    result.objective = risk_exposure(problem, result.assignments)
    result.cost = plan_cost(problem, result.assignments)
    tie_most = tie * sum(max(p.cost, 0.0) for p in problem.packages)
    bound = lp_value if mip_bound is None else max(lp_value, mip_bound - tie_most)
    result.bound = min(max(bound, 0.0), result.objective)
    result.gap = (result.objective - result.bound) / result.objective if result.objective > 0 else 0.0


def _solve_lp(
    model: Model, time_limit: float | None, guess: npt.NDArray[np.int64] | None = None, arrays: Arrays | None = None
) -> tuple[str, float, npt.NDArray[np.float64]]:
    """The LP relaxation: ``optimal`` with its risk-exposure bound and solution, ``infeasible``
    (then no plan exists), or ``stopped`` (the time limit came first).  Beyond
    :data:`COLUMNS_AT_ONCE` columns, with a ``guess`` (per package, a period or ``horizon``), it
    is solved by column generation (:mod:`phaseout.plan.columns`) to bound HiGHS's memory."""
    tie_most = model.tie * float(np.maximum(model.x_spend, 0).sum())
    if guess is not None and arrays is not None and model.n_x > COLUMNS_AT_ONCE:
        status, objective, values = solve_by_columns(model, guess, arrays.must, arrays.horizon, run_highs, time_limit)
        if status == highspy.HighsModelStatus.kInfeasible:
            return "infeasible", 0.0, np.zeros(0)
        if status != highspy.HighsModelStatus.kOptimal:
            return "stopped", 0.0, np.zeros(0)
        return "optimal", max(objective - tie_most, 0.0), values
    h = run_highs(model, time_limit, DEFAULT_GAP, relaxed=True)
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        return "infeasible", 0.0, np.zeros(0)
    if status != highspy.HighsModelStatus.kOptimal:
        return "stopped", 0.0, np.zeros(0)
    value = max(float(h.getInfo().objective_function_value) - tie_most, 0.0)
    return "optimal", value, np.asarray(h.getSolution().col_value)


def lp_bound(problem: Problem, time_limit: float | None = None) -> float | None:
    """The LP relaxation's optimum: the bound a plan's quality is judged against (benchmarks)."""
    arrays = problem_arrays(problem)
    map_large_blocks()
    guess = _as_periods(problem, greedy_plan(problem))
    status, value, _ = _solve_lp(build_model(problem), time_limit, guess, arrays)
    return_freed_memory()
    return value if status == "optimal" else None


_VERSION: list[str] = []


def highs_version() -> str:
    if not _VERSION:
        with quiet_stdout():
            _VERSION.append(highspy.Highs().version())  # type: ignore[no-untyped-call]
    return _VERSION[0]


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Send file descriptor 1 to /dev/null for a moment: HiGHS prints its banner from C++ when
    the first instance is made, which would corrupt JSON written to standard output."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
