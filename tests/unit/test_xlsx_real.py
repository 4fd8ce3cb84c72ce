"""The streaming XLSX reader on real workbooks (calamine's bug-report samples, see
tests/data/xlsx_real/SOURCES.md): the same cells as python-calamine, or the same refusal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from python_calamine import CalamineWorkbook

from phaseout.errors import InputFileError
from phaseout.ingest.limits import BadRow
from phaseout.ingest.tables import open_table

DATA = Path(__file__).resolve().parents[1] / "data" / "xlsx_real"
SAMPLES = sorted(p.name for p in DATA.glob("*.xlsx"))
DAMAGED = {"issue252.xlsx"}


def _trim(row: list[Any]) -> list[Any]:
    while row and row[-1] in ("", None):
        row = row[:-1]
    return row


def test_samples_are_there() -> None:
    assert len(SAMPLES) >= 20


@pytest.mark.parametrize("name", SAMPLES)
def test_same_cells_as_calamine(name: str) -> None:
    path = DATA / name
    if name in DAMAGED:
        with pytest.raises(InputFileError, match="damaged"):
            list(open_table(path).rows)
        with pytest.raises(Exception):  # noqa: B017 - calamine's own error type
            CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
        return
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
    theirs = [_trim(list(r)) for r in sheet.iter_rows()]
    first_column = sheet.start[1] if sheet.start else 0
    rows = list(open_table(path).rows)
    assert not [r for _, r in rows if isinstance(r, BadRow)]
    ours = {n: _trim(r[first_column:]) for n, r in rows}
    # python-calamine 0.9 numbers its rows from the sheet's first row (padding above the data)
    # and its columns from the first used column; ours are Excel's own numbers.
    for number, row in enumerate(theirs, start=1):
        assert ours.get(number, []) == row, f"row {number}"
    assert all(not r for n, r in ours.items() if n > len(theirs))
