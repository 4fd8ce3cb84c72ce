"""Spreadsheets (the inventory importer's own path): recognised here so detection can hand a
workbook or an unclaimed CSV to ``import_devices``."""

from __future__ import annotations

from phaseout.ingest.formats.registry import Format

_WORKBOOK_EXT = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
_TEXT_EXT = (".csv", ".tsv", ".txt")


def sniff(head: str, name: str) -> float:
    if name.endswith(_WORKBOOK_EXT):
        return 0.9
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
