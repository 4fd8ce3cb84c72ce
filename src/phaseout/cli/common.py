"""What every command shares: settings from the root options, consoles, error printing."""

from __future__ import annotations

from dataclasses import dataclass

import typer
from rich.console import Console
from rich.markup import escape

from phaseout.errors import PhaseoutError
from phaseout.store import Store

console = Console(highlight=False, emoji=False)
err_console = Console(stderr=True, highlight=False, emoji=False)


@dataclass(slots=True)
class Settings:
    db: str | None = None


def open_store(ctx: typer.Context) -> Store:
    settings: Settings = ctx.obj if isinstance(ctx.obj, Settings) else Settings()
    return Store.open(settings.db)


def print_error(exc: PhaseoutError) -> None:
    err_console.print(f"[bold red]error[/]: {escape(exc.message)}")
    if exc.hint:
        err_console.print(f"[dim]hint[/]: {escape(exc.hint)}")


def parse_map(values: list[str] | None) -> dict[str, str]:
    """``--map "Camera Make=manufacturer"`` options -> {column: field}."""
    from phaseout.errors import UsageError

    out: dict[str, str] = {}
    for item in values or []:
        column, sep, field = item.rpartition("=")
        if not sep or not column.strip() or not field.strip():
            raise UsageError(f"--map {item!r} is not COLUMN=FIELD", hint='e.g. --map "Cam Make=manufacturer"')
        out[column.strip()] = field.strip()
    return out


def compact_hint(store: Store, rows: int, what: str) -> None:
    """After bulk work on PostgreSQL, say once how to give the device indexes back their size
    (``phaseout db compact``: the new row versions of a bulk load or update leave them larger,
    and searches slower, until then).  ``what``: the work, as the sentence's start."""
    from phaseout.store.ids import BULK_ROWS

    if store.engine.dialect.name == "postgresql" and rows >= BULK_ROWS:
        console.print(
            f"[dim]{what}: when the estate is settled, `phaseout db compact` rebuilds the device "
            "indexes (searches get faster; the dashboard keeps working meanwhile)[/]"
        )
