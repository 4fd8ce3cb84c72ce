"""Export rows (dicts) as CSV, JSON Lines or XLSX.

Spreadsheet formula injection: a device that calls itself ``=HYPERLINK(...)`` must not run
when a manager opens the export.  Text cells that begin with ``=``, ``+``, ``-``, ``@``, tab
or carriage return get a leading apostrophe in CSV and XLSX (the OWASP advice); JSON Lines
keeps values exactly, since it is read by programs, not spreadsheets.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Make a text cell inert in a spreadsheet; other types pass through."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _cell(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        # the store keeps UTC; SQLite hands it back without a zone, so say which zone it is
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def write_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str], out: IO[str]) -> int:
    writer = csv.writer(out)
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow(["" if row.get(c) is None else neutralise(_cell(row.get(c))) for c in columns])
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
    import xlsxwriter

    book = xlsxwriter.Workbook(
        str(path), {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
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
                if value is None:
                    continue
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    ws.write_string(count, col, str(neutralise(value)))
                else:
                    ws.write_number(count, col, value)
        ws.autofilter(0, 0, max(count, 1), len(columns) - 1)
        ws.freeze_panes(1, 0)
    finally:
        book.close()
    return count
