"""Why a planning problem has no plan, in the user's terms: which constraint, which period,
region or site, and by how much.

First the checks a person would make (a package bigger than any period that could take it; the
deadline work due by a period costing more than all the budget or crew hours up to it), which
name the culprit exactly.  When those all pass, the packing itself is impossible; then the
elastic model (every budget and crew row may overrun, at a price proportional to the overrun's
share of its limit) finds the smallest overruns that would make a plan possible, and those are
reported.
"""

from __future__ import annotations

import highspy
import numpy as np

from phaseout.plan.model import build_model
from phaseout.plan.problem import Problem

MAX_LINES = 20


def _money(value: float) -> str:
    return f"{value:,.0f}"


def _package_checks(problem: Problem) -> list[str]:
    lines = []
    for package in problem.packages:
        deadline = problem.deadline_index(package)
        if deadline is None:
            continue
        site = problem.site_by_id[package.site]
        region = problem.region_index[site.region]
        window = range(deadline + 1)
        crew = [problem.regions[region].crew_hours[t] for t in window]
        if max(crew) < package.hours:
            lines.append(
                f"package {package.id} (site {site.id}) needs {package.hours:g} crew hours by {site.deadline}, "
                f"but region {site.region} never has more than {max(crew):g} hours in a period up to then: "
                f"short by {package.hours - max(crew):g} hours (split the site into smaller visits or add crew)"
            )
        if problem.carry_over:
            room = sum(problem.periods[t].budget for t in window)
        else:
            room = max(problem.periods[t].budget for t in window)
        cheapest = min(problem.spend(package, t) for t in window)
        if cheapest > room:
            what = "the budget up to then" if problem.carry_over else "any period's budget up to then"
            lines.append(
                f"package {package.id} (site {site.id}) costs {_money(cheapest)} and is due by {site.deadline}, "
                f"more than {what} ({_money(room)}): short by {_money(cheapest - room)}"
            )
    return lines


def _cumulative_checks(problem: Problem) -> list[str]:
    """By each period: the work that must be done by then against all the money and crew hours
    there are until then (necessary for any plan, with or without carry-over)."""
    lines = []
    horizon = problem.horizon
    due_cost = [0.0] * horizon
    due_hours = [[0.0] * horizon for _ in problem.regions]
    for package in problem.packages:
        deadline = problem.deadline_index(package)
        if deadline is None:
            continue
        due_cost[deadline] += min(problem.spend(package, t) for t in range(deadline + 1))
        due_hours[problem.region_index[problem.site_by_id[package.site].region]][deadline] += package.hours
    cost, budget = 0.0, 0.0
    for t, period in enumerate(problem.periods):
        cost += due_cost[t]
        budget += period.budget
        if cost > budget + 1e-6:
            lines.append(
                f"budget: the work due by {period.id} costs {_money(cost)} but the budgets of the periods up to "
                f"{period.id} total {_money(budget)}: short by {_money(cost - budget)}"
            )
            break
    for r, region in enumerate(problem.regions):
        hours, crew = 0.0, 0.0
        for t, period in enumerate(problem.periods):
            hours += due_hours[r][t]
            crew += region.crew_hours[t]
            if hours > crew + 1e-6:
                lines.append(
                    f"crew: region {region.id} has {hours:,.1f} hours of work due by {period.id} but "
                    f"{crew:,.1f} crew hours up to then: short by {hours - crew:,.1f} hours"
                )
                break
    return lines


def _elastic(problem: Problem) -> list[str]:
    from phaseout.plan.solve import run_highs

    model = build_model(problem, elastic=True)
    h = run_highs(model, 60.0, 1e-4)
    if h.getInfo().primal_solution_status != highspy.kSolutionStatusFeasible:
        return ["no plan exists, and the search for the smallest overrun found none within 60 s"]
    values = np.asarray(h.getSolution().col_value)
    lines = []
    for kind, region, t, col in model.slack_cols:
        over = float(values[col])
        if over <= 1e-6:
            continue
        period = problem.periods[t].id
        if kind == "budget":
            lines.append(f"budget of {period}: short by {_money(over)} for the deadline work to fit")
        else:
            lines.append(f"crew of region {problem.regions[region].id} in {period}: short by {over:g} hours")
    return lines or ["no plan exists, but no single budget or crew limit explains it"]


def explain_infeasible(problem: Problem) -> list[str]:
    """Sentences naming what makes the problem infeasible, most specific first."""
    lines = _package_checks(problem) + _cumulative_checks(problem)
    if not lines:
        lines = [
            "every deadline fits the totals, but the packages cannot be packed into the periods; "
            "the smallest overruns that would allow a plan:",
            *_elastic(problem),
        ]
    if len(lines) > MAX_LINES:
        lines = [*lines[:MAX_LINES], f"... and {len(lines) - MAX_LINES} more"]
    return lines
