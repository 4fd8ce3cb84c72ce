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

from phaseout.plan.greedy import greedy_plan, meets_deadlines, plan_cost, risk_exposure, rounded_plan
from phaseout.plan.model import Model, build_model, start_vector
from phaseout.plan.problem import Problem

DEFAULT_GAP = 0.005  # stop once a plan is proved within 0.5 % of the best possible


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
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def run_highs(
    model: Model, time_limit: float | None, gap: float, start: npt.NDArray[np.float64] | None = None
) -> highspy.Highs:
    """Pass the arrays to HiGHS, optionally with a starting solution, and solve."""
    highs_version()  # the first instance prints a banner: keep it off standard output
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", bool(os.environ.get("PHASEOUT_HIGHS_LOG")))
    h.setOptionValue("mip_rel_gap", gap)
    # MIP presolve finds nothing to remove in this model yet spends many seconds probing 100,000+
    # binaries before it looks at the time limit; the LP relaxation is tight without it.
    h.setOptionValue("presolve", "off")
    for name, value in json.loads(os.environ.get("PHASEOUT_HIGHS_OPTS", "{}")).items():
        h.setOptionValue(name, value)
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    n_col, n_row = len(model.cost), len(model.row_lower)
    h.passModel(
        n_col,
        n_row,
        len(model.value),
        1,  # column-wise matrix
        1,  # minimise
        model.offset,
        model.cost,
        model.lower,
        model.upper,
        model.row_lower,
        model.row_upper,
        model.starts,
        model.index,
        model.value,
        model.integrality,
    )
    if time_limit is not None:
        # HiGHS checks its time limit only now and then (presolve and the root node can run far
        # past it); the interrupt callbacks are called often, so they keep the promise.
        deadline = time.perf_counter() + float(time_limit)

        def stop_when_late(event: Any) -> None:
            if time.perf_counter() > deadline:
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


def solve(
    problem: Problem,
    *,
    time_limit: float | None = 60.0,
    gap: float = DEFAULT_GAP,
    start: dict[str, int] | None = None,
) -> PlanResult:
    """The plan that minimises risk-exposure (then cost) within every hard constraint.

    Three steps: the LP relaxation (its optimum bounds every plan, and its answer rounded and
    repaired is a good plan at once), then HiGHS's branch and bound from the better of that plan
    and the greedy one (and ``start``, a plan known to be feasible, when given), for what is
    left of the time limit."""
    started = time.perf_counter()
    result = PlanResult("no-solution", None, None, None, 0.0, {}, problem, solver=f"HiGHS {highs_version()}")
    greedy = greedy_plan(problem)
    if meets_deadlines(problem, greedy):
        result.greedy_objective = risk_exposure(problem, greedy)
        result.greedy_cost = plan_cost(problem, greedy)
    if not problem.packages:
        result.status, result.objective, result.bound, result.gap = "optimal", 0.0, 0.0, 0.0
        result.seconds = time.perf_counter() - started
        return result
    model = build_model(problem)
    relaxed = _relaxation(model, time_limit)
    if relaxed is None:
        from phaseout.plan.explain import explain_infeasible

        result.status = "infeasible"
        result.explanation = explain_infeasible(problem)
        result.seconds = time.perf_counter() - started
        return result
    lp_value, lp_values = relaxed
    whole = np.flatnonzero(lp_values[: model.n_x] > 1 - 1e-6)
    fixed = {problem.packages[int(model.x_package[j])].id: int(model.x_period[j]) for j in whole}
    candidates = [plan for plan in (rounded_plan(problem, fixed), greedy) if meets_deadlines(problem, plan)]
    if start is not None and meets_deadlines(problem, start):
        candidates.append(start)
    start = min(candidates, key=lambda plan: risk_exposure(problem, plan)) if candidates else None
    if start is not None and _within(risk_exposure(problem, start), lp_value, gap):
        # the rounded plan is already as close to the bound as asked: no search needed
        result.assignments = dict(start)
        result.status = "optimal"
        _finish(result, problem, lp_value, None, model.tie)
        result.explanation.append(f"within {gap:.2%} of the LP bound: accepted without branch and bound")
        result.seconds = time.perf_counter() - started
        return result
    left = None if time_limit is None else max(time_limit - (time.perf_counter() - started), 1.0)
    h = run_highs(model, left, gap, start_vector(model, problem, start) if start is not None else None)
    status = h.getModelStatus()
    info = h.getInfo()
    if info.primal_solution_status == highspy.kSolutionStatusFeasible:
        result.assignments = _chosen(model, np.asarray(h.getSolution().col_value), problem)
        result.status = "optimal" if status == highspy.HighsModelStatus.kOptimal else "feasible"
    elif start is not None:  # the solver found nothing better in time: the warm start stands
        result.assignments = dict(start)
        result.status = "feasible"
    elif status == highspy.HighsModelStatus.kInfeasible:
        from phaseout.plan.explain import explain_infeasible

        result.status = "infeasible"
        result.explanation = explain_infeasible(problem)
    else:
        result.explanation.append(f"HiGHS ended with '{h.modelStatusToString(status)}' and no plan")
    if result.status in ("optimal", "feasible"):
        mip_bound = float(info.mip_dual_bound)
        _finish(result, problem, lp_value, mip_bound if math.isfinite(mip_bound) else None, model.tie)
        if result.status == "feasible":
            result.explanation.append(f"stopped by the time limit ({time_limit} s) before proving the gap")
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


def _relaxation(model: Model, time_limit: float | None) -> tuple[float, npt.NDArray[np.float64]] | None:
    """The LP relaxation's risk-exposure bound and solution, or None when even it is infeasible."""
    relaxed = Model(**{name: getattr(model, name) for name in model.__slots__})
    relaxed.integrality = np.zeros_like(model.integrality)
    h = run_highs(relaxed, time_limit, DEFAULT_GAP)
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    tie_most = model.tie * float(np.maximum(model.x_spend, 0).sum())
    value = max(float(h.getInfo().objective_function_value) - tie_most, 0.0)
    return value, np.asarray(h.getSolution().col_value)


def lp_bound(problem: Problem, time_limit: float | None = None) -> float | None:
    """The LP relaxation's optimum: the bound a plan's quality is judged against (benchmarks)."""
    relaxed = _relaxation(build_model(problem), time_limit)
    return None if relaxed is None else relaxed[0]


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
