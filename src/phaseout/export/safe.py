"""Files a person opens in a spreadsheet: one place that makes their cells inert.

Spreadsheet formula injection (CWE-1236): a device that calls itself ``=HYPERLINK("http://x")``
or ``+cmd|' /C calc'!A0``, or a site named ``@SUM(1+1)``, must not run when an installer opens
a runbook or a manager opens an export.  Every text cell that begins with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return gets a leading apostrophe (the OWASP "CSV Injection" advice),
in CSV and XLSX alike.  XLSX writers are also made never to turn text into live links or
formulas (xlsxwriter does both by default for strings that look like URLs, UNC paths or
formulas): a link appears only where the product writes one with ``write_url`` on purpose.

Every CSV and XLSX writer in the product goes through this module; JSON Lines does not, since
it is read by programs, which must get values exactly.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    _DictWriter = csv.DictWriter[str]
else:  # not subscriptable at run time
    _DictWriter = csv.DictWriter

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: What every product workbook is opened with: text stays text.
WORKBOOK_OPTIONS: dict[str, Any] = {
    "strings_to_urls": False,
    "strings_to_formulas": False,
    "strings_to_numbers": False,
}


def neutralise(value: Any) -> Any:
    """Make a text cell inert in a spreadsheet; other types pass through."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class SafeCsvWriter:
    """``csv.writer`` whose every cell goes through :func:`neutralise`."""

    def __init__(self, out: IO[str], **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([neutralise(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class SafeDictWriter(_DictWriter):
    """``csv.DictWriter`` whose every cell goes through :func:`neutralise`."""

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({k: neutralise(v) for k, v in rowdict.items()})

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for row in rowdicts:
            self.writerow(row)


def safe_workbook(path: Path | str, options: Mapping[str, Any] | None = None) -> Any:
    """An ``xlsxwriter.Workbook`` that never turns text into a link, a formula or a number."""
    import xlsxwriter

    return xlsxwriter.Workbook(str(path), {**(options or {}), **WORKBOOK_OPTIONS})


def write_cell(sheet: Any, row: int, col: int, value: Any, fmt: Any = None) -> None:
    """Write one value as what it is: numbers as numbers, everything else as neutralised text
    (``write_string``, so nothing in it is ever read as a formula or a link)."""
    if value is None:
        return
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        sheet.write_number(row, col, value, fmt)
    elif isinstance(value, bool):
        sheet.write_boolean(row, col, value, fmt)
    else:
        sheet.write_string(row, col, str(neutralise(value)), fmt)
