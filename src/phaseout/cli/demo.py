"""``phaseout demo``: a synthetic 300-store retailer through every stage that exists."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from phaseout.cli import render
from phaseout.cli.common import console, err_console
from phaseout.demo.run import run_demo
from phaseout.store import Store
from phaseout.store.imports import Progress


def demo(
    ctx: typer.Context,
    sites: int = typer.Option(300, "--sites", min=1, max=30000, help="Number of stores (plus 6 DCs/offices)."),
    seed: int = typer.Option(2026, "--seed", help="Random seed: the same seed gives the same estate."),
    workdir: Path = typer.Option(
        Path("phaseout-demo"), "--workdir", help="Where the spreadsheets and the demo database are written."
    ),
) -> None:
    """Build a synthetic retail estate, write the messy spreadsheets its teams would keep
    (title rows, odd headers, cp1252, semicolons, OEM labels, typos), import them, and show
    what landed.

    The demo uses its own database (WORKDIR/phaseout-demo.db, recreated each run) unless
    --db or PHASEOUT_DB names one.

    Example:

        phaseout demo --sites 3000 --seed 7
    """
    db = ctx.obj.db if ctx.obj else None
    bars: list[object] = []

    def progress(label: str) -> Progress:
        cm = render.progress_bar(f"importing {escape(label)}", total=0)
        bar = cm.__enter__()
        bars.append(cm)
        task = bar.tasks[0].id

        def tick(n: int, total: int) -> None:
            bar.update(task, advance=n, total=total)

        return tick

    err_console.print(f"building a {sites}-store estate (seed {seed}) in {escape(str(workdir))}/ ...")
    try:
        result = run_demo(workdir, stores=sites, seed=seed, db=db, progress=progress)
    finally:
        for cm in bars:
            cm.__exit__(None, None, None)  # type: ignore[attr-defined]
    files = Table(title="spreadsheets written and imported", title_justify="left")
    for col in ("file", "rows", "imported", "bad", "created", "updated", "status"):
        files.add_column(col, justify="left" if col in ("file", "status") else "right")
    for r in result.imports:
        files.add_row(
            escape(r.file_name),
            f"{r.rows_total:,}",
            f"{r.rows_imported:,}",
            f"{r.rows_bad:,}",
            f"{r.created:,}",
            f"{r.updated:,}",
            r.status,
        )
    console.print(files)
    with Store.open(result.db) as store:
        _overview(store)
    console.print(
        f"\nfiles: {escape(str(workdir))}/ (truth.csv holds the true maker of every row)\n"
        f"database: {escape(result.db_url)}\n"
        f"next: phaseout --db {escape(result.db_url)} devices --search DS-2CD\n"
        f"      phaseout --db {escape(result.db_url)} devices --brand hilook --format xlsx -o hilook.xlsx\n"
        f"      phaseout --db {escape(result.db_url)} imports"
    )


def _overview(store: Store) -> None:
    makers: Counter[str] = Counter()
    types: Counter[str] = Counter()
    for row in store.iter_devices():
        makers[(row["manufacturer"] or "(blank)").strip()] += 1
        types[row["device_type"]] += 1
    table = Table(title="devices by reported maker (as the spreadsheets spell it)", title_justify="left")
    table.add_column("maker as written")
    table.add_column("devices", justify="right")
    for name, n in makers.most_common(12):
        table.add_row(escape(name), f"{n:,}")
    if len(makers) > 12:
        table.add_row(
            f"[dim]{len(makers) - 12} other spellings[/]",
            f"{sum(makers.values()) - sum(n for _, n in makers.most_common(12)):,}",
        )
    console.print(table)
    t2 = Table(title="devices by type", title_justify="left")
    t2.add_column("type")
    t2.add_column("devices", justify="right")
    for name, n in types.most_common():
        t2.add_row(name, f"{n:,}")
    console.print(t2)
    console.print(
        "[dim]The reported makers are what the sheets say. Identification (coming next) will read "
        "brands, model numbers and MAC prefixes to find every Hikvision and Dahua device under any label.[/]"
    )
