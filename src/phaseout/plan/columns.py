"""The LP relaxation of a large problem by column generation: HiGHS is given only a few periods
per visit, and the others are added while their reduced cost says they could lower the optimum.

Why: it is faster (fewer columns to price in every simplex iteration), and HiGHS holds about
560 bytes per column at its peak (measured: 488,111 columns took 273 MB more); a problem of
30,000 sites has 1.1 M visit-period columns, while at the optimum each visit uses one or two
periods.  It starts from the spreadsheet rule's own period for each visit (the rule's plan is
then a feasible point; a visit the rule leaves out starts with its last allowed period); every
column of every visit with a deadline is added at the start only when the rule's plan misses a
deadline, or later if the restricted problem turns out infeasible (with them, it is feasible
exactly when the whole problem is: the other visits may stay out).
Each round prices every column against the row duals, in chunks, and adds the ones with a
negative reduced cost; when none is left, the restricted optimum is the LP optimum.  The value
returned is a proven lower bound in every case: the restricted optimum minus, for each column
left out, its reduced cost when negative (Lagrangian bound with the restricted problem's duals;
each column is at most 1), which is zero at the end.

Columns the rounds no longer want go out again: after each round, a column at zero whose reduced
cost is above :data:`DROP_ABOVE` of the largest cost is deleted from HiGHS (the restricted optimum
does not move: its basis stays optimal without a non-basic column).  It is priced again every
round like any column left out, so the bound and the end test above hold unchanged.  Why: HiGHS's
memory follows the most columns it ever held, and most columns added early are far from the
optimum once the duals settle.  Measured at 30,000 sites (LP alone, 932,455 columns): starting
from the periods within one of the rule's and never deleting, 408,619 columns at the end and a
peak of 408 MB over the process before the model was built; from the rule's period and deleting
above 1e-3, at most 218,044 columns and 299 MB, the same optimum (288,045,357.82), 49 s of CPU
against 44 s.  Deleting every column with a positive reduced cost (1e-9) held 165,885 at most and
peaked at 275 MB but took 86 rounds (77 s of CPU): columns went out and came back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import highspy
import numpy as np
import numpy.typing as npt

from phaseout.plan.model import Model

#: beyond this many visit-period columns the LP is solved by column generation.  Measured on the
#: 3,000-site shapes (same optimum to 1e-16, same periods for every visit): 2.5-6.9 s -> 1.0-1.5 s,
#: lean-many-visits 34.8 -> 7.6 s (a loaded machine); small problems keep the one solve, their
#: whole-problem branch and bound wants every column anyway
COLUMNS_AT_ONCE = 20_000
#: columns added in one round, most negative reduced cost first.  HiGHS's memory grows with every
#: column it holds, and a large round adds many that the optimum does not use: measured at 30,000
#: sites (932,455 columns), 200,000 per round ended with 487,081 columns and a 653 MB peak, 50,000
#: with 423,412 and 618 MB, same optimum (25,000: the benchmark's peak in docs/benchmarks.md).
#: No 3,000-site shape of ``bench/plan_shapes.py`` added more than 17,004 in a round (measured
#: with the wider start of branch ``planmem``), so their solves were unchanged.
MAX_ADDED = 25_000
#: the starting columns: periods within this many of the guess's (see the module's docstring)
NEAR = 0
#: after each round, restricted columns whose reduced cost is above this share of the largest
#: cost are taken out again (None: never)
DROP_ABOVE: float | None = 1e-3
CHUNK = 250_000  # columns priced at once (bounds the memory of pricing)
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def _pick(model: Model, cols: IntArray) -> tuple[FloatArray, FloatArray, FloatArray, npt.NDArray[np.int32], Any, Any]:
    """Costs, bounds and column-wise entries of the columns ``cols`` (sorted)."""
    ends = np.append(model.starts[1:], len(model.index)).astype(np.int64)
    first = model.starts[cols].astype(np.int64)
    count = ends[cols] - first
    starts = np.zeros(cols.size, dtype=np.int64)
    np.cumsum(count[:-1], out=starts[1:])
    pos = np.repeat(first - starts, count) + np.arange(int(count.sum()), dtype=np.int64)
    lower, upper = model.bounds(cols)
    return (
        model.cost[cols],
        lower,
        upper,
        starts.astype(np.int32),
        model.index[pos],
        model.value[pos],
    )


def _reduced_costs(model: Model, duals: FloatArray, lo: int, hi: int) -> FloatArray:
    """cost - A^T y for x columns lo..hi-1 (each has at least its package row)."""
    first = int(model.starts[lo])
    last = int(model.starts[hi]) if hi < len(model.starts) else len(model.index)
    contrib = model.value[first:last] * duals[model.index[first:last]]
    used = np.add.reduceat(contrib, model.starts[lo:hi].astype(np.int64) - first)
    return np.asarray(model.cost[lo:hi] - used, dtype=np.float64)


def initial_columns(model: Model, guess: IntArray, must: npt.NDArray[np.bool_], horizon: int) -> IntArray:
    """x columns within one period of the guess (a visit the guess leaves out: its last two
    allowed periods).  When the guess leaves out a visit with a deadline, every column of every
    such visit too: the guess's own columns are then no longer a feasible point."""
    last = np.full(len(guess), -1, dtype=np.int64)
    np.maximum.at(last, model.x_package, model.x_period)
    centre = np.where(guess >= horizon, last, guess)[model.x_package]
    near = np.abs(model.x_period - centre) <= NEAR
    if (must & (guess >= horizon)).any():
        near |= must[model.x_package]
    return np.flatnonzero(near)


def _all_must(model: Model, must: npt.NDArray[np.bool_], inside: npt.NDArray[np.bool_]) -> IntArray:
    """Columns of visits with a deadline not yet in the restricted problem."""
    return np.flatnonzero(must[model.x_package] & ~inside)


def solve_by_columns(
    model: Model,
    guess: IntArray,
    must: npt.NDArray[np.bool_],
    horizon: int,
    run: Callable[..., Any],
    time_limit: float | None,
) -> tuple[Any, float, FloatArray]:
    """Solve the LP relaxation of ``model`` (its integrality ignored); returns (the HiGHS model
    status of the last solve, a proven lower bound on the LP optimum including ``model.offset``,
    the full column vector).  ``run`` is :func:`phaseout.plan.solve.run_highs`."""
    n_x = model.n_x
    inside = np.zeros(n_x, dtype=bool)
    inside[initial_columns(model, guess, must, horizon)] = True
    cols = np.concatenate([np.flatnonzero(inside), np.arange(n_x, len(model.cost))])
    cost, lower, upper, starts, index, value = _pick(model, cols)
    # the inside x columns, then every other column: the restricted model's bounds follow
    restricted = Model(**{name: getattr(model, name) for name in model.__slots__})
    restricted.cost, restricted.starts, restricted.index, restricted.value = cost, starts, index, value
    h = run(restricted, time_limit, 1e-3, relaxed=True)
    del restricted, cost, lower, upper, starts, index, value
    while True:
        status = h.getModelStatus()
        infeasible = status in (
            highspy.HighsModelStatus.kInfeasible,
            highspy.HighsModelStatus.kUnboundedOrInfeasible,  # (bounded columns: not unbounded)
        )
        if infeasible and (missing_must := _all_must(model, must, inside)).size:
            # the restricted problem lacks a column some deadline needs: give it all of them
            inside[missing_must] = True
            cols = np.concatenate([cols, missing_must])
            cost, lower, upper, starts, index, value = _pick(model, missing_must)
            h.addCols(missing_must.size, cost, lower, upper, len(index), starts, index, value)
            h.run()
            continue
        if status != highspy.HighsModelStatus.kOptimal:
            return status, 0.0, np.zeros(0)
        solution = h.getSolution()
        duals = np.asarray(solution.row_dual, dtype=np.float64)
        objective = float(h.getInfo().objective_function_value)
        scale = max(1.0, float(np.abs(model.cost[:n_x]).max()))
        negative: list[IntArray] = []
        reduced: list[FloatArray] = []
        missing = 0.0  # sum of the negative reduced costs left out: the bound's correction
        for lo in range(0, n_x, CHUNK):
            hi = min(lo + CHUNK, n_x)
            rc = _reduced_costs(model, duals, lo, hi)
            out = ~inside[lo:hi] & (rc < 0)
            missing += float(rc[out].sum())
            take = np.flatnonzero(out & (rc < -1e-9 * scale))
            negative.append(take + lo)
            reduced.append(rc[take])
        new = np.concatenate(negative)
        if new.size == 0:
            values = np.zeros(len(model.cost))
            values[cols] = np.asarray(solution.col_value, dtype=np.float64)
            return status, objective + missing, values
        if new.size > MAX_ADDED:
            new = np.sort(new[np.argsort(np.concatenate(reduced), kind="stable")[:MAX_ADDED]])
        if DROP_ABOVE is not None:
            col_dual = np.asarray(solution.col_dual, dtype=np.float64)
            col_value = np.asarray(solution.col_value, dtype=np.float64)
            drop = np.flatnonzero((cols < n_x) & (col_dual > DROP_ABOVE * scale) & (col_value <= 0.0))
            if drop.size:
                h.deleteCols(drop.size, drop.astype(np.int32))
                inside[cols[drop]] = False
                cols = np.delete(cols, drop)
            del col_dual, col_value, drop
        inside[new] = True
        cols = np.concatenate([cols, new])
        del solution, duals, negative, reduced  # not held through the next solve
        cost, lower, upper, starts, index, value = _pick(model, new)
        h.addCols(new.size, cost, lower, upper, len(index), starts, index, value)
        del cost, lower, upper, starts, index, value
        h.run()
