"""The model keeps no per-column bounds or integrality (issue 18): what it builds on demand is
what HiGHS was given before, so the optimum does not move."""

from __future__ import annotations

import highspy
import numpy as np
import pytest

from phaseout.plan.model import INF, Model, build_model
from phaseout.plan.problem import Problem, problem_from_dict
from phaseout.plan.solve import run_highs

from .conftest import random_problem


def _explicit(model: Model, *, relaxed: bool) -> highspy.Highs:
    """The model passed to HiGHS with bounds and integrality written out column by column, the
    way ``build_model`` stored them before: 0 <= x <= 1 binary, every other column continuous."""
    n_col = len(model.cost)
    lower = np.zeros(n_col)
    upper = np.array([1.0] * model.n_x + list(model.extra_upper))
    kinds = np.array([0 if relaxed or j >= model.n_x else 1 for j in range(n_col)], dtype=np.int32)
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.passModel(
        n_col,
        len(model.row_lower),
        len(model.value),
        1,
        1,
        model.offset,
        model.cost,
        lower,
        upper,
        model.row_lower,
        model.row_upper,
        model.starts,
        model.index,
        model.value,
        kinds,
    )
    h.run()
    return h


def _models(problem: Problem) -> list[Model]:
    return [build_model(problem), build_model(problem, elastic=True), build_model(problem, budget_by=1)]


@pytest.mark.parametrize("carry_over", [False, True])
def test_bounds_and_integrality_built_on_demand_give_the_same_optimum(carry_over: bool) -> None:
    problem = problem_from_dict(random_problem(5, sites=40, periods=4, carry_over=carry_over))
    for model in _models(problem):
        extra = len(model.cost) - model.n_x
        assert len(model.extra_upper) == extra
        lower, upper = model.bounds()
        assert (lower == 0).all() and (upper[: model.n_x] == 1).all()
        assert (model.integrality()[: model.n_x] == 1).all() and not model.integrality()[model.n_x :].any()
        assert not model.integrality(relaxed=True).any()
        if carry_over and model.carry_col >= 0:  # carry columns are unbounded above
            assert upper[model.carry_col] == INF
        # a few columns, in any order: the same bounds as the whole-model arrays
        picked = np.array([len(model.cost) - 1, 0, model.n_x - 1], dtype=np.int64)
        some_lower, some_upper = model.bounds(picked)
        assert (some_lower == lower[picked]).all() and (some_upper == upper[picked]).all()
        for relaxed in (True, False):
            ours = run_highs(model, None, 0.0, relaxed=relaxed)
            theirs = _explicit(model, relaxed=relaxed)
            assert ours.getModelStatus() == theirs.getModelStatus()
            if theirs.getModelStatus() == highspy.HighsModelStatus.kOptimal:
                got = ours.getInfo().objective_function_value
                want = theirs.getInfo().objective_function_value
                assert got == pytest.approx(want, rel=1e-9, abs=1e-6)


def test_index_arrays_are_int32_and_read_back_the_periods() -> None:
    problem = problem_from_dict(random_problem(6, sites=30, periods=5))
    model = build_model(problem)
    assert model.x_package.dtype == np.int32 and model.x_period.dtype == np.int32
    for j in range(model.n_x):
        package = problem.packages[int(model.x_package[j])]
        deadline = problem.deadline_index(package)
        assert 0 <= model.x_period[j] <= (problem.horizon - 1 if deadline is None else deadline)
