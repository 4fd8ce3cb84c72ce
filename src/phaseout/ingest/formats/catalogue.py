"""Every format ``phaseout import`` reads, in the order ``--formats`` lists them."""

from __future__ import annotations

from phaseout.ingest.formats import nmap, spreadsheet
from phaseout.ingest.formats.registry import Format

FORMATS: tuple[Format, ...] = (
    nmap.FORMAT,
    spreadsheet.FORMAT,
)
