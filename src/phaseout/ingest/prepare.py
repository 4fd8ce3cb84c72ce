"""Open a file, find its header row and map its columns: the shared first step of every
import (devices or sites) and of ``--dry-run``."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from phaseout.errors import InputFileError
from phaseout.ingest.columns import HEADER_SEARCH_ROWS, ColumnMapping, find_header, map_columns
from phaseout.ingest.limits import BadRow
from phaseout.ingest.tables import Row, Table, open_table


@dataclass(slots=True)
class MappedTable:
    table: Table
    mapping: ColumnMapping
    data_rows: Iterator[tuple[int, Row]]  # the rows below the header, read once


def open_mapped(
    path: Path | str,
    kind: str,
    *,
    sheet: str | None = None,
    overrides: Mapping[str, str] | None = None,
    header_row: int | None = None,
) -> MappedTable:
    """``kind`` is ``devices`` or ``sites``.  ``header_row`` (1-based) skips detection."""
    table = open_table(path, sheet, bad_rows="yield")
    head = list(itertools.islice(table.rows, max(HEADER_SEARCH_ROWS, header_row or 0)))
    if not head:
        raise InputFileError(f"{table.name} is empty", hint="export the sheet again; it has no rows")
    if header_row is not None:
        found = next((r for r in head if r[0] == header_row), None)
        if found is None:
            raise InputFileError(f"--header-row {header_row} is past the end of {table.name}")
        number, cells = found[0], list(found[1])
    else:
        number, header_cells = find_header(head, kind)
        cells = list(header_cells)
    mapping = map_columns(cells, kind, overrides, header_row=number)
    width = max((i + 1 for i, c in enumerate(cells) if c not in ("", None)), default=0)
    rest: Iterator[tuple[int, Row]] = (r for r in head if r[0] > number)
    if table.expect_width is not None and width:
        table.expect_width(width)  # rows read from here on are checked by the reader itself
        rest = _check_width(rest, width)
    return MappedTable(table, mapping, itertools.chain(rest, table.rows))


def _check_width(rows: Iterator[tuple[int, Row]], width: int) -> Iterator[tuple[int, Row]]:
    """The CSV rows read before the header was known: one with fewer fields than the header, or
    with values past it, lost or shifted a delimiter; it is a bad row, not a guess."""
    for number, cells in rows:
        if not isinstance(cells, BadRow) and cells and any(c not in ("", None) for c in cells):
            extra = cells[width:]
            if len(cells) < width or any(str(c).strip() for c in extra):
                yield (
                    number,
                    BadRow(
                        f"has {len(cells)} fields where the header has {width}: a missing or extra delimiter?", cells
                    ),
                )
                continue
        yield number, cells
