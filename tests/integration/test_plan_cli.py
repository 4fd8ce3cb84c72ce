"""``phaseout plan`` end to end on a small demo estate: the plan, problem.json and plan.json,
the budget question, scenarios, runbooks and the catalogue check."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import orjson
import pytest

from phaseout.app import Phaseout
from phaseout.app.assessment import run_assessment
from phaseout.demo.run import run_demo
from phaseout.plan.problem import problem_from_dict, read_problem, write_json
from phaseout.policy.packs import available_packs
from phaseout.store import Store

from ..plan.conftest import random_problem
from .test_cli import run

PACKS = ["org-template", "uk-cabinet-office-2022"]
TODAY = "2026-11-29"


@pytest.fixture(scope="module")
def estate_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    work = tmp_path_factory.mktemp("plan-demo")
    result = run_demo(work, stores=12, seed=5)
    with Store.open(result.db) as store:
        Phaseout(store).use_packs(PACKS)
        packs = available_packs()
        run_assessment(store.engine, [packs[p] for p in PACKS], dt.date.fromisoformat(TODAY))
    return result.db


@pytest.fixture
def env(estate_db: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PHASEOUT_DB", estate_db)
    monkeypatch.setenv("COLUMNS", "200")
    return estate_db


def test_plan_the_estate_store_it_and_write_runbooks(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--today", TODAY, "--start", "2027-01-01", "--budget", "400000", "--crew-hours", "900"]
    code, out, err = run(capsys, "plan", *common, "-o", str(tmp_path / "plan.json"), "--runbooks", str(tmp_path / "rb"))
    assert code == 0, err
    assert "refused catalogue line" in err and "ANX-BUL-4-IR" in err  # the Annke line, a Hikvision label
    assert "per period" in out and "2027-Q1" in out
    plan = orjson.loads((tmp_path / "plan.json").read_bytes())
    assert plan["status"] in ("optimal", "feasible")
    for key in ("status", "objective", "bound", "gap", "seconds", "assignments", "unscheduled", "periods"):
        assert key in plan
    assert plan["assignments"] and all({"package", "period"} <= set(a) for a in plan["assignments"])
    runbooks = sorted((tmp_path / "rb").glob("*.csv"))
    steps = [r for r in runbooks if not r.name.endswith(".bom.csv")]
    assert steps and len(steps) * 2 == len(runbooks)
    rows = list(csv.DictReader(steps[0].open(encoding="utf-8")))
    assert rows[-1]["action"].startswith("record new serials")
    site = steps[0].stem
    code, out, _ = run(capsys, "plan", "--site", site)  # shows the stored plan's runbook; plans nothing
    assert code == 0 and f"runbook for site {site}" in out
    code, _out, err = run(capsys, "plan", *common, "--site", site)
    assert code == 2 and "does not plan" in err  # planning options beside --site are refused
    code, out, _ = run(capsys, "plan", *common, "--name", "lean", "--budget", "150000")
    assert code == 7 and "short by" in out  # too lean for the deadlines: infeasible, explained, exit 7
    status = next(line for line in out.splitlines() if line.startswith("plan:"))
    assert "infeasible" in status and "risk-exposure" not in status  # no risk figure that reads as best
    code, out, _ = run(capsys, "plan", "compare")
    assert code == 0 and "baseline" in out and "lean" in out and "risk-exposure" in out


def test_export_solve_budget_and_compare_files(env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    problem_file = tmp_path / "problem.json"
    code, out, err = run(
        capsys,
        "plan",
        "--today",
        TODAY,
        "--start",
        "2027-01-01",
        "--periods",
        "8",
        "export-problem",
        "-o",
        str(problem_file),
    )
    assert code == 0, err
    problem = read_problem(problem_file)
    assert len(problem.periods) == 8 and problem.packages
    assert all(p.devices for p in problem.packages)
    code, out, err = run(capsys, "plan", "solve", "--problem", str(problem_file), "--output", str(tmp_path / "p.json"))
    plan = orjson.loads((tmp_path / "p.json").read_bytes())
    assert plan["status"] in ("optimal", "feasible", "infeasible")
    assert code == (7 if plan["status"] == "infeasible" else 0)
    code, out, err = run(
        capsys, "plan", "budget", "--by", "2027-Q4", "--problem", str(problem_file), "-o", str(tmp_path / "b.json")
    )
    assert code == 0, out + err
    answer = orjson.loads((tmp_path / "b.json").read_bytes())
    assert answer["budget_per_period"] > 0 and answer["plan"]["unscheduled"] == []
    assert "per period for the 4 period(s) up to 2027-Q4" in out
    code, out, _ = run(capsys, "plan", "compare", str(problem_file), str(problem_file))
    assert code == 0 and out.count("problem.json") >= 2
    code, out, _ = run(capsys, "plan", "budget", "--by", "2040-Q1", "--problem", str(problem_file))
    assert code == 2 and "not in the problem" in _


def test_catalogue_check(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", "catalogue", "--format", "json")
    assert code == 0
    data = orjson.loads(out)
    assert [r["sku"] for r in data["refused"]] == ["ANX-BUL-4-IR"]
    assert any(i["sku"] == "UV-BUL-4-IR" and i["flag"] for i in data["items"])


def test_a_limit_too_short_for_the_solver_returns_the_rules_plan_flagged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """12,000 sites in one second: the rule's plan takes most of it and the LP (about 160,000
    columns) cannot finish in what is left, so the command answers with the rule's plan,
    repaired, marked as such in plan.json and on screen, never with nothing."""
    problem_file, plan_file = tmp_path / "problem.json", tmp_path / "plan.json"
    problem = problem_from_dict(random_problem(12, sites=12_000, periods=12))
    write_json(problem_file, problem.as_dict())
    code, out, err = run(
        capsys, "plan", "solve", "--problem", str(problem_file), "-o", str(plan_file), "--time-limit", "1"
    )
    assert code == 0, out + err
    plan = orjson.loads(plan_file.read_bytes())
    assert plan["fallback"] is True and plan["gap"] is None and plan["bound"] is None
    assert plan["status"] == "feasible" and "rule's plan" in plan["label"]
    assert any("time limit (1.0 s)" in line for line in plan["explanation"])
    assert "rule's plan" in out
    assert len(plan["assignments"]) + len(plan["unscheduled"]) == len(problem.packages)
