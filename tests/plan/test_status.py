"""The one status/label function: "optimal" only with a proven gap of zero (within the solver's
tolerance), otherwise the proven gap in words; a plan that is not a plan never reads as best."""

from __future__ import annotations

import pytest

from phaseout.plan.status import OPTIMAL_GAP, honest_status, status_label


@pytest.mark.parametrize(
    ("status", "gap", "fallback", "label"),
    [
        ("optimal", 0.0, False, "optimal"),
        ("optimal", OPTIMAL_GAP, False, "optimal"),
        ("feasible", 0.0, False, "optimal"),  # proved to zero gap, whatever stopped the search
        ("optimal", 0.0049, False, "within 0.49 % of optimal"),  # HiGHS's gap tolerance is not zero
        ("feasible", 0.0021, False, "within 0.21 % of optimal"),
        ("feasible", 0.0089, False, "within 0.89 % of optimal"),
        ("feasible", 0.0003, False, "within 0.03 % of optimal"),
        ("feasible", 0.0000412, False, "optimal"),  # under the tolerance
        ("feasible", 0.000104, False, "within 0.01 % of optimal"),
        ("feasible", 0.25, False, "within 25.00 % of optimal"),
        ("feasible", None, False, "feasible (gap unknown)"),
        ("feasible", None, True, "the rule's plan, repaired (time limit too short to solve), feasible (gap unknown)"),
        ("infeasible", None, False, "infeasible: no plan keeps every deadline, budget and crew limit"),
        ("infeasible", 0.0, False, "infeasible: no plan keeps every deadline, budget and crew limit"),
        ("no-solution", None, False, "no plan found"),
        ("no-solution", None, True, "no plan found (the rule's plan, repaired, still misses deadlines)"),
    ],
)
def test_label(status: str, gap: float | None, fallback: bool, label: str) -> None:
    assert status_label(status, gap, fallback=fallback) == label


@pytest.mark.parametrize(
    ("status", "gap", "honest"),
    [
        ("optimal", 0.0, "optimal"),
        ("optimal", 0.004, "feasible"),
        ("feasible", 1e-7, "optimal"),
        ("feasible", None, "feasible"),
        ("optimal", None, "feasible"),
        ("infeasible", None, "infeasible"),
        ("no-solution", None, "no-solution"),
    ],
)
def test_honest_status(status: str, gap: float | None, honest: str) -> None:
    assert honest_status(status, gap) == honest


def test_a_label_never_calls_a_positive_gap_zero() -> None:
    for gap in (1.01e-4, 2e-4, 1e-3, 0.003, 0.0099, 0.5):
        label = status_label("feasible", gap)
        assert label.startswith("within ") and not label.startswith("within 0.00 ")
