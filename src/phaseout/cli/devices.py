"""``phaseout devices``: list, filter and export the device table."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path

import typer
from rich.markup import escape

from phaseout.cli import render
from phaseout.cli.common import console, open_store
from phaseout.domain import DEVICE_FIELDS
from phaseout.errors import UsageError
from phaseout.export.tables import write_csv, write_jsonl, write_xlsx
from phaseout.queries.devices import SORT, DeviceQuery, count_devices, iter_devices
from phaseout.store import Store
from phaseout.store.identification import COLUMNS as IDENTIFICATION_COLUMNS

EXPORT_COLUMNS = (
    "id",
    *(f for f in DEVICE_FIELDS if f != "parent"),
    "status",
    "first_seen",
    "last_seen",
    *(c for c in IDENTIFICATION_COLUMNS if c not in ("evidence_key", "knowledge")),
)
# listed by importance: at 80 columns the last ones are dropped first
TABLE_COLUMNS = ("id", "site", "ip", "mac", "vendor", "model", "label", "manufacturer", "relation", "confidence")
KEY_COLUMNS = ("id", "site", "ip", "mac")


class Format(StrEnum):
    table = "table"
    csv = "csv"
    jsonl = "jsonl"
    xlsx = "xlsx"


def devices(
    ctx: typer.Context,
    site: str | None = typer.Option(None, "--site", help="Site code."),
    vendor: str | None = typer.Option(
        None,
        "--vendor",
        help="Identified maker: hikvision, dahua, axis... or unknown. Catches OEM labels (a Lorex unit is dahua).",
    ),
    label: str | None = typer.Option(
        None, "--label", "--brand", help="Identified brand on the box, e.g. hilook, lorex (any source's spelling)."
    ),
    device_type: str | None = typer.Option(
        None,
        "--type",
        help="Identified type: camera, recorder, body-worn, intercom, access-control, thermal, other, unknown.",
    ),
    maker: str | None = typer.Option(
        None, "--reported-maker", "--maker", help="Manufacturer exactly as the source (spreadsheet, export) wrote it."
    ),
    reported_brand: str | None = typer.Option(None, "--reported-brand", help="Brand exactly as the source wrote it."),
    reported_type: str | None = typer.Option(
        None, "--reported-type", help="Type as the source wrote it, normalised (a 'Dome' row is camera)."
    ),
    status: str | None = typer.Option(None, "--status", help="active, replaced or retired."),
    text: str | None = typer.Option(
        None, "--search", "-s", help="Text in model, serial, MAC, IP, host name, description, maker or brand."
    ),
    sort: str = typer.Option("id", "--sort", help=f"One of: {', '.join(SORT)}."),
    descending: bool = typer.Option(False, "--desc", help="Sort descending."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many rows (table format default: 50)."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table on screen, or an export format."),
    wide: bool = render.WIDE,
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the export here (xlsx needs it)."),
    recorder: int | None = typer.Option(None, "--recorder", help="Only the devices behind this recorder (device id)."),
    tree: bool = typer.Option(
        False, "--tree", help="Show --site or --recorder as a tree: each recorder with the cameras on its channels."
    ),
) -> None:
    """List and filter devices; export them as CSV, XLSX or JSON Lines.

    Exports neutralise cells that a spreadsheet would run as a formula.

    Examples:

        phaseout devices --vendor hikvision --type recorder

        phaseout devices --site 0042 --format xlsx -o store-42.xlsx

        phaseout devices -s DS-2CD --format jsonl > hik-cameras.jsonl

        phaseout devices --tree --site 0042     (recorders, their channels, then the rest)

        phaseout devices --tree --recorder 1234
    """
    if site:
        site = _site_code(ctx, site)
    flt = DeviceQuery(
        site=site,
        vendor=vendor,
        label=label,
        type=device_type,
        reported_maker=maker,
        reported_brand=reported_brand,
        reported_type=reported_type,
        status=status,
        text=text,
        parent=recorder,
    )
    if tree:
        from phaseout.cli.tree import print_tree

        with open_store(ctx) as tree_store:
            print_tree(tree_store, site, recorder, fmt.value)
        return
    if fmt is Format.xlsx and output is None:
        raise UsageError("--format xlsx needs --output FILE.xlsx")
    store = open_store(ctx)
    try:
        if fmt is Format.table:
            _table(store, flt, sort, descending, limit or 50, wide)
            return
        rows = iter_devices(store.engine, flt, sort=sort, descending=descending, limit=limit)
        if fmt is Format.xlsx:
            assert output is not None
            count = write_xlsx(rows, EXPORT_COLUMNS, output)
        elif output is not None:
            with output.open("w", newline="", encoding="utf-8") as fh:
                count = (write_csv if fmt is Format.csv else write_jsonl)(rows, EXPORT_COLUMNS, fh)
        else:
            count = (write_csv if fmt is Format.csv else write_jsonl)(rows, EXPORT_COLUMNS, sys.stdout)
        if output is not None:
            console.print(f"{count:,} devices written to {escape(str(output))}")
    finally:
        store.close()


def _table(store: Store, flt: DeviceQuery, sort: str, descending: bool, limit: int, wide: bool) -> None:
    total = count_devices(store.engine, flt)
    columns = [
        render.Column({"manufacturer": "maker as written", "label": "brand"}.get(c, c), key=c in KEY_COLUMNS)
        for c in TABLE_COLUMNS
    ]
    rows = [
        [row[c] for c in TABLE_COLUMNS]
        for row in iter_devices(store.engine, flt, sort=sort, descending=descending, limit=limit)
    ]
    more = (
        f"{total - limit:,} more: use --limit, filters, or --format csv/xlsx/jsonl -o FILE" if total > limit else None
    )
    render.listing(f"devices: {min(limit, total):,} of {total:,}", columns, rows, wide=wide, note=more)


def _site_code(ctx: typer.Context, ref: str) -> str:
    """The stored code of the site ``--site`` names, read as imports read it (``12`` finds
    ``0012``, as ``import --site 12`` and ``scan --site 12`` do)."""
    from phaseout.store.batches import site_code

    with open_store(ctx) as store, store.engine.connect() as conn:
        code = site_code(conn, ref)
    if code is None:
        raise UsageError(f"no site {ref!r}", hint="phaseout sites list shows the codes")
    return code
