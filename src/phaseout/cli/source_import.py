"""``phaseout import`` for other tools' exports: recognise the format, read, store, summarise.

Kept apart from ``cli/imports.py`` (spreadsheets) so the wiring can move to the app object
in one piece."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from phaseout.app import Phaseout
from phaseout.cli import render
from phaseout.cli.common import console, open_store
from phaseout.errors import DataError
from phaseout.ingest.formats.registry import all_formats, detect


def list_format_table() -> None:
    table = Table(title="formats phaseout import reads", title_justify="left")
    table.add_column("--format")
    table.add_column("what")
    table.add_column("example")
    for fmt in all_formats():
        table.add_row(fmt.name, escape(fmt.title), escape(fmt.example))
    console.print(table)


def run_source(
    ctx: typer.Context,
    file: Path,
    forced: str | None,
    site: str | None,
    dry_run: bool,
    skip_bad: bool,
    errors_file: Path | None,
) -> bool:
    """Import ``file`` when it is another tool's export; False when it is a spreadsheet (the
    caller's path)."""
    fmt = detect(file, forced)
    if fmt.read is None:
        return False
    store = open_store(ctx)
    try:
        with render.progress_bar(f"importing {escape(file.name)} ({fmt.name})", total=0) as bar:
            task = bar.tasks[0].id
            result = Phaseout(store).import_source(
                file,
                fmt,
                site=site,
                skip_bad=skip_bad,
                dry_run=dry_run,
                progress=lambda n, _total: bar.update(task, advance=n),
            )
    except DataError as exc:
        if errors_file is not None:
            render.write_errors(errors_file, exc.row_errors)
        raise
    finally:
        store.close()
    console.print(f"format: {fmt.name} ({escape(fmt.title)})")
    render.show(result)
    if errors_file is not None and result.errors:
        render.write_errors(errors_file, result.errors)
    if result.alerts:
        console.print(f"alerts: {result.alerts:,} occurrence(s) queued (phaseout alert deliver sends them)")
    return True
