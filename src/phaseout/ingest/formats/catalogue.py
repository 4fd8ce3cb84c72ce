"""Every format ``phaseout import`` reads, in the order ``--formats`` lists them."""

from __future__ import annotations

from phaseout.ingest.formats import configs, jsonsources, nessus, nmap, openvas, spreadsheet, tables, texts
from phaseout.ingest.formats.registry import Format

FORMATS: tuple[Format, ...] = (
    nmap.FORMAT,
    nessus.FORMAT,
    openvas.FORMAT,
    *jsonsources.FORMATS,
    *tables.FORMATS,
    *configs.FORMATS,
    *texts.FORMATS,
    spreadsheet.FORMAT,
)
