"""From the estate to a problem: periods, deadlines, maintenance, visits, runbooks that keep a
site covered."""

from __future__ import annotations

import datetime as dt

from phaseout.knowledge import load_knowledge
from phaseout.plan.catalogue import read_catalogue, sample_catalogue_path
from phaseout.plan.estate import (
    EstateDevice,
    EstateSite,
    PlanSettings,
    build_estate_plan,
    deadline_period,
    maintenance_period,
    period_dates,
    period_ids,
)
from phaseout.plan.replace import DeviceSpec, Matcher
from phaseout.plan.runbook import site_runbook
from phaseout.plan.solve import solve
from phaseout.policy.packs import available_packs

START = dt.date(2027, 1, 1)


def _settings(**kw: object) -> PlanSettings:
    return PlanSettings(start=START, periods=8, budget=(50_000.0,), crew_hours=200.0, **kw)  # type: ignore[arg-type]


def test_periods_are_named_and_dated() -> None:
    settings = _settings()
    dates = period_dates(settings)
    assert dates[0] == (dt.date(2027, 1, 1), dt.date(2027, 3, 31))
    assert period_ids(settings, dates)[:5] == ["2027-Q1", "2027-Q2", "2027-Q3", "2027-Q4", "2028-Q1"]
    monthly = PlanSettings(start=dt.date(2027, 2, 1), periods=3, period_months=1)
    assert period_ids(monthly, period_dates(monthly)) == ["2027-02", "2027-03", "2027-04"]


def test_deadlines_map_to_the_last_period_that_ends_by_them() -> None:
    dates = period_dates(_settings())
    assert deadline_period(dt.date(2027, 12, 31), dates) == 3  # 2027-Q4 ends that day
    assert deadline_period(dt.date(2027, 11, 15), dates) == 2  # mid-Q4: must be done in Q3
    assert deadline_period(dt.date(2026, 6, 30), dates) == 0  # already past: the first period


def test_maintenance_moves_on_by_its_cycle() -> None:
    dates = period_dates(_settings())
    site = EstateSite("S1", "north", False, dt.date(2026, 5, 10), 12)
    assert maintenance_period(site, dates) == 1  # 2026-05-10 + 12 months -> 2027-Q2
    assert maintenance_period(EstateSite("S2", "north", False, dt.date(2031, 1, 1)), dates) is None


def _estate() -> tuple[list[EstateSite], list[EstateDevice]]:
    sites = [
        EstateSite("S1", "north", True, dt.date(2027, 5, 1), None, cameras=10),
        EstateSite("S2", "south", False, None, None, cameras=3),
    ]
    devices = [
        EstateDevice(
            1,
            "S1",
            "hikvision",
            "Hikvision",
            "DS-7616NI-Q2",
            "127.0.0.5",
            DeviceSpec("recorder", None, None, 16, 9),
            90.0,
            dt.date(2027, 6, 30),
        )
    ]
    devices += [
        EstateDevice(
            i, "S1", "hikvision", "HiLook", "X", f"127.0.0.{i}", DeviceSpec("camera", "dome", 4), 20.0, None, 1
        )
        for i in range(2, 11)
    ]
    devices += [
        EstateDevice(20, "S2", "dahua", "Lorex", "Y", None, DeviceSpec("camera", "bullet", 4), 15.0),
        EstateDevice(21, "S2", "dahua", "Lorex", "Z", None, DeviceSpec("camera", "dome", 50), 15.0),
        EstateDevice(22, None, "dahua", None, None, "127.0.0.9", DeviceSpec("camera", "dome", 4), 15.0),
    ]
    return sites, devices


def test_the_estate_becomes_visits_with_deadlines_and_savings() -> None:
    packs = [available_packs()["us-ndaa-889"]]
    cat = read_catalogue(sample_catalogue_path(), load_knowledge(), packs)
    sites, devices = _estate()
    settings = _settings(max_visit_hours=12.0, mobilisation_cost=300.0)
    estate = build_estate_plan(sites, devices, Matcher(cat.items, settings.labour_rate), settings)
    problem = estate.problem
    s1 = problem.site_by_id["S1"]
    assert s1.deadline == "2027-Q2"  # the recorder is due by 2027-06-30, the last day of Q2
    assert s1.maintenance == "2027-Q2" and s1.maintenance_saving == 300.0
    visits = [p for p in problem.packages if p.site == "S1"]
    assert len(visits) > 1  # 4 h recorder + 9 x 2 h cameras do not fit one 12-hour visit
    assert all(p.hours <= 12.0 for p in visits)
    assert visits[0].devices[0] == "1"  # the recorder goes in the first visit
    unmatched = {d.id: reason for d, reason in estate.unmatched}
    assert "no approved catalogue item" in unmatched[21] and "no site" in unmatched[22]
    bom = estate.bill_of_materials()
    assert sum(n for _, n in bom["S1"].values()) == 10


def test_runbook_keeps_the_site_covered() -> None:
    packs = [available_packs()["us-ndaa-889"]]
    cat = read_catalogue(sample_catalogue_path(), load_knowledge(), packs)
    sites, devices = _estate()
    settings = _settings(max_visit_hours=100.0, max_offline_share=0.25)
    estate = build_estate_plan(sites, devices, Matcher(cat.items, settings.labour_rate), settings)
    result = solve(estate.problem)
    steps = site_runbook(estate, "S1", result.assignments)
    actions = [s.action for s in steps]
    assert actions[0].startswith("install HW-NVR-16 beside the old recorder")
    batches: dict[int, int] = {}
    for s in steps:
        if s.batch is not None and s.device is not None:
            batches[s.batch] = batches.get(s.batch, 0) + 1
    assert batches and max(batches.values()) <= 2  # 25 % of 10 cameras
    switch_off = next(i for i, a in enumerate(actions) if a.startswith("switch the old recorder off"))
    last_swap = max(i for i, s in enumerate(steps) if s.batch is not None)
    assert switch_off > last_swap
    assert all(s.period == "2027-Q1" for s in steps)
