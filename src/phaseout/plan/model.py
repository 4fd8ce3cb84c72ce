"""The planning problem as a mixed-integer programme for HiGHS, built as arrays.

Variables: ``x[p, t]`` = 1 when package ``p`` is done in period ``t`` (only periods up to the
site's deadline exist); with ``carry_over``, a continuous ``carry[t]`` >= 0 holds the budget left
at the end of period ``t`` for later periods.

    minimise   sum risk_p * (t + 1) * x[p,t] + risk_p * (H + 1) * (1 - sum_t x[p,t])   (risk-exposure)
             + tie * sum spend[p,t] * x[p,t]                                            (then cost)
    subject to sum_t x[p,t] <= 1   (= 1 when the site has a deadline)
               sum_p spend[p,t] x[p,t] <= budget_t        (carry-over: + carry[t-1] - carry[t])
               sum_{p in region r} hours_p x[p,t] <= crew_hours[r][t]

``tie`` is small enough that cost only decides between plans of (almost) equal risk-exposure.
Two variants serve the questions around the plan: ``elastic`` adds a penalised overrun to every
budget and crew row (the smallest overruns that make an infeasible problem feasible: the
explanation), and ``budget_by`` replaces the budgets of periods up to a given one with a single
variable budget to minimise, every package required by then.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from phaseout.plan.problem import Problem

INF = float("inf")
FloatArray = npt.NDArray[np.float64]


@dataclass(slots=True)
class Model:
    """Arrays in HiGHS's column-wise form, plus what is needed to read a solution back.

    Column bounds and integrality are not stored per column: every column's lower bound is 0,
    the x columns (the first ``len(cost) - len(extra_upper)``) are binary and the others
    continuous up to ``extra_upper``.  Why: at 30,000 sites three arrays of 932,455 constants
    (19 MB) were held through the LP, the solve's peak, where column generation needs them only
    for the columns it adds; :meth:`bounds` and :meth:`integrality` build them when a whole model
    is passed to HiGHS."""

    cost: npt.NDArray[np.float64]
    extra_upper: npt.NDArray[np.float64]  # upper bounds of the columns after the x columns
    row_lower: npt.NDArray[np.float64]
    row_upper: npt.NDArray[np.float64]
    starts: npt.NDArray[np.int32]
    index: npt.NDArray[np.int32]
    value: npt.NDArray[np.float64]
    offset: float
    x_package: npt.NDArray[np.int32]  # per x column: package index (int32: 3.7 MB less at 30,000 sites)
    x_period: npt.NDArray[np.int32]  # per x column: period index
    x_spend: npt.NDArray[np.float64]
    n_x: int
    carry_col: int  # first carry column, or -1
    slack_cols: list[tuple[str, int, int, int]]  # elastic: (kind, region or -1, period, column)
    budget_col: int  # budget_by: the budget variable's column, or -1
    tie: float
    rows_budget: int  # first budget row
    rows_crew: int  # first crew row

    def bounds(self, cols: npt.NDArray[np.int64] | None = None) -> tuple[FloatArray, FloatArray]:
        """Lower and upper bounds of the columns ``cols`` (all when None)."""
        n_bin = len(self.cost) - len(self.extra_upper)
        if cols is None:
            return np.zeros(len(self.cost)), np.concatenate([np.ones(n_bin), self.extra_upper])
        upper = np.ones(len(cols))
        extra = cols >= n_bin
        upper[extra] = self.extra_upper[cols[extra] - n_bin]
        return np.zeros(len(cols)), upper

    def integrality(self, *, relaxed: bool = False) -> npt.NDArray[np.int32]:
        """HiGHS's integrality per column: 1 for the x columns, 0 for the rest (all 0 when
        ``relaxed``, the LP relaxation)."""
        kinds = np.zeros(len(self.cost), dtype=np.int32)
        if not relaxed:
            kinds[: len(self.cost) - len(self.extra_upper)] = 1
        return kinds


def build_model(problem: Problem, *, elastic: bool = False, budget_by: int | None = None) -> Model:
    horizon = problem.horizon
    packages = problem.packages
    n_pkg = len(packages)
    n_reg = len(problem.regions)
    risk = np.array([p.risk for p in packages], dtype=np.float64)
    cost = np.array([p.cost for p in packages], dtype=np.float64)
    hours = np.array([p.hours for p in packages], dtype=np.float64)
    region = np.array([problem.region_index[problem.site_by_id[p.site].region] for p in packages], dtype=np.int64)
    last = np.empty(n_pkg, dtype=np.int64)
    must = np.zeros(n_pkg, dtype=bool)
    maint = np.full(n_pkg, -1, dtype=np.int64)
    saving = np.zeros(n_pkg, dtype=np.float64)
    for i, p in enumerate(packages):
        site = problem.site_by_id[p.site]
        deadline = problem.deadline_index(p)
        last[i] = horizon - 1 if deadline is None else deadline
        must[i] = deadline is not None
        if site.maintenance is not None:
            maint[i] = problem.period_index[site.maintenance]
            saving[i] = min(site.maintenance_saving, p.cost)
    if budget_by is not None:  # every package done by then
        last = np.minimum(last, budget_by)
        must[:] = True
    last = np.maximum(last, -1)
    counts = last + 1
    x_package = np.repeat(np.arange(n_pkg, dtype=np.int32), counts)
    offsets = np.repeat((np.cumsum(counts) - counts).astype(np.int32), counts)
    x_period = np.arange(len(x_package), dtype=np.int32) - offsets
    del offsets
    n_x = len(x_package)
    x_spend = cost[x_package] - np.where(maint[x_package] == x_period, saving[x_package], 0.0)

    # cost only breaks ties: its whole weight stays far below the smallest risk step
    positive = risk[risk > 0]
    total_cost = float(cost.sum()) or 1.0
    tie = (float(positive.min()) if positive.size else 1.0) * 1e-4 / total_cost
    late = horizon + 1
    x_cost = risk[x_package] * (x_period + 1 - late) + tie * x_spend
    offset = float(risk.sum() * late)

    # rows: package assignment, budget per period, crew per region and period
    rows_budget = n_pkg
    rows_crew = n_pkg + horizon
    n_rows = n_pkg + horizon + n_reg * horizon
    row_lower = np.full(n_rows, -INF)
    row_upper = np.empty(n_rows)
    row_lower[:n_pkg] = np.where(must, 1.0, -INF)
    row_upper[:n_pkg] = 1.0
    budgets = np.array([p.budget for p in problem.periods], dtype=np.float64)
    row_upper[rows_budget : rows_budget + horizon] = budgets
    crew = np.array([r.crew_hours for r in problem.regions], dtype=np.float64).reshape(n_reg, horizon)
    row_upper[rows_crew:] = crew.reshape(-1)

    # x columns: three entries each, rows ascending (package, budget, crew), written straight into
    # int32 / float64 arrays in HiGHS's column-wise order: at 30,000 sites (1.1 M columns) the
    # lists of pieces, their concatenation and a sort by (column, row) held ~200 MB more
    x_rows = np.empty((n_x, 3), dtype=np.int32)
    x_rows[:, 0] = x_package
    x_rows[:, 1] = rows_budget + x_period
    x_rows[:, 2] = rows_crew + region[x_package] * horizon + x_period
    x_vals = np.empty((n_x, 3), dtype=np.float64)
    x_vals[:, 0] = 1.0
    x_vals[:, 1] = x_spend
    x_vals[:, 2] = hours[x_package]
    x_keep = x_vals != 0.0  # zero spends or hours are dropped
    counts_per_col = [x_keep.sum(axis=1)]
    index_parts = [x_rows[x_keep]]
    value_parts = [x_vals[x_keep]]
    del x_rows, x_vals, x_keep
    extra_cost: list[float] = []
    extra_upper: list[float] = []
    n_cols = n_x

    def add_column(entries: list[tuple[int, float]], objective: float, upper: float = INF) -> int:
        nonlocal n_cols
        col = n_cols
        n_cols += 1
        kept = sorted((row, val) for row, val in entries if val != 0.0)
        counts_per_col.append(np.array([len(kept)], dtype=np.int64))
        index_parts.append(np.array([row for row, _ in kept], dtype=np.int32))
        value_parts.append(np.array([val for _, val in kept], dtype=np.float64))
        extra_cost.append(objective)
        extra_upper.append(upper)
        return col

    carry_col = -1
    if problem.carry_over:
        carry_col = n_cols
        for t in range(horizon):
            entries = [(rows_budget + t, 1.0)]
            if t + 1 < horizon:
                entries.append((rows_budget + t + 1, -1.0))
            add_column(entries, 0.0)
    budget_col = -1
    if budget_by is not None:
        for t in range(budget_by + 1):
            row_upper[rows_budget + t] = 0.0
        budget_col = add_column([(rows_budget + t, -1.0) for t in range(budget_by + 1)], 1.0)
        x_cost = tie * x_spend  # the budget is the objective; cost breaks ties
        offset = 0.0
    slack_cols: list[tuple[str, int, int, int]] = []
    if elastic:
        # overrun as a share of the limit, so money and hours weigh alike
        x_cost = np.zeros(n_x)
        offset = 0.0
        for t in range(horizon):
            scale = max(budgets[t], 1.0)
            slack_cols.append(("budget", -1, t, add_column([(rows_budget + t, -1.0)], 1.0 / scale)))
        for r in range(n_reg):
            for t in range(horizon):
                scale = max(crew[r, t], 1.0)
                col = add_column([(rows_crew + r * horizon + t, -1.0)], 1.0 / scale)
                slack_cols.append(("crew", r, t, col))

    counts = np.concatenate(counts_per_col)
    starts = np.zeros(n_cols, dtype=np.int32)
    np.cumsum(counts[:-1], out=starts[1:])
    index = np.concatenate(index_parts)
    value = np.concatenate(value_parts)

    objective = np.concatenate([x_cost, np.array(extra_cost, dtype=np.float64)])
    return Model(
        cost=objective,
        extra_upper=np.array(extra_upper, dtype=np.float64),
        row_lower=row_lower,
        row_upper=row_upper,
        starts=starts,
        index=index,
        value=value,
        offset=offset,
        x_package=x_package,
        x_period=x_period,
        x_spend=x_spend,
        n_x=n_x,
        carry_col=carry_col,
        slack_cols=slack_cols,
        budget_col=budget_col,
        tie=tie,
        rows_budget=rows_budget,
        rows_crew=rows_crew,
    )


def start_vector(model: Model, problem: Problem, plan: dict[str, int]) -> npt.NDArray[np.float64]:
    """A full column vector for a plan (package id -> period index), for a warm start."""
    index = {p.id: i for i, p in enumerate(problem.packages)}
    chosen = np.full(len(problem.packages), -1, dtype=np.int64)
    for pid, t in plan.items():
        chosen[index[pid]] = t
    values = np.zeros(len(model.cost))
    values[: model.n_x] = (chosen[model.x_package] == model.x_period).astype(np.float64)
    if model.carry_col >= 0:
        spend = np.bincount(model.x_period, weights=values[: model.n_x] * model.x_spend, minlength=problem.horizon)
        budgets = np.array([p.budget for p in problem.periods])
        carry = np.cumsum(budgets - spend)
        values[model.carry_col : model.carry_col + problem.horizon] = np.maximum(carry, 0.0)
    return values
