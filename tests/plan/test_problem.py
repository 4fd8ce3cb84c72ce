"""problem.json: every mistake is refused with where it is; a good file round-trips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from phaseout.errors import DataError, InputFileError
from phaseout.plan.problem import problem_from_dict, read_problem

from .conftest import random_problem


def _problem() -> dict[str, Any]:
    return random_problem(1, sites=3, periods=2)


def test_round_trip() -> None:
    data = _problem()
    problem = problem_from_dict(data)
    assert problem_from_dict(problem.as_dict()) == problem
    assert problem.as_dict()["packages"][0]["devices"] == data["packages"][0]["devices"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["periods"].append(dict(d["periods"][0])), "id 'P1' is used twice"),
        (lambda d: d["sites"][0].update(region="atlantis"), "region 'atlantis' is not among the regions"),
        (lambda d: d["sites"][0].update(deadline="P9"), "deadline 'P9' is not a period id"),
        (lambda d: d["regions"][0].update(crew_hours=[1]), "one number per period (2)"),
        (lambda d: d["packages"][0].update(cost=-5), "'cost' must be a number >= 0"),
        (lambda d: d["packages"][0].update(risk="high"), "'risk' must be a number >= 0"),
        (lambda d: d["packages"][0].update(site="nowhere"), "site 'nowhere' is not among the sites"),
        (lambda d: d.update(carry_over="yes"), "'carry_over' must be true or false"),
        (lambda d: d.update(periods=[]), "at least one period is needed"),
        (lambda d: d.pop("packages"), "'packages' must be a list"),
    ],
)
def test_mistakes_are_refused_with_where_and_why(change: Any, message: str) -> None:
    data = _problem()
    change(data)
    with pytest.raises(DataError) as caught:
        problem_from_dict(data)
    assert message in str(caught.value) + (caught.value.hint or "")


def test_unknown_extra_fields_are_accepted() -> None:
    data = _problem()
    data["scenario"] = "lean"
    data["packages"][0]["note"] = "annotated by another tool"
    assert problem_from_dict(data).packages[0].id == data["packages"][0]["id"]


def test_files_that_are_not_problems(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="does not exist"):
        read_problem(tmp_path / "missing.json")
    cut = tmp_path / "cut.json"
    cut.write_bytes(orjson.dumps(_problem())[:-20])
    with pytest.raises(InputFileError, match="not valid JSON"):
        read_problem(cut)
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    with pytest.raises(DataError, match="not a planning problem"):
        read_problem(listing)
