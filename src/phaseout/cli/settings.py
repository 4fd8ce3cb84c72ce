"""``phaseout settings``: the organisation's settings, shared by everyone using the database
(the currency money is reported in, for now)."""

from __future__ import annotations

import typer

from phaseout.cli import render
from phaseout.cli.common import console, open_store
from phaseout.store.audit import cli_actor
from phaseout.store.settings import KNOWN, all_settings, set_setting

settings_app = typer.Typer(help="Organisation settings kept in the database, e.g. the currency of reports.")


@settings_app.command("set")
def settings_set(
    ctx: typer.Context,
    name: str = typer.Argument(..., help=f"One of: {', '.join(sorted(KNOWN))}."),
    value: str = typer.Argument(..., help="The value, e.g. GBP."),
) -> None:
    """Set a setting (recorded in the audit trail).

    Example: phaseout settings set currency GBP
    """
    with open_store(ctx) as store:
        stored = set_setting(store.engine, name, value, cli_actor())
    console.print(f"{name} = {stored}")


@settings_app.command("show")
def settings_show(ctx: typer.Context) -> None:
    """Show every setting and what it is for."""
    with open_store(ctx) as store, store.engine.connect() as conn:
        values = all_settings(conn)
    render.listing(
        "settings",
        [render.Column("name", key=True), render.Column("value", key=True), render.Column("what it is for")],
        [[name, values[name] or "(not set)", KNOWN[name]] for name in sorted(KNOWN)],
    )
