"""The planner's reads and writes on SQLite and PostgreSQL: the estate as the assessment left
it, plans stored per scenario, the latest of each compared."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from phaseout.app import Phaseout
from phaseout.app.assessment import run_assessment
from phaseout.app.planning import NotAssessedError, plan_stored_estate, save_plan, stored_plans
from phaseout.plan.estate import PlanSettings
from phaseout.plan.solve import solve
from phaseout.policy.packs import available_packs
from phaseout.store import Store

TODAY = dt.date(2026, 11, 29)


def test_estate_to_stored_plans(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "sites.csv").write_text(
        "Code,Region,Sensitivity,Next maintenance\nS1,North,sensitive,2027-05-01\nS2,South,standard,\n",
        encoding="utf-8",
    )
    (tmp_path / "devices.csv").write_text(
        "Site,Make,Model,IP,Serial\n"
        "S1,Hikvision,DS-7608NXI-I2/8P/S,127.40.1.1,A1\n"
        "S1,Hikvision,DS-2CD2143G2-I,127.40.1.2,A2\n"
        "S1,HiLook,DS-2CD2143G2-I,127.40.1.3,A3\n"
        "S2,Lorex,LNB4321B,127.40.2.1,B1\n"
        "S2,Axis,P3245-LV,127.40.2.2,B2\n",
        encoding="utf-8",
    )
    settings = PlanSettings(start=dt.date(2027, 1, 1), periods=4, budget=(100_000.0,))
    with Store.open(db_url) as store:
        Phaseout(store).import_sites(tmp_path / "sites.csv")
        Phaseout(store).import_devices(tmp_path / "devices.csv")
        Phaseout(store).use_packs(["org-template", "uk-cabinet-office-2022"])
        with pytest.raises(NotAssessedError, match="no assessment is stored"):
            plan_stored_estate(store.engine, None, settings, TODAY)
        packs = available_packs()
        run_assessment(store.engine, [packs["org-template"], packs["uk-cabinet-office-2022"]], TODAY)
        estate, catalogue = plan_stored_estate(store.engine, None, settings, TODAY)
        assert [item.sku for item, _ in catalogue.refused] == ["ANX-BUL-4-IR"]
        planned = {d for p in estate.problem.packages for d in p.devices}
        unmatched = {d.id for d, _ in estate.unmatched}
        assert len(planned | unmatched) == 4  # the Axis camera is not covered
        s1 = estate.problem.site_by_id["S1"]
        assert s1.sensitive and s1.deadline == "2027-Q1"  # the org template's sensitive-site date has passed
        assert s1.maintenance == "2027-Q2"
        result = solve(estate.problem)
        assert result.status == "optimal"
        first = save_plan(store.engine, "baseline", estate, result)
        second = save_plan(store.engine, "baseline", estate, result)
        save_plan(store.engine, "lean", estate, result)
        assert second > first
        with store.engine.connect() as conn:
            rows = stored_plans(conn)
        assert [name for name, _ in rows] == ["baseline", "lean"]
        assert rows[0][1]["objective"] == pytest.approx(result.objective)
