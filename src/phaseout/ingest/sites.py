"""Sites sheet rows -> :class:`Site` or :class:`RowError` (pure)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from phaseout.domain import Site
from phaseout.errors import RowError
from phaseout.ingest.columns import ColumnMapping
from phaseout.ingest.limits import BadRow
from phaseout.ingest.tables import Row
from phaseout.ingest.values import parse_date, parse_float, parse_months, parse_sensitivity
from phaseout.normalize import clean_text

_PARSERS: dict[str, Callable[[Any], Any]] = {
    "latitude": lambda v: parse_float(v, -90.0, 90.0, "latitude"),
    "longitude": lambda v: parse_float(v, -180.0, 180.0, "longitude"),
    "sensitivity": parse_sensitivity,
    "next_maintenance": parse_date,
    "maintenance_cycle_months": parse_months,
}


def parse_sites(rows: Iterable[tuple[int, Row]], mapping: ColumnMapping) -> Iterator[Site | RowError]:
    """One :class:`Site` per non-blank row; a row without a code is an error."""
    for number, cells in rows:
        if isinstance(cells, BadRow):  # the reader could not split it safely: report, never guess
            yield RowError(number, cells.reason, values=mapping.row_values(cells))
            continue
        if not any(c not in ("", None) for c in cells):
            continue
        values: dict[str, Any] = {}
        error: RowError | None = None
        for fld, idx in mapping.fields.items():
            if idx >= len(cells):
                continue
            raw = cells[idx]
            text = clean_text(raw) if not hasattr(raw, "year") else raw
            if text is None:
                continue
            parser = _PARSERS.get(fld)
            try:
                values[fld] = parser(text) if parser else text
            except ValueError as exc:
                error = RowError(number, str(exc), mapping.headers[idx])
                break
        if error is None and "code" not in values:
            error = RowError(number, "no site code", "code")
        if error is not None:
            error.values = mapping.row_values(cells)
            yield error
            continue
        yield Site(**values)
