"""Spreadsheets (the inventory importer's own path): recognised here so detection can hand a
workbook or an unclaimed CSV to ``import_devices``."""

from __future__ import annotations

import csv

from phaseout.ingest.columns import score_header
from phaseout.ingest.formats.registry import Format

_WORKBOOK_EXT = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
_TEXT_EXT = (".csv", ".tsv", ".txt")


#: A delimited text whose header row names this many inventory fields (Site, Make, Model, MAC...)
#: is an inventory register, whatever else its rows look like: a register with IP and MAC columns
#: must not be read as a scanner listing (it would lose its site, make and model columns).
HEADER_FIELDS = 3


def _register_header(head: str) -> bool:
    """One of the first lines, split at its delimiter, is a header naming inventory fields."""
    for line in [ln for ln in head.splitlines()[:50] if ln.strip()]:
        delimiter = max(",;\t|", key=line.count)
        if line.count(delimiter) < 2:
            continue
        cells = next(csv.reader([line], delimiter=delimiter), [])
        if score_header(cells, "devices") >= HEADER_FIELDS:
            return True
    return False


def sniff(head: str, name: str) -> float:
    if name.endswith(_WORKBOOK_EXT):
        return 0.9
    if _register_header(head):
        return 0.75  # above a plain listing (at most 0.7), below a tool's own signature columns
    if name.endswith(_TEXT_EXT):
        first = next((ln for ln in head.splitlines() if ln.strip()), "")
        return 0.55 if any(d in first for d in ",;\t|") else 0.3
    return 0.0


FORMAT = Format(
    "spreadsheet",
    "inventory spreadsheet (CSV, XLSX, XLS, ODS) with recognised column names",
    (),
    sniff,
    None,
    "phaseout import cameras.xlsx --dry-run",
)
