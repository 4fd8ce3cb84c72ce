""" "What budget per period finishes everything by period X?": the smallest equal budget for the
periods up to X with which every package is done by X, within the crew hours and deadlines."""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np

from phaseout.errors import UsageError
from phaseout.plan.explain import explain_infeasible
from phaseout.plan.greedy import greedy_plan, meets_deadlines
from phaseout.plan.model import build_model, start_vector
from phaseout.plan.problem import Period, PlanSite, Problem
from phaseout.plan.solve import PlanResult, run_highs, solve

UNLIMITED = 1e15  # a budget no estate reaches: "money is not the limit"


@dataclass(slots=True)
class BudgetAnswer:
    by: str
    status: str  # optimal | feasible | infeasible
    budget_per_period: float | None  # smallest found (rounded up to a whole unit)
    lower_bound: float | None  # no smaller budget can work
    seconds: float
    plan: PlanResult | None = None
    explanation: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "status": self.status,
            "budget_per_period": self.budget_per_period,
            "lower_bound": None if self.lower_bound is None else round(self.lower_bound, 2),
            "seconds": round(self.seconds, 3),
            "explanation": self.explanation,
            "plan": None if self.plan is None else self.plan.as_dict(),
        }


def _all_due_by(problem: Problem, by: int, budget: float | None) -> Problem:
    """The same problem with every site due by period ``by`` (or its own earlier deadline) and,
    when given, that budget in every period up to ``by``."""
    sites = []
    for site in problem.sites:
        deadline = site.deadline
        if deadline is None or problem.period_index[deadline] > by:
            deadline = problem.periods[by].id
        sites.append(dataclasses.replace(site, deadline=deadline))
    periods = problem.periods
    if budget is not None:
        periods = tuple(Period(p.id, budget if t <= by else p.budget) for t, p in enumerate(problem.periods))
    return Problem(periods, problem.regions, tuple(sites), problem.packages, problem.carry_over)


def budget_to_finish(
    problem: Problem, by: str, *, time_limit: float | None = 60.0, with_plan: bool = True
) -> BudgetAnswer:
    """``with_plan=False`` skips solving the plan at the answer (reports need only the figure)."""
    started = time.perf_counter()
    if by not in problem.period_index:
        raise UsageError(
            f"period {by!r} is not in the problem", hint=f"periods: {', '.join(p.id for p in problem.periods)}"
        )
    index = problem.period_index[by]
    answer = BudgetAnswer(by, "infeasible", None, None, 0.0)
    unlimited = _all_due_by(problem, index, UNLIMITED)
    start_plan = greedy_plan(unlimited)
    model = build_model(problem, budget_by=index)
    start = None
    if meets_deadlines(unlimited, start_plan):
        start = start_vector(model, problem, start_plan)
        spend = np.bincount(model.x_period, weights=start[: model.n_x] * model.x_spend, minlength=problem.horizon)[
            : index + 1
        ]
        need = np.cumsum(spend) / np.arange(1, index + 2) if problem.carry_over else spend
        start[model.budget_col] = float(need.max()) if need.size else 0.0
        if problem.carry_over:  # carry = what the equal budget leaves over, cumulatively
            unspent = np.cumsum(start[model.budget_col] - spend)
            start[model.carry_col : model.carry_col + index + 1] = np.maximum(unspent, 0.0)
            start[model.carry_col + index + 1 : model.carry_col + problem.horizon] = 0.0
    h = run_highs(model, time_limit, 1e-4, start)
    info = h.getInfo()
    if info.primal_solution_status != highspy.kSolutionStatusFeasible:
        answer.explanation = explain_infeasible(_all_due_by(problem, index, UNLIMITED)) or [
            f"no plan finishes everything by {by} within the crew hours"
        ]
        answer.seconds = time.perf_counter() - started
        return answer
    values = np.asarray(h.getSolution().col_value)
    budget = math.ceil(float(values[model.budget_col]) - 1e-6)
    picked = np.flatnonzero(values[: model.n_x] > 0.5)
    found = {problem.packages[int(model.x_package[j])].id: int(model.x_period[j]) for j in picked}
    answer.status = "optimal" if h.getModelStatus() == highspy.HighsModelStatus.kOptimal else "feasible"
    answer.budget_per_period = float(budget)
    bound = float(info.mip_dual_bound) - model.tie * float(np.maximum(model.x_spend, 0).sum())
    answer.lower_bound = max(min(bound, budget), 0.0) if math.isfinite(bound) else None
    left = None if time_limit is None else max(time_limit - (time.perf_counter() - started), 5.0)
    if not with_plan:
        answer.seconds = time.perf_counter() - started
        return answer
    answer.plan = solve(_all_due_by(problem, index, float(budget)), time_limit=left, start=found)
    answer.seconds = time.perf_counter() - started
    return answer


__all__ = ["BudgetAnswer", "PlanSite", "budget_to_finish"]
