"""Spreadsheet rows -> :class:`InventoryRecord` or :class:`RowError` (pure, streaming).

This runs once per row on million-row files, so it does the least work per cell.  Columns
whose values repeat across an estate (site, make, brand, model, firmware, type) are cleaned
once per distinct value through a bounded per-column cache; MACs and IPs, nearly all
distinct, are normalised directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from phaseout.domain import DeviceType, InventoryRecord
from phaseout.errors import RowError
from phaseout.ingest.columns import ColumnMapping
from phaseout.ingest.limits import BadRow
from phaseout.ingest.tables import Row
from phaseout.ingest.values import parse_device_type
from phaseout.normalize import clean_text, looks_like_hostname, normalize_ip, normalize_mac

#: Fields of which at least one must be present for a row to describe a device.
IDENTIFYING = ("manufacturer", "brand", "model", "mac", "ip", "serial", "hostname", "description")
#: Fields whose values repeat enough to be worth caching.
REPEATING = frozenset({"site", "manufacturer", "brand", "model", "firmware", "device_type", "parent"})
#: A row that says only that a device of a known type is there (a camera in aisle 4, make blank)
#: is still a device: that unknown is what the programme has to resolve, so it is kept.
CACHE_LIMIT = 100_000
_UNKNOWN = DeviceType.UNKNOWN.value
_TEXT, _MAC, _IP, _TYPE = range(4)


def _clean_type(raw: Any) -> tuple[str, str] | None:
    text = clean_text(raw)
    return None if text is None else (text, parse_device_type(text).value)


def parse_inventory(
    rows: Iterable[tuple[int, Row]],
    mapping: ColumnMapping,
    default_site: str | None = None,
) -> Iterator[InventoryRecord | RowError]:
    """Parse the rows after the header.  Blank rows are skipped silently; every other row
    yields a record or an error that names the row, the column and the reason."""
    # One step per mapped column: (how to read it, field, column index, cache or None).
    plan: list[tuple[int, str, int, dict[Any, Any] | None]] = []
    for fld, idx in mapping.fields.items():
        how = _MAC if fld == "mac" else _IP if fld == "ip" else _TYPE if fld == "device_type" else _TEXT
        plan.append((how, fld, idx, {} if fld in REPEATING else None))
    extras = list(mapping.extra.items())
    has_hostname_column = "hostname" in mapping.fields
    for number, cells in rows:
        if isinstance(cells, BadRow):  # the reader could not split it safely: report, never guess
            yield RowError(number, cells.reason, values=mapping.row_values(cells))
            continue
        if not any(cells):
            continue  # blank row (all cells "" or None)
        width = len(cells)
        rec = InventoryRecord(row=number)
        vals: dict[str, Any] = {}  # the observation's fields, built as we go (see observation_fields)
        error: RowError | None = None
        for how, fld, idx, cache in plan:
            if idx >= width or not (raw := cells[idx]):
                continue
            if cache is not None:
                try:
                    value = cache[raw]
                except KeyError:
                    value = _clean_type(raw) if how == _TYPE else clean_text(raw)
                    if len(cache) < CACHE_LIMIT:
                        cache[raw] = value
                except TypeError:  # unhashable cell value
                    value = _clean_type(raw) if how == _TYPE else clean_text(raw)
                if value is None:
                    continue
                if how == _TYPE:
                    rec.extra["type_as_written"], value = value
                setattr(rec, fld, value)
                vals[fld] = value
                continue
            text: str | None
            if type(raw) is str and len(raw) > 7 and raw.isascii() and raw.isprintable() and " " not in raw:
                text = raw  # already clean: one word of printable ASCII (MACs, IPs, serials)
            else:
                text = clean_text(raw)
            if text is None:
                continue
            if how == _TEXT:
                setattr(rec, fld, text)
                vals[fld] = text
            elif how == _MAC:
                try:
                    rec.mac = vals["mac"] = normalize_mac(text)
                except ValueError as exc:
                    error = RowError(number, str(exc), mapping.headers[idx])
                    break
            else:
                try:
                    rec.ip = vals["ip"] = normalize_ip(text)
                except ValueError as exc:
                    if looks_like_hostname(text) and not has_hostname_column:
                        rec.hostname = vals["hostname"] = text
                        continue
                    error = RowError(number, str(exc), mapping.headers[idx])
                    break
        if error is None:
            for header, idx in extras:
                if idx < width and (raw := cells[idx]) and (text := clean_text(raw)) is not None:
                    rec.extra[header] = text
            if default_site is not None:
                rec.site = vals["site"] = default_site
            if rec.site is None:
                error = RowError(number, "no site: add a site/store column or give --site CODE", "site")
            elif not (
                rec.manufacturer
                or rec.brand
                or rec.model
                or rec.mac
                or rec.ip
                or rec.serial
                or rec.hostname
                or rec.description
                or rec.asset_id
                or (rec.device_type not in (None, _UNKNOWN))
                or rec.extra
            ):
                error = RowError(number, "no device details (make, model, MAC, IP, serial, asset ID, type or name)")
            else:
                if rec.device_type is None:
                    rec.device_type = vals["device_type"] = _UNKNOWN
                if rec.extra:
                    vals.update(rec.extra)
                rec.fields = vals
        if error is not None:
            error.values = mapping.row_values(cells)
            yield error
        else:
            yield rec
