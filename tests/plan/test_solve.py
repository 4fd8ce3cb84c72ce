"""The solver: every plan keeps every hard constraint, its objective is what its assignments
say, tiny problems reach the brute-force optimum, and impossible ones say why."""

from __future__ import annotations

import itertools
import time
from typing import Any

import numpy as np
import pytest

from phaseout.plan.budget import budget_to_finish
from phaseout.plan.greedy import greedy_plan, meets_deadlines, risk_exposure
from phaseout.plan.improve import force_deadlines, local_search, problem_arrays
from phaseout.plan.problem import Problem, problem_from_dict
from phaseout.plan.solve import PlanResult, solve
from phaseout.plan.status import OPTIMAL_GAP, status_label

from .conftest import random_problem


def check_invariants(problem: Problem, result: PlanResult) -> None:
    """No budget or crew overrun, deadlines met, each package at most once, and the reported
    objective recomputed from the assignments."""
    out = result.as_dict()
    periods = [p.id for p in problem.periods]
    seen = [a["package"] for a in out["assignments"]]
    assert len(seen) == len(set(seen))
    assert set(seen) | set(out["unscheduled"]) == {p.id for p in problem.packages}
    assert not set(seen) & set(out["unscheduled"])
    by_id = {p.id: p for p in problem.packages}
    spend = [0.0] * len(periods)
    hours: dict[tuple[str, int], float] = {}
    for a in out["assignments"]:
        package, t = by_id[a["package"]], periods.index(a["period"])
        site = problem.site_by_id[package.site]
        if site.deadline is not None:
            assert t <= periods.index(site.deadline), f"{package.id} after its deadline"
        spend[t] += problem.spend(package, t)
        key = (site.region, t)
        hours[key] = hours.get(key, 0.0) + package.hours
    for p in problem.packages:
        if problem.site_by_id[p.site].deadline is not None:
            assert p.id in seen, f"{p.id} has a deadline but is unscheduled"
    if problem.carry_over:
        running_spend = running_budget = 0.0
        for t, period in enumerate(problem.periods):
            running_spend += spend[t]
            running_budget += period.budget
            assert running_spend <= running_budget + 1e-6
    else:
        for t, period in enumerate(problem.periods):
            assert spend[t] <= period.budget + 1e-6
    for region in problem.regions:
        for t in range(len(periods)):
            assert hours.get((region.id, t), 0.0) <= region.crew_hours[t] + 1e-6
    plan = {a["package"]: periods.index(a["period"]) for a in out["assignments"]}
    assert out["objective"] == pytest.approx(risk_exposure(problem, plan), abs=1e-3)
    for use, reported in zip(result.period_use(), out["periods"], strict=True):
        assert reported["spend"] == pytest.approx(spend[periods.index(use.id)], abs=0.01)
    assert out["bound"] is None or out["bound"] <= out["objective"] + 1e-6


def brute_force(problem: Problem) -> float | None:
    """The best risk-exposure over every assignment (tiny problems only)."""
    n = problem.horizon
    best = None
    for choice in itertools.product(range(-1, n), repeat=len(problem.packages)):
        plan = {p.id: t for p, t in zip(problem.packages, choice, strict=True) if t >= 0}
        if not meets_deadlines(problem, plan) or not _feasible(problem, plan):
            continue
        value = risk_exposure(problem, plan)
        best = value if best is None else min(best, value)
    return best


def _feasible(problem: Problem, plan: dict[str, int]) -> bool:
    by_id = {p.id: p for p in problem.packages}
    spend = [0.0] * problem.horizon
    hours: dict[tuple[str, int], float] = {}
    for pid, t in plan.items():
        package = by_id[pid]
        if (d := problem.deadline_index(package)) is not None and t > d:
            return False
        spend[t] += problem.spend(package, t)
        key = (problem.site_by_id[package.site].region, t)
        hours[key] = hours.get(key, 0.0) + package.hours
    if problem.carry_over:
        total = budget = 0.0
        for t, period in enumerate(problem.periods):
            total += spend[t]
            budget += period.budget
            if total > budget + 1e-9:
                return False
    elif any(spend[t] > p.budget + 1e-9 for t, p in enumerate(problem.periods)):
        return False
    crew = {(r.id, t): h for r in problem.regions for t, h in enumerate(r.crew_hours)}
    return all(h <= crew[k] + 1e-9 for k, h in hours.items())


@pytest.mark.parametrize("carry_over", [False, True])
@pytest.mark.parametrize("seed", range(12))
def test_tiny_problems_reach_the_brute_force_optimum(seed: int, carry_over: bool) -> None:
    problem = problem_from_dict(random_problem(seed, sites=4, periods=3, carry_over=carry_over))
    if len(problem.packages) > 6:
        problem = problem_from_dict({**problem.as_dict(), "packages": problem.as_dict()["packages"][:6]})
    best = brute_force(problem)
    result = solve(problem, gap=1e-9)
    if best is None:
        assert result.status == "infeasible" and result.explanation
        return
    assert result.status == "optimal"
    check_invariants(problem, result)
    assert result.objective == pytest.approx(best, rel=1e-6)


@pytest.mark.parametrize("carry_over", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_every_plan_keeps_every_constraint(seed: int, carry_over: bool) -> None:
    problem = problem_from_dict(random_problem(100 + seed, sites=40, periods=6, carry_over=carry_over))
    result = solve(problem, time_limit=3)
    if result.status == "infeasible":
        assert result.explanation
        return
    check_invariants(problem, result)
    greedy = greedy_plan(problem)
    if meets_deadlines(problem, greedy):  # never worse than the spreadsheet rule
        assert result.objective is not None and result.objective <= risk_exposure(problem, greedy) + 1e-6


def _base(**overrides: Any) -> dict[str, Any]:
    problem: dict[str, Any] = {
        "periods": [{"id": "Q1", "budget": 1000}, {"id": "Q2", "budget": 1000}, {"id": "Q3", "budget": 1000}],
        "regions": [{"id": "north", "crew_hours": [10, 10, 10]}],
        "sites": [
            {"id": "A", "region": "north", "sensitive": True, "deadline": "Q1", "maintenance": None},
            {"id": "B", "region": "north", "deadline": None, "maintenance": "Q2", "maintenance_saving": 100},
        ],
        "packages": [
            {"id": "a1", "site": "A", "risk": 50, "cost": 400, "hours": 4, "devices": ["1"]},
            {"id": "a2", "site": "A", "risk": 30, "cost": 400, "hours": 4, "devices": ["2"]},
            {"id": "b1", "site": "B", "risk": 40, "cost": 500, "hours": 4, "devices": ["3"]},
        ],
        "carry_over": False,
    }
    problem.update(overrides)
    return problem


def test_riskiest_first_within_deadlines_and_maintenance_saving_counted() -> None:
    problem = problem_from_dict(_base())
    result = solve(problem, gap=1e-9)
    assert result.status == "optimal"
    assert result.assignments == {"a1": 0, "a2": 0, "b1": 1}  # b1 waits: Q1 cannot hold all three
    check_invariants(problem, result)
    assert result.period_use()[1].spend == 400  # 500 less the maintenance saving of 100
    assert result.objective == pytest.approx(50 * 1 + 30 * 1 + 40 * 2)


def test_a_package_costlier_than_any_period_is_named() -> None:
    data = _base()
    data["packages"][0]["cost"] = 1500
    result = solve(problem_from_dict(data))
    assert result.status == "infeasible"
    assert any("a1" in line and "short by 500" in line for line in result.explanation)


def test_deadline_work_beyond_the_budget_up_to_then_is_explained() -> None:
    data = _base()
    data["packages"][1]["cost"] = 700  # a1 + a2 = 1,100 due by Q1 with 1,000 there
    result = solve(problem_from_dict(data))
    assert result.status == "infeasible"
    assert any("due by Q1" in line and "short by 100" in line for line in result.explanation)


def test_crew_shortage_is_explained() -> None:
    data = _base(regions=[{"id": "north", "crew_hours": [6, 10, 10]}])
    result = solve(problem_from_dict(data))
    assert result.status == "infeasible"
    assert any("region north" in line and "short by 2" in line for line in result.explanation)


def test_packing_that_cannot_work_gets_the_smallest_overruns() -> None:
    # three packages of 600, all due by Q2, budgets 1,000 + 1,000: the totals fit (1,800 <= 2,000)
    # but only one package fits in each period
    data = _base(
        periods=[{"id": "Q1", "budget": 1000}, {"id": "Q2", "budget": 1000}],
        regions=[{"id": "north", "crew_hours": [100, 100]}],
        sites=[{"id": "A", "region": "north", "deadline": "Q2", "maintenance": None}],
        packages=[{"id": f"a{i}", "site": "A", "risk": 10, "cost": 600, "hours": 1} for i in range(3)],
    )
    result = solve(problem_from_dict(data))
    assert result.status == "infeasible"
    text = " ".join(result.explanation)
    assert "cannot be packed" in text and "short by 200" in text


def test_carry_over_lets_an_early_saving_pay_for_later_work() -> None:
    data = _base(
        periods=[{"id": "Q1", "budget": 900}, {"id": "Q2", "budget": 300}, {"id": "Q3", "budget": 0}],
        sites=[{"id": "A", "region": "north", "deadline": None, "maintenance": None}],
        packages=[
            {"id": "a1", "site": "A", "risk": 10, "cost": 800, "hours": 1},
            {"id": "a2", "site": "A", "risk": 9, "cost": 400, "hours": 1},
        ],
    )
    without = solve(problem_from_dict(data), gap=1e-9)
    assert without.assignments == {"a1": 0}  # a2 fits no single period
    data["carry_over"] = True
    problem = problem_from_dict(data)
    with_carry = solve(problem, gap=1e-9)
    assert with_carry.assignments == {"a1": 0, "a2": 1}
    check_invariants(problem, with_carry)


def test_budget_to_finish_is_the_smallest_that_works() -> None:
    problem = problem_from_dict(_base())
    answer = budget_to_finish(problem, "Q2")
    assert answer.status == "optimal"
    # a1 + a2 (800) must be in Q1; b1 in Q2 costs 400 after the saving: 800 is the least
    assert answer.budget_per_period == 800
    assert answer.plan is not None and answer.plan.status == "optimal"
    assert set(answer.plan.assignments) == {"a1", "a2", "b1"}
    check_invariants(answer.plan.problem, answer.plan)


def test_budget_to_finish_says_when_crews_cannot_do_it() -> None:
    data = _base(regions=[{"id": "north", "crew_hours": [8, 0, 10]}])
    answer = budget_to_finish(problem_from_dict(data), "Q2")
    assert answer.budget_per_period is None
    assert any("crew" in line and "north" in line for line in answer.explanation)


def test_an_empty_problem_is_an_empty_plan() -> None:
    result = solve(problem_from_dict(_base(sites=[], packages=[])))
    assert result.status == "optimal" and result.objective == 0 and not result.assignments


def _bigger(seed: int, carry_over: bool = False) -> Problem:
    return problem_from_dict(random_problem(seed, sites=500, periods=8, carry_over=carry_over))


@pytest.mark.parametrize("carry_over", [False, True])
def test_a_short_time_limit_still_returns_a_plan_and_its_gap(carry_over: bool) -> None:
    problem = _bigger(300, carry_over)
    started = time.perf_counter()
    result = solve(problem, time_limit=1.0)
    assert time.perf_counter() - started < 15  # generous: the promise is 1.05 s, the machine is shared
    if result.status == "infeasible":
        assert result.explanation
        return
    assert result.assignments and result.objective is not None
    if not result.fallback:
        assert result.gap is not None and result.bound is not None and 0 <= result.gap < 1
    check_invariants(problem, result)
    out = result.as_dict()
    assert out["label"] == status_label(out["status"], out["gap"], fallback=out["fallback"])


@pytest.mark.parametrize(("sites", "limit"), [(1500, 4.0), (3000, 2.0)])
def test_the_time_limit_is_a_promise(sites: int, limit: float) -> None:
    """The search is asked for a zero gap, so only the clock stops it: the answer (a solved plan
    with its proven gap, or the rule's plan repaired when the LP did not finish) comes back
    within 5 % of the limit.  3,000 sites in 2 s usually stops inside the LP on a loaded
    machine, 1,500 in 4 s in the neighbourhood search."""
    problem = problem_from_dict(random_problem(500 + sites, sites=sites, periods=12))
    started = time.perf_counter()
    result = solve(problem, time_limit=limit, gap=0.0)
    elapsed = time.perf_counter() - started
    assert elapsed <= 1.05 * limit, f"{elapsed:.2f} s for a {limit} s limit"
    assert result.assignments and result.status in ("optimal", "feasible")
    if result.fallback:
        assert result.gap is None and "rule's plan" in result.label
    else:
        assert result.gap is not None and result.bound is not None and result.bound <= result.objective
    check_invariants(problem, result)


def test_no_time_for_the_solver_returns_the_rules_plan_repaired_and_flagged() -> None:
    problem = _bigger(301)
    result = solve(problem, time_limit=0.0)
    assert result.fallback and result.assignments
    assert result.bound is None and result.gap is None
    assert "rule's plan" in result.label
    if result.status == "feasible":
        check_invariants(problem, result)
    else:  # the repaired rule's plan still misses a deadline: never shown as a plan
        assert result.status == "no-solution" and "not a valid plan" in " ".join(result.explanation)


def test_optimal_only_when_the_gap_is_zero() -> None:
    for seed in range(4):
        problem = _bigger(310 + seed)
        result = solve(problem, time_limit=5, gap=0.01)
        if result.status in ("infeasible", "no-solution"):
            continue
        assert result.gap is not None
        assert (result.status == "optimal") == (result.gap <= OPTIMAL_GAP)
        assert result.as_dict()["label"] == status_label(result.status, result.gap)


@pytest.mark.parametrize("carry_over", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_local_search_and_deadline_repair_keep_every_constraint(seed: int, carry_over: bool) -> None:
    problem = _bigger(400 + seed, carry_over)
    arrays = problem_arrays(problem)
    start = greedy_plan(problem)
    periods = np.array([start.get(p.id, problem.horizon) for p in problem.packages], dtype=np.int64)
    forced = force_deadlines(arrays, periods)
    improved = local_search(arrays, forced, time.perf_counter() + 10)
    plan = {p.id: int(t) for p, t in zip(problem.packages, improved.tolist(), strict=True) if t < problem.horizon}
    result = PlanResult("feasible", None, None, None, 0.0, plan, problem)
    result.objective = risk_exposure(problem, plan)
    if meets_deadlines(problem, plan):
        check_invariants(problem, result)
    else:  # the check without the deadline part
        assert not meets_deadlines(problem, start)
    before = {p.id: int(t) for p, t in zip(problem.packages, forced.tolist(), strict=True) if t < problem.horizon}
    assert risk_exposure(problem, plan) <= risk_exposure(problem, before) + 1e-6


@pytest.mark.parametrize("carry_over", [False, True])
def test_column_generation_reaches_the_lp_optimum(carry_over: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The LP solved a few periods per visit at a time, columns priced in, ends at the optimum of
    the LP with every column (and its bound is never above it)."""
    from phaseout.plan import solve as solve_module
    from phaseout.plan.model import build_model

    problem = _bigger(600, carry_over)
    model = build_model(problem)
    arrays = problem_arrays(problem)
    status, full, _ = solve_module._solve_lp(model, None)
    assert status == "optimal"
    monkeypatch.setattr(solve_module, "COLUMNS_AT_ONCE", 0)
    # nothing planned (deadline visits start with every column), the rule's plan (only the
    # periods near it), and every visit in the first period (deadlines kept, budgets not)
    for plan in ({}, greedy_plan(problem), {p.id: 0 for p in problem.packages}):
        guess = solve_module._as_periods(problem, plan)
        status, by_columns, values = solve_module._solve_lp(model, None, guess, arrays)
        assert status == "optimal" and values.size == len(model.cost)
        assert by_columns == pytest.approx(full, rel=1e-9)
        assert by_columns <= full + 1e-6 * max(full, 1.0)


@pytest.mark.parametrize(("carry_over", "drop_above"), [(False, 1e-9), (True, 1e-9), (False, None)])
def test_columns_taken_out_again_leave_the_lp_optimum_unchanged(
    carry_over: bool, drop_above: float | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Column generation that deletes the columns the rounds no longer want (issue 18: HiGHS's
    memory follows the most columns it held) ends at the same optimum as the LP with every
    column, and its solution is a point of that LP."""
    import highspy

    from phaseout.plan import columns
    from phaseout.plan import solve as solve_module
    from phaseout.plan.model import build_model

    deleted: list[int] = []

    class Counting(highspy.Highs):  # type: ignore[misc]
        def deleteCols(self, count: int, indices: Any) -> Any:
            deleted.append(count)
            return super().deleteCols(count, indices)

    problem = _bigger(610, carry_over)
    model = build_model(problem)
    arrays = problem_arrays(problem)
    status, full, _ = solve_module._solve_lp(model, None)
    assert status == "optimal"
    monkeypatch.setattr(solve_module, "COLUMNS_AT_ONCE", 0)
    monkeypatch.setattr(columns, "DROP_ABOVE", drop_above)
    monkeypatch.setattr(columns, "MAX_ADDED", 500)  # many rounds on a small problem
    monkeypatch.setattr(highspy, "Highs", Counting)
    guess = solve_module._as_periods(problem, greedy_plan(problem))
    status, by_columns, values = solve_module._solve_lp(model, None, guess, arrays)
    assert status == "optimal"
    assert by_columns == pytest.approx(full, rel=1e-9)
    assert (sum(deleted) > 0) == (drop_above is not None)
    x = values[: model.n_x]
    assert x.min() >= -1e-9 and x.max() <= 1 + 1e-9
    assert np.bincount(model.x_package, weights=x).max() <= 1 + 1e-6  # each visit at most once
