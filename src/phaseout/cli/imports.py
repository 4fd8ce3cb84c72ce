"""``phaseout import`` (devices), ``phaseout sites import|list`` and ``phaseout imports``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from phaseout.app import Phaseout
from phaseout.app.imports import ImportOptions, ImportResult
from phaseout.cli import render
from phaseout.cli.common import compact_hint, console, open_store, parse_map
from phaseout.errors import DataError
from phaseout.queries import records

FILE_ARG = typer.Argument(..., help="CSV (any of , ; tab |; UTF-8 or cp1252) or XLSX/XLS/ODS file.", show_default=False)
SHEET = typer.Option(None, "--sheet", help="Sheet name in a workbook (default: the first sheet).")
MAP = typer.Option(
    None,
    "--map",
    metavar="COLUMN=FIELD",
    help="Override the guessed mapping, e.g. --map 'Cam Make=manufacturer'; FIELD '-' ignores the column. Repeatable.",
)
HEADER_ROW = typer.Option(None, "--header-row", min=1, help="Row number of the header (default: found).")
DRY_RUN = typer.Option(False, "--dry-run", help="Show the column mapping and the first rows as parsed; write nothing.")
SKIP_BAD = typer.Option(
    False,
    "--skip-bad",
    help="Import the good rows and report the bad ones (default: any bad row stops the whole import).",
)
ERRORS = typer.Option(None, "--errors", help="Write every bad row (number, column, reason, values) to this CSV.")


def _run(kind: str, ctx: typer.Context, file: Path, options: ImportOptions, errors_file: Path | None) -> ImportResult:
    store = open_store(ctx)
    app = Phaseout(store)
    importer = app.import_devices if kind == "devices" else app.import_sites
    try:
        with render.progress_bar(f"importing {escape(file.name)}", total=0) as bar:
            task = bar.tasks[0].id

            def advance(n: int, total: int) -> None:
                bar.update(task, advance=n, total=total)

            result, mapped = importer(file, options, advance)
    except DataError as exc:
        if errors_file is not None:
            render.write_errors(errors_file, exc.row_errors)
        raise
    finally:
        store.close()
    del mapped
    render.show(result)
    if errors_file is not None and result.errors:
        render.write_errors(errors_file, result.errors)
        console.print(f"bad rows written to {escape(str(errors_file))}")
    if result.alerts:
        console.print(f"alerts: {result.alerts:,} occurrence(s) queued (phaseout alert deliver sends them)")
    if kind == "devices":
        written = result.created + result.updated
        compact_hint(store, written, f"{written:,} devices written in bulk")
    return result


def import_inventory(
    ctx: typer.Context,
    file: Path | None = typer.Argument(None, help="A spreadsheet or another tool's export.", show_default=False),
    format_: str | None = typer.Option(None, "--format", help="Read the file as this format (default: recognised)."),
    list_formats: bool = typer.Option(False, "--formats", help="List the formats phaseout import reads."),
    site: str | None = typer.Option(None, "--site", help="Every row belongs to this site (code or name)."),
    sheet: str | None = SHEET,
    map_: list[str] | None = MAP,
    header_row: int | None = HEADER_ROW,
    dry_run: bool = DRY_RUN,
    skip_bad: bool = SKIP_BAD,
    errors: Path | None = ERRORS,
) -> None:
    """Import a device inventory (cameras, recorders, body-worn cameras, intercoms, readers).

    Columns are recognised from the names estates teams use (Make, Manufacturer, Model No,
    MAC Address, IP, Serial, Store, Location, Firmware, Notes...) below any title rows.
    Devices already known are merged by MAC, then serial, then site + IP; every row is kept
    as evidence. The import is one transaction: all of it lands, or none.

    Examples:

        phaseout import cameras.xlsx --dry-run

        phaseout import "Store 12 CCTV.csv" --site 12 --map "Cam Make=manufacturer"

        phaseout import estate.csv --skip-bad --errors bad-rows.csv
    """
    from phaseout.cli.source_import import list_format_table, run_source

    if list_formats or file is None:
        list_format_table()
        return
    if run_source(ctx, file, format_, site, dry_run, skip_bad, errors):
        return
    options = ImportOptions(
        site=site,
        sheet=sheet,
        overrides=parse_map(map_),
        header_row=header_row,
        skip_bad=skip_bad,
        dry_run=dry_run,
    )
    _run("devices", ctx, file, options, errors)


sites_app = typer.Typer(help="Import and list sites (stores, distribution centres, offices).", no_args_is_help=True)


@sites_app.command("import")
def sites_import(
    ctx: typer.Context,
    file: Path = FILE_ARG,
    sheet: str | None = SHEET,
    map_: list[str] | None = MAP,
    header_row: int | None = HEADER_ROW,
    dry_run: bool = DRY_RUN,
    skip_bad: bool = SKIP_BAD,
    errors: Path | None = ERRORS,
) -> None:
    """Import sites: code, name, region, address, latitude, longitude, sensitivity
    (sensitive|standard, or yes/no), next maintenance date (YYYY-MM-DD or DD/MM/YYYY),
    maintenance cycle in months, format. Existing sites are updated by code.

    Example:

        phaseout sites import estate-sites.xlsx --dry-run
    """
    options = ImportOptions(
        sheet=sheet, overrides=parse_map(map_), header_row=header_row, skip_bad=skip_bad, dry_run=dry_run
    )
    _run("sites", ctx, file, options, errors)


@sites_app.command("list")
def sites_list(
    ctx: typer.Context,
    region: str | None = typer.Option(None, help="Only this region."),
    fmt: render.ListFormat = render.LIST_FORMAT,
    wide: bool = render.WIDE,
) -> None:
    """List sites with their device counts."""
    store = open_store(ctx)
    try:
        rows = records.list_sites(store.engine)
    finally:
        store.close()
    rows = [r for r in rows if not region or (r["region"] or "").lower() == region.lower()]
    columns = [
        render.Column("code", key=True),
        render.Column("sensitivity"),
        render.Column("devices", right=True),
        render.Column("region"),
        render.Column("name"),
        render.Column("next maintenance", key=fmt is not render.ListFormat.table),
        render.Column("type"),
    ]
    render.listing(
        f"sites ({len(rows):,})",
        columns,
        [
            [
                r["code"],
                r["sensitivity"],
                r["devices"] if fmt is not render.ListFormat.table else f"{r['devices']:,}",
                r["region"],
                r["name"],
                r["next_maintenance"],
                r["site_type"],
            ]
            for r in rows
        ],
        fmt=fmt,
        wide=wide,
    )


def import_history(
    ctx: typer.Context,
    limit: int = typer.Option(20, help="How many of the latest imports."),
    fmt: render.ListFormat = render.LIST_FORMAT,
    wide: bool = render.WIDE,
) -> None:
    """Show the latest imports: file, checksum, status, row counts."""
    store = open_store(ctx)
    try:
        rows = records.list_batches(store.engine, limit)
    finally:
        store.close()
    table = fmt is render.ListFormat.table
    columns = [
        render.Column("batch", key=True),
        render.Column("sha256", key=True),
        render.Column("started (UTC)", key=True),
        render.Column("status"),
        render.Column("rows", right=True),
        render.Column("imported", right=True),
        render.Column("bad", right=True),
        render.Column("file"),
        render.Column("kind"),
        render.Column("new", right=True),
        render.Column("updated", right=True),
    ]

    def n(value: int) -> object:
        return f"{value:,}" if table else value

    render.listing(
        "imports",
        columns,
        [
            [
                r["id"],
                r["checksum"][:12] if table else r["checksum"],
                r["started_at"],
                r["status"],
                n(r["rows_total"]),
                n(r["rows_imported"]),
                n(r["rows_bad"]),
                r["file_name"],
                r["kind"],
                n(r["created"]),
                n(r["updated"]),
            ]
            for r in rows
        ],
        fmt=fmt,
        wide=wide,
    )
