"""What the board and public reports may say: makers and labels named, money in the currency the
organisation set, defaults and sample prices marked, charts cut at the last period with work,
claims only where the evidence supports them, and progress derived from the audit trail."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select, update

from phaseout.app.planning import plan_stored_estate, save_plan
from phaseout.plan.estate import PlanSettings
from phaseout.plan.solve import solve
from phaseout.policy.packs import available_packs
from phaseout.queries.progress import progress_days
from phaseout.report.board import board_report
from phaseout.report.facts import band, gather, status_label
from phaseout.report.public import public_report
from phaseout.report.render import to_html, write
from phaseout.store import Store
from phaseout.store.audit import record_event
from phaseout.store.schema import sites, work_order_devices, work_orders
from phaseout.store.settings import get_setting, set_setting
from tests.support import PACKS, build_estate

TODAY = dt.date(2026, 11, 29)
POPPLER = shutil.which("pdftotext") is not None and shutil.which("pdftoppm") is not None


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_estate(tmp_path_factory.mktemp("board-estate"))


def _packs() -> list:  # type: ignore[type-arg]
    return [available_packs()[p] for p in PACKS]


def _text(report: object) -> str:
    html = to_html(report)  # type: ignore[arg-type]
    return " ".join(html.split())


def test_status_labels_never_overstate() -> None:
    assert status_label("optimal", 0.0) == "optimal"
    assert status_label("optimal", 0.0038) == "within 0.38 % of optimal"
    assert status_label("feasible", 0.1) == "within 10.00 % of optimal"
    assert status_label("infeasible", None).startswith("infeasible")
    assert [band(v) for v in (150, 50, 20, 3, None)] == ["critical", "high", "medium", "low", "low"]


def test_board_names_makers_labels_and_currency(db: str) -> None:
    with Store.open(db) as store:
        with store.engine.connect() as conn:
            plain = board_report(conn, _packs(), TODAY, budget_check=False)
        text = _text(plain)
        assert "Hikvision:" in text and "Dahua:" in text and "under the labels" in text
        assert "No currency is set" in text
        set_setting(store.engine, "currency", "gbp", "test")
        with store.engine.connect() as conn:
            assert get_setting(conn, "currency") == "GBP"
            report = board_report(conn, _packs(), TODAY, budget_check=False)
        text = _text(report)
        assert "costs GBP " in text and "No currency is set" not in text
        # the demo plan uses the sample catalogue: marked as such, on page 1
        assert "ILLUSTRATIVE SAMPLE" in report.sections[0].text[-2] or "ILLUSTRATIVE SAMPLE" in " ".join(
            report.sections[0].text
        )
        # numbers carry thousands separators
        assert re.search(r"costs GBP \d{1,3}(,\d{3})+ ", text)


def test_charts_stop_at_last_period_with_work(db: str) -> None:
    with Store.open(db) as store, store.engine.connect() as conn:
        report = board_report(conn, _packs(), TODAY, budget_check=False)
        facts = gather(conn, ["dahua", "hikvision"], TODAY)
    assert facts.plan is not None
    charts = [c for s in report.sections for c in s.charts]
    assert charts
    last = facts.plan.periods[-1]
    assert last["done"] > 0  # the last period shown has work
    for chart in charts:
        assert chart.labels[-1] == last["id"]
    assert len(facts.plan.all_periods) > len(facts.plan.periods)  # the plan had empty periods after


def test_default_budget_is_never_reported_as_a_budget(tmp_path: Path) -> None:
    db = build_estate(tmp_path)
    with Store.open(db) as store:
        estate, _ = plan_stored_estate(store.engine, None, PlanSettings(start=dt.date(2027, 1, 1)), TODAY)
        save_plan(store.engine, "defaults", estate, solve(estate.problem, time_limit=20))
        with store.engine.connect() as conn:
            report = board_report(conn, _packs(), TODAY, budget_check=False)
    text = _text(report)
    assert "budgeted" not in text and "Budget set when planning" not in text
    assert "No budget was given when planning" in text
    assert all("budget" not in t.columns for s in report.sections for t in s.tables if t.name.startswith("plan by"))


def test_unplanned_devices_stay_in_the_burn_down(db: str) -> None:
    with Store.open(db) as store, store.engine.connect() as conn:
        facts = gather(conn, ["dahua", "hikvision"], TODAY)
        report = board_report(conn, _packs(), TODAY, budget_check=False)
    assert facts.plan is not None
    unplanned = len(facts.plan.unplanned)
    assert unplanned > 0  # the hostile rows (no usable model) cannot be matched
    chart = next(c for s in report.sections for c in s.charts if c.kind == "line")
    planned = dict(chart.series)["plan (incl. no replacement planned)"]
    assert planned[-1] == unplanned  # the line ends at the devices with no replacement, not at zero
    assert dict(chart.series)["no replacement planned"][0] == unplanned


def test_public_report_claims_only_what_is_proven(db: str) -> None:
    with Store.open(db) as store:
        with store.engine.connect() as conn:
            report = public_report(conn, _packs(), TODAY)
        text = _text(report)
        # mitigations are "not checked" in the demo: no claim of isolation or firmware
        assert "isolated from core networks" not in text and "current firmware" not in text
        assert "[TO EDIT:" in text
        # devices without a replacement: no completion date is claimed
        assert "Our plan replaces the remaining" not in text
        assert dict(report.figures)["planned completion"] == "not yet planned for every device"
        assert "sensitive site" in text  # the demo has sensitive sites (DCs, offices)
        with store.engine.begin() as conn:
            saved = dict(conn.execute(select(sites.c.id, sites.c.sensitivity)).all())
            conn.execute(update(sites).values(sensitivity="standard"))
        try:
            with store.engine.connect() as conn:
                text = _text(public_report(conn, _packs(), TODAY))
            assert "sensitive" not in text
        finally:
            with store.engine.begin() as conn:
                for site_id, sensitivity in saved.items():
                    conn.execute(update(sites).where(sites.c.id == site_id).values(sensitivity=sensitivity))


def test_progress_derived_from_the_audit_trail(tmp_path: Path) -> None:
    db = build_estate(tmp_path)
    today = dt.datetime.now(dt.UTC).date()  # devices are first seen on the real day of the import
    with Store.open(db) as store:
        with store.engine.begin() as conn:
            order = conn.execute(work_orders.select().limit(1)).mappings().first()
            assert order is not None
            ids = [
                int(r.device_id)
                for r in conn.execute(
                    work_order_devices.select().where(work_order_devices.c.work_order_id == order["id"])
                )
            ]
            conn.execute(
                update(work_order_devices)
                .where(work_order_devices.c.work_order_id == order["id"])
                .values(done_on=today)
            )
        with store.engine.connect() as conn:
            returned = progress_days(conn, ["dahua", "hikvision"], today)[-1]
            total = gather(conn, ["dahua", "hikvision"], today).total
        with store.engine.begin() as conn:
            record_event(
                conn,
                "t",
                "work-order.status",
                "work-order",
                order["id"],
                {"status": "done"},
                {"status": "verified", "devices": ids},
            )
        with store.engine.connect() as conn:
            verified = progress_days(conn, ["dahua", "hikvision"], today)[-1]
            yesterday = progress_days(conn, ["dahua", "hikvision"], today - dt.timedelta(days=1))
    assert ids
    assert returned == {"day": today.isoformat(), "remaining": total, "replaced": len(ids), "verified": 0}
    assert verified == {
        "day": today.isoformat(),
        "remaining": total - len(ids),
        "replaced": len(ids),
        "verified": len(ids),
    }
    assert yesterday == [] or yesterday[-1]["remaining"] == 0  # nothing was found before the import


@pytest.mark.skipif(not POPPLER, reason="poppler-utils (pdftoppm, pdftotext) is not installed")
def test_board_page_one_as_text(db: str, tmp_path: Path) -> None:
    with Store.open(db) as store, store.engine.connect() as conn:
        report = board_report(conn, _packs(), TODAY)
    pdf = tmp_path / "board.pdf"
    write(report, "pdf", pdf)
    page1 = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = " ".join(page1.split())
    for fact in (
        "Hikvision devices",
        "Dahua devices",
        "Where:",
        "How risky",
        "What it costs",
        "Progress:",
        "Needs a decision",
        "Budget that finishes",
        "as of 2026-11-29",
    ):
        assert fact in flat, fact
    assert "not checked" not in flat
    full = " ".join(
        subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout.split()
    )
    with Store.open(db) as store, store.engine.connect() as conn:
        plan = gather(conn, ["dahua", "hikvision"], TODAY).plan
    assert plan is not None
    shown = [p["id"] for p in plan.periods]
    after = [p["id"] for p in plan.all_periods[len(shown) :]]
    table = full.split("plan by period", 1)[1].split("Sites", 1)[0]
    assert shown[-1] in table and not any(pid in table for pid in after)  # no empty trailing periods
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "p")], check=True)
    artefacts = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"
    artefacts.mkdir(parents=True, exist_ok=True)
    png = sorted(tmp_path.glob("p*.png"))[0]
    shutil.copy(png, artefacts / "board-page1-facts.png")
    (artefacts / "board-page1.txt").write_text(page1, encoding="utf-8")
