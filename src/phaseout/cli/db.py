"""``phaseout db``: where the database is, what it holds, migrations."""

from __future__ import annotations

import typer
from rich.table import Table

from phaseout.cli.common import console, open_store
from phaseout.store import Store, migrate

db_app = typer.Typer(help="Database location, contents and schema migrations.", no_args_is_help=True)


@db_app.command("info")
def info(ctx: typer.Context) -> None:
    """Show which database is in use, its schema revision, its row counts, and whether the audit
    trail's hash chain and its append-only guards are intact."""
    store = open_store(ctx)
    try:
        table = Table(show_header=False, title="database", title_justify="left")
        table.add_row("url", store.url_for_display)
        table.add_row("schema", f"{migrate.current_revision(store.engine)} (newest {migrate.head_revision()})")
        for name, count in store.counts().items():
            table.add_row(name, f"{count:,}")
        table.add_row("audit trail", _audit_state(store))
        console.print(table)
    finally:
        store.close()


def _audit_state(store: Store) -> str:
    """One line: whether the hash chain holds and the append-only triggers are in place."""
    from sqlalchemy.exc import SQLAlchemyError

    from phaseout.store.audit import guards, verify_chain

    try:
        with store.engine.connect() as conn:
            report = verify_chain(conn)
            missing = [name for name, ok in guards(conn).items() if not ok]
    except SQLAlchemyError as exc:  # a dropped events or audit_head table
        return f"[red]BROKEN[/]: cannot read the audit tables ({exc.__class__.__name__}); run `phaseout audit verify`"
    parts = []
    if report.ok:
        parts.append(f"chain intact ({report.events:,} events, head {report.head_hash[:16]})")
    else:
        parts.append(f"[red]chain BROKEN[/]: {report.problems[0]}")
    parts.append("guards in place" if not missing else f"[red]guards MISSING[/]: {', '.join(missing)}")
    return "; ".join(parts)


@db_app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Bring the schema up to date (every command also does this when it opens the database)."""
    store = open_store(ctx)
    try:
        console.print(f"schema at revision {migrate.current_revision(store.engine)}")
    finally:
        store.close()


@db_app.command("reidentify")
def reidentify_cmd(
    ctx: typer.Context,
    all_: bool = typer.Option(False, "--all", help="Every device, not only those identified by other knowledge."),
) -> None:
    """Identify stored devices again with the current knowledge (after editing the knowledge
    files or loading a newer MAC registry). Imports already do this for what is stale."""
    from phaseout.app import Phaseout

    store = open_store(ctx)
    try:
        count = Phaseout(store).reidentify(only_stale=not all_)
    finally:
        store.close()
    console.print(f"{count:,} devices identified")


@db_app.command("compact")
def compact_cmd(ctx: typer.Context) -> None:
    """Give the device table's indexes back their built size after a large import or the first
    assessment of a large estate (PostgreSQL: VACUUM, then REINDEX TABLE CONCURRENTLY devices;
    SQLite: the search index's segments merged). Searches get faster; the dashboard keeps
    working meanwhile. Takes about a minute at 1,000,000 devices."""
    from phaseout.store.maintenance import compact

    store = open_store(ctx)
    try:
        steps = compact(store.engine)
    finally:
        store.close()
    table = Table(title="db compact", title_justify="left")
    for column in ("step", "seconds", "before", "after"):
        table.add_column(column, justify="left" if column == "step" else "right")
    for step in steps:
        sizes = [f"{b / 2**20:,.0f} MB" if b is not None else "" for b in (step.before, step.after)]
        table.add_row(step.name, f"{step.seconds:.1f}", *sizes)
    console.print(table)
