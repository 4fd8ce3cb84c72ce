"""Spreadsheet rows -> :class:`InventoryRecord` or :class:`RowError` (pure, streaming).

This runs once per row on million-row files, so it does the least work per cell: one
``clean_text`` per mapped cell, then a normaliser only for the fields that have one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from phaseout.domain import DeviceType, InventoryRecord
from phaseout.errors import RowError
from phaseout.ingest.columns import ColumnMapping
from phaseout.ingest.tables import Row
from phaseout.ingest.values import parse_device_type
from phaseout.normalize import clean_text, looks_like_hostname, normalize_ip, normalize_mac

#: Fields of which at least one must be present for a row to describe a device.
IDENTIFYING = ("manufacturer", "brand", "model", "mac", "ip", "serial", "hostname", "description")

_TYPE_CACHE: dict[str, str] = {}


def _device_type(text: str) -> str:
    cached = _TYPE_CACHE.get(text)
    if cached is None:
        cached = str(parse_device_type(text))
        if len(_TYPE_CACHE) < 10000:
            _TYPE_CACHE[text] = cached
    return cached


def parse_inventory(
    rows: Iterable[tuple[int, Row]],
    mapping: ColumnMapping,
    default_site: str | None = None,
) -> Iterator[InventoryRecord | RowError]:
    """Parse the rows after the header.  Blank rows are skipped silently; every other row
    yields a record or an error that names the row, the column and the reason."""
    fields = list(mapping.fields.items())
    extras = list(mapping.extra.items())
    headers = {i: h for h, i in (*((mapping.headers[i], i) for i in mapping.fields.values()), *extras)}
    for number, cells in rows:
        if not any(c not in ("", None) for c in cells):
            continue
        width = len(cells)
        rec = InventoryRecord(row=number)
        error: RowError | None = None
        for fld, idx in fields:
            if idx >= width:
                continue
            value = clean_text(cells[idx])
            if value is None:
                continue
            if fld == "mac":
                try:
                    value = normalize_mac(value)
                except ValueError as exc:
                    error = RowError(number, str(exc), headers[idx])
                    break
            elif fld == "ip":
                try:
                    value = normalize_ip(value)
                except ValueError as exc:
                    if looks_like_hostname(value) and "hostname" not in mapping.fields:
                        rec.hostname = value
                        continue
                    error = RowError(number, str(exc), headers[idx])
                    break
            elif fld == "device_type":
                rec.extra.setdefault("type_as_written", value)
                value = _device_type(value)
            setattr(rec, fld, value)
        if error is None:
            for header, idx in extras:
                if idx < width:
                    value = clean_text(cells[idx])
                    if value is not None:
                        rec.extra[header] = value
            if default_site is not None:
                rec.site = default_site
            if rec.site is None:
                error = RowError(number, "no site: add a site/store column or give --site CODE", "site")
            elif not any(getattr(rec, f) is not None for f in IDENTIFYING):
                error = RowError(number, "no device details (make, model, MAC, IP, serial or name)")
            elif rec.device_type is None:
                rec.device_type = DeviceType.UNKNOWN.value
        if error is not None:
            error.values = mapping.row_values(cells)
            yield error
        else:
            yield rec
