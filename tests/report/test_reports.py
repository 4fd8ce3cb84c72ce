"""Reports against a known demo estate: every kind in every format; PDFs rendered to PNG with
pdftoppm and their text checked with pdftotext; spreadsheets opened; hostile text escaped."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest

from phaseout.policy.packs import available_packs
from phaseout.report.board import board_report
from phaseout.report.data import compliance_report, site_report
from phaseout.report.public import public_report
from phaseout.report.render import to_html, write
from phaseout.store import Store
from phaseout.store.waivers import add_waiver
from tests.support import PACKS, XSS, build_estate

TODAY = dt.date(2026, 11, 29)
POPPLER = shutil.which("pdftoppm") is not None and shutil.which("pdftotext") is not None


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    db = build_estate(tmp_path_factory.mktemp("report-estate"))
    opened = Store.open(db)
    add_waiver(opened.engine, "t", 1, "leased building", "CISO", dt.date(2099, 1, 1), "isolated VLAN")
    return opened


def _reports(store: Store) -> dict[str, object]:
    packs = [available_packs()[p] for p in PACKS]
    with store.engine.connect() as conn:
        return {
            "board": board_report(conn, packs, TODAY),
            "compliance": compliance_report(conn, packs, TODAY),
            "public": public_report(conn, packs, TODAY),
            "site": site_report(conn, "0001", TODAY),
        }


def test_report_contents(store: Store) -> None:
    reports = _reports(store)
    board = reports["board"]
    figures = dict(board.figures)  # type: ignore[attr-defined]
    assert int(figures["Hikvision devices"].replace(",", "")) > 100
    assert int(figures["Dahua devices"].replace(",", "")) > 50
    headings = [s.heading for s in board.sections]  # type: ignore[attr-defined]
    assert headings[:3] == ["At a glance", "Needs a decision", "Plan against actual"]
    assert board.sections[1].page_break_after  # type: ignore[attr-defined]
    assert "Exceptions" in headings
    compliance = reports["compliance"]
    assert [s.heading for s in compliance.sections] == [  # type: ignore[attr-defined]
        f"{available_packs()[p].name} (version {available_packs()[p].version})" for p in PACKS
    ]
    public_text = to_html(reports["public"])  # type: ignore[arg-type]
    assert "0001" not in public_text and "127." not in public_text  # no sites or addresses in public
    site_text = to_html(reports["site"])  # type: ignore[arg-type]
    assert XSS not in site_text and "&lt;script&gt;alert(1)&lt;/script&gt;" in site_text


@pytest.mark.skipif(not POPPLER, reason="poppler-utils (pdftoppm, pdftotext) is not installed")
@pytest.mark.parametrize("kind", ["board", "compliance", "public", "site"])
def test_pdf_renders_with_its_text(store: Store, kind: str, tmp_path: Path) -> None:
    report = _reports(store)[kind]
    pdf = tmp_path / f"{kind}.pdf"
    write(report, "pdf", pdf)  # type: ignore[arg-type]
    assert pdf.read_bytes()[:5] == b"%PDF-"
    subprocess.run(["pdftoppm", "-png", "-r", "50", str(pdf), str(tmp_path / kind)], check=True)
    pages = sorted(tmp_path.glob(f"{kind}*.png"))
    assert pages and all(p.stat().st_size > 1000 for p in pages)
    artefacts = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"
    artefacts.mkdir(parents=True, exist_ok=True)
    shutil.copy(pages[0], artefacts / f"{kind}-page1.png")
    raw = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    text = " ".join(raw.split())  # lines wrap where the page does
    assert report.title.split(":")[0] in text  # type: ignore[attr-defined]
    if kind == "board":
        assert "Needs a decision" in text and "Exceptions" in text and "waiver" in text
        page1 = " ".join(
            subprocess.run(
                ["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, text=True, check=True
            ).stdout.split()
        )
        for fact in (
            "Hikvision devices",
            "Dahua devices",
            "HiLook",
            "Where:",
            "How risky",
            "critical",
            "What it costs",
            "Progress:",
            "Needs a decision",
            "as of 2026-11-29",
        ):
            assert fact in page1, fact
        assert "not checked" not in text
    if kind == "site":
        assert "<script>alert(1)</script>" in text  # shown as text


@pytest.mark.parametrize("kind", ["board", "compliance", "site"])
def test_xlsx_has_a_sheet_per_table(store: Store, kind: str, tmp_path: Path) -> None:
    report = _reports(store)[kind]
    path = tmp_path / f"{kind}.xlsx"
    write(report, "xlsx", path)  # type: ignore[arg-type]
    book = openpyxl.load_workbook(path)
    tables = [t for s in report.sections for t in s.tables]  # type: ignore[attr-defined]
    assert len(book.sheetnames) == 1 + len(tables)
    assert book["summary"]["A1"].value == report.title  # type: ignore[attr-defined]
    for sheet in book.worksheets[1:]:
        for row in sheet.iter_rows(values_only=True):
            assert not any(isinstance(v, str) and v.startswith("=") for v in row)  # formulas neutralised
