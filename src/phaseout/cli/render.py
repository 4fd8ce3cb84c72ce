"""The one place the CLI turns rows into screen output: listings, and import results.

Data is printed literally.  Every cell from the store or a file becomes a :class:`rich.text.Text`
(or is escaped), so ``[bold]`` in a device name is shown as typed and ``:ab:`` inside a MAC
address is never turned into an emoji.

Listings fit the terminal: key columns (ids, SKUs, IPs, MACs, timestamps, pack ids) are never
cut; when the table cannot fit, the other columns are dropped (last-listed first) and named
under the table.  ``--wide`` shows every column whatever the terminal, and ``--format csv`` or
``jsonl`` gives scripts the rows with no table at all.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from phaseout.app.imports import ImportResult
from phaseout.cli.common import console, err_console
from phaseout.errors import RowError
from phaseout.export.safe import SafeCsvWriter

SHOWN_ERRORS = 20


class ListFormat(StrEnum):
    table = "table"
    csv = "csv"
    jsonl = "jsonl"


WIDE = typer.Option(False, "--wide", help="Show every column, however wide the terminal.")
LIST_FORMAT = typer.Option(
    ListFormat.table, "--format", "-f", help="table on screen, or csv / jsonl for scripts (every column)."
)


@dataclass(frozen=True, slots=True)
class Column:
    """A listing column.  ``key`` columns are whole on screen at any width (ids, SKUs, IPs,
    MACs, timestamps, pack ids); the others fold, and are dropped when even that cannot fit."""

    name: str
    key: bool = False
    right: bool = False


def cell(value: object) -> Text:
    """A data value as literal text: no markup, no emoji codes, no highlighting."""
    return Text(_plain(value))


def _plain(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        at = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return at.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _widths(columns: Sequence[Column], rows: Sequence[Sequence[object]]) -> list[tuple[int, int]]:
    """(narrowest readable, widest) per column: a key column only ever at its widest; another
    may fold down to its longest header word or its longest data word up to 12 characters."""
    out = []
    for i, col in enumerate(columns):
        texts = [_plain(r[i]) for r in rows]
        widest = max([len(col.name), *(len(t) for t in texts)])
        if col.key:
            out.append((widest, widest))
        else:
            head = max((len(w) for w in col.name.split()), default=1)
            word = max((len(w) for t in texts for w in t.split()), default=1)
            out.append((min(widest, max(head, min(word, 12))), widest))
    return out


def _extra(n: int) -> int:
    """Padding and separators of a listing table with n columns (no outer edge)."""
    return max(3 * n - 3, 0)


def _table(title: str, columns: Sequence[Column], rows: Sequence[Sequence[object]]) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for col, (narrow, _widest) in zip(columns, _widths(columns, rows), strict=True):
        table.add_column(
            col.name,
            justify="right" if col.right else "left",
            no_wrap=col.key,
            min_width=narrow,
            overflow="fold",
        )
    for row in rows:
        table.add_row(*(cell(v) for v in row))
    return table


def fit_columns(columns: Sequence[Column], rows: Sequence[Sequence[object]], width: int) -> list[int]:
    """Indexes of the columns shown at ``width``: every key column, and as many of the others
    (in the order listed) as leave the key columns whole and the others readable."""
    widths = _widths(columns, rows)
    shown = list(range(len(columns)))
    while sum(widths[i][0] for i in shown) + _extra(len(shown)) > width:
        optional = [i for i in shown if not columns[i].key]
        if not optional:
            break
        shown.remove(optional[-1])
    return shown


def listing(
    title: str,
    columns: Sequence[Column],
    rows: Iterable[Sequence[object]],
    *,
    fmt: ListFormat = ListFormat.table,
    wide: bool = False,
    out: Console | None = None,
    note: str | None = None,
) -> None:
    """Print a listing as a table that fits the terminal, or as CSV / JSON Lines on stdout."""
    if fmt is not ListFormat.table:
        stream: IO[str] = out.file if out is not None else sys.stdout
        write_rows([c.name for c in columns], rows, fmt, stream)
        return
    screen = out or console
    data = [list(r) for r in rows]
    if wide:
        table = _table(title, columns, data)
        need = sum(w for _n, w in _widths(columns, data)) + _extra(len(columns))
        wide_screen = Console(
            file=screen.file,
            width=max(need, screen.width),
            highlight=False,
            emoji=False,
            force_terminal=screen.is_terminal,
            no_color=screen.no_color,
        )
        wide_screen.print(table)
        if note:
            wide_screen.print(Text(note, style="dim"))
        return
    shown = fit_columns(columns, data, screen.width)
    screen.print(_table(title, [columns[i] for i in shown], [[r[i] for i in shown] for r in data]))
    hidden = [c.name for i, c in enumerate(columns) if i not in shown]
    if hidden:
        screen.print(
            Text(f"not shown at {screen.width} columns: {', '.join(hidden)} (--wide or --format csv shows them)"),
            style="dim",
        )
    if note:
        screen.print(Text(note), style="dim")


def write_rows(names: Sequence[str], rows: Iterable[Sequence[object]], fmt: ListFormat, out: IO[str]) -> int:
    """Rows for scripts: CSV (cells a spreadsheet would run as formulas neutralised) or JSON Lines
    (values exactly as stored)."""
    from phaseout.export.tables import neutralise

    count = 0
    if fmt is ListFormat.csv:
        writer = csv.writer(out)
        writer.writerow(names)
        for row in rows:
            writer.writerow([neutralise(_plain(v)) for v in row])
            count += 1
    else:
        for row in rows:
            out.write(json.dumps(dict(zip(names, (_json(v) for v in row), strict=True)), ensure_ascii=False) + "\n")
            count += 1
    return count


def _json(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def summary(result: ImportResult) -> Table:
    what = "devices" if result.kind == "devices" else "sites"
    table = Table(title=f"import of {escape(result.file_name)}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("status", result.status)
    if result.batch_id is not None:
        table.add_row("batch", str(result.batch_id))
    table.add_row("data rows", f"{result.rows_total:,}")
    table.add_row("imported", f"{result.rows_imported:,}")
    table.add_row("bad rows", f"{result.rows_bad:,}")
    if result.status != "dry-run":
        table.add_row(f"{what} created", f"{result.created:,}")
        table.add_row(f"{what} updated", f"{result.updated:,}")
        merged_by = getattr(result, "merged_by", None)
        if merged_by:
            table.add_row("merged by", ", ".join(f"{k} {n:,}" for k, n in merged_by.most_common()))
        if getattr(result, "keyless", 0):
            table.add_row(
                "warning",
                f"{result.keyless:,} rows have no MAC, serial, asset ID or IP: matched by their values on a "
                "re-import; add an asset ID column to track them for sure",
            )
    if result.sites_created:
        shown = ", ".join(escape(s) for s in result.sites_created[:8])
        more = f" (+{len(result.sites_created) - 8} more)" if len(result.sites_created) > 8 else ""
        table.add_row("new sites", f"{len(result.sites_created)}: {shown}{more}")
    if result.same_file_as is not None:
        table.add_row("note", f"same bytes as batch {result.same_file_as}: {result.created:,} new, rest merged")
    if result.parents_unresolved:
        table.add_row("recorder not found", f"{result.parents_unresolved:,} rows")
    return table


def mapping(result: ImportResult) -> Table:
    table = Table(title=f"columns (header on row {result.mapping.header_row})", title_justify="left")
    table.add_column("column in file")
    table.add_column("phaseout field")
    for header, field in result.mapping.describe():
        table.add_row(escape(header), field if not field.startswith("(") else f"[dim]{field}[/]")
    return table


PREVIEW_KEYS = ("site", "ip", "mac", "serial", "model")


def preview(result: ImportResult, width: int | None = None) -> Table:
    """The first rows as parsed; at ``width`` the key fields stay whole and others fold or drop."""
    names: list[str] = []
    for row in result.preview:
        names.extend(k for k in row if k not in names)
    names.sort(key=lambda n: PREVIEW_KEYS.index(n) if n in PREVIEW_KEYS else len(PREVIEW_KEYS))
    columns = [Column(n, key=n in PREVIEW_KEYS) for n in names]
    rows = [[row.get(n) for n in names] for row in result.preview]
    shown = fit_columns(columns, rows, width or console.width)
    table = _table("first rows as parsed", [columns[i] for i in shown], [[r[i] for i in shown] for r in rows])
    hidden = [c.name for i, c in enumerate(columns) if i not in shown]
    if hidden:
        table.caption = f"not shown at this width: {', '.join(hidden)}"
    return table


def errors(result: ImportResult) -> Table:
    table = Table(title=f"bad rows ({result.rows_bad:,})", title_justify="left")
    table.add_column("row", justify="right")
    table.add_column("column")
    table.add_column("reason")
    for err in result.errors[:SHOWN_ERRORS]:
        table.add_row(str(err.row), escape(err.column or ""), escape(err.reason))
    if result.rows_bad > SHOWN_ERRORS:
        table.caption = f"{result.rows_bad - SHOWN_ERRORS:,} more; --errors FILE saves them all"
    return table


def write_errors(path: Path, row_errors: list[RowError]) -> None:
    """CSV of every bad row: row number, column, reason, and the row's values as JSON."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = SafeCsvWriter(fh)  # the values come from the user's file; a person opens this
        writer.writerow(["row", "column", "reason", "values"])
        for err in row_errors:
            writer.writerow([err.row, err.column or "", err.reason, json.dumps(err.values, ensure_ascii=False)])


@contextmanager
def progress_bar(description: str, total: int) -> Iterator[Progress]:
    """A progress bar on stderr, only when stderr is a terminal (scripts get clean output)."""
    bar = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )
    with bar:
        bar.add_task(description, total=total)
        yield bar


def show(result: ImportResult) -> None:
    if result.status == "dry-run":
        console.print(mapping(result))
        if result.preview:
            console.print(preview(result))
    console.print(summary(result))
    if result.errors:
        console.print(errors(result))
