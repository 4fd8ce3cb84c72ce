"""Export rows (dicts) as CSV, JSON Lines or XLSX.

CSV and XLSX cells go through :mod:`phaseout.export.safe` (formula neutralisation, no automatic
links); JSON Lines keeps values exactly, since it is read by programs, not spreadsheets.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from phaseout.export.safe import SafeCsvWriter, neutralise, safe_workbook, write_cell

__all__ = ["neutralise", "write_csv", "write_jsonl", "write_xlsx"]


def _cell(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        # the store keeps UTC; SQLite hands it back without a zone, so say which zone it is
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def write_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str], out: IO[str]) -> int:
    writer = SafeCsvWriter(out)
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow(["" if row.get(c) is None else _cell(row.get(c)) for c in columns])
        count += 1
    return count


def write_jsonl(rows: Iterable[dict[str, Any]], columns: Sequence[str], out: IO[str]) -> int:
    count = 0
    for row in rows:
        out.write(json.dumps({c: _cell(row.get(c)) for c in columns}, ensure_ascii=False) + "\n")
        count += 1
    return count


def write_xlsx(rows: Iterable[dict[str, Any]], columns: Sequence[str], path: Path, sheet: str = "devices") -> int:
    """One sheet: bold header row, autofilter over the data, frozen header, sensible widths.
    Written in constant-memory mode, so a 150,000-row export stays small in RAM."""
    book = safe_workbook(path, {"constant_memory": True})
    try:
        ws = book.add_worksheet(sheet[:31])
        bold = book.add_format({"bold": True, "bg_color": "#E8EEF4", "bottom": 1})
        for col, name in enumerate(columns):
            ws.write_string(0, col, name, bold)
            ws.set_column(col, col, max(10, min(40, len(name) + 4)))
        count = 0
        for count, row in enumerate(rows, start=1):
            for col, name in enumerate(columns):
                value = _cell(row.get(name))
                write_cell(ws, count, col, str(value) if isinstance(value, bool) else value)
        ws.autofilter(0, 0, max(count, 1), len(columns) - 1)
        ws.freeze_panes(1, 0)
    finally:
        book.close()
    return count
