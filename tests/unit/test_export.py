"""Exports: formula neutralisation and a usable XLSX (header, filters, frozen panes)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import openpyxl

from phaseout.export.tables import neutralise, write_csv, write_jsonl, write_xlsx

ROWS = [
    {"id": 1, "model": '=HYPERLINK("http://x","y")', "brand": "+cmd", "site": "-1", "mac": "@SUM(A1)"},
    {"id": 2, "model": "DS-2CD2143G2-I", "brand": None, "site": "0001", "mac": "\tTAB"},
]
COLUMNS = ("id", "site", "mac", "brand", "model")


def test_neutralise() -> None:
    assert neutralise("=1+1") == "'=1+1"
    assert neutralise("DS-2CD") == "DS-2CD"
    assert neutralise(5) == 5


def test_csv_neutralises_formulas() -> None:
    buf = io.StringIO()
    assert write_csv(ROWS, COLUMNS, buf) == 2
    rows = list(csv.reader(io.StringIO(buf.getvalue())))
    assert rows[0] == list(COLUMNS)
    assert rows[1] == ["1", "'-1", "'@SUM(A1)", "'+cmd", '\'=HYPERLINK("http://x","y")']
    assert rows[2][3] == ""


def test_jsonl_keeps_values_exactly() -> None:
    buf = io.StringIO()
    write_jsonl(ROWS, COLUMNS, buf)
    first = json.loads(buf.getvalue().splitlines()[0])
    assert first["model"] == ROWS[0]["model"]


def test_xlsx_has_header_filter_frozen_panes_and_no_formulas(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    assert write_xlsx(ROWS, COLUMNS, path) == 2
    ws = openpyxl.load_workbook(path).active
    assert [c.value for c in ws[1]] == list(COLUMNS)
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:E3"
    cells = [c for row in ws.iter_rows(min_row=2) for c in row if c.value is not None]
    assert all(c.data_type != "f" for c in cells)
    assert ws["E2"].value == '\'=HYPERLINK("http://x","y")'
    assert ws["A2"].value == 1
