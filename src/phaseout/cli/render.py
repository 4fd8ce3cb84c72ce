"""Rich renderings of import results: summary, column mapping, preview, row errors.

Every value from a file is escaped before Rich sees it: a cell that says ``[bold]`` or
``[link=...]`` is shown as typed, not interpreted as markup.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from phaseout.cli.common import console, err_console
from phaseout.errors import RowError
from phaseout.export.safe import SafeCsvWriter
from phaseout.store.imports import ImportResult

SHOWN_ERRORS = 20


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
    if result.sites_created:
        shown = ", ".join(escape(s) for s in result.sites_created[:8])
        more = f" (+{len(result.sites_created) - 8} more)" if len(result.sites_created) > 8 else ""
        table.add_row("new sites", f"{len(result.sites_created)}: {shown}{more}")
    if result.same_file_as is not None:
        table.add_row("note", f"same file as batch {result.same_file_as}: merged, no duplicates")
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


def preview(result: ImportResult) -> Table:
    columns: list[str] = []
    for row in result.preview:
        columns.extend(k for k in row if k not in columns)
    table = Table(title="first rows as parsed", title_justify="left")
    for c in columns:
        table.add_column(escape(c), overflow="fold")
    for row in result.preview:
        table.add_row(*(escape("" if row.get(c) is None else str(row.get(c))) for c in columns))
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
