"""``phaseout audit``: read the audit trail, and ``phaseout audit verify``: prove nobody rewrote it."""

from __future__ import annotations

import typer

from phaseout.cli import render
from phaseout.cli.common import console, open_store
from phaseout.cli.track import audit as show_trail
from phaseout.errors import StoreError
from phaseout.store.audit import guards, verify_chain

audit_app = typer.Typer(
    help="The audit trail (who changed what, when), and `audit verify` to check its hash chain.",
    invoke_without_command=True,
)


@audit_app.callback()
def audit_root(
    ctx: typer.Context,
    entity: str | None = typer.Option(
        None, "--entity", help="device, site, plan, work-order, waiver, user, token, login, policy, import"
    ),
    entity_id: str | None = typer.Option(None, "--id"),
    limit: int = typer.Option(100, "--limit", min=1, max=1_000_000),
    fmt: str = typer.Option("table", "--format", "-f", help="table, jsonl or csv (export)"),
    wide: bool = render.WIDE,
) -> None:
    """The audit trail: who changed what, when, before and after (newest first). Append-only:
    the database refuses edits, and `phaseout audit verify` finds any made around it."""
    if ctx.invoked_subcommand is None:
        show_trail(ctx, entity=entity, entity_id=entity_id, limit=limit, fmt=fmt, wide=wide)


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    expect: str | None = typer.Option(
        None, "--expect", help="The newest hash recorded earlier (kept outside the database); it must still be there."
    ),
) -> None:
    """Recompute the hash chain of every event and check the database's append-only guards.

    Exit 0 when intact; exit 5 naming the first problems when an event was changed, removed,
    reordered or cut off, or a guard is missing. Keep the printed head hash somewhere else
    (a ticket, a report) and pass it to --expect later: that also catches a rewritten tail.

    Example: phaseout audit verify --expect 3f9c...
    """
    with open_store(ctx) as store, store.engine.connect() as conn:
        report = verify_chain(conn, expect=expect)
        missing = [name for name, ok in guards(conn).items() if not ok]
    console.print(f"{report.events:,} events checked; head {report.head_seq} {report.head_hash}")
    for problem in report.problems:
        console.print(f"[red]tampered[/]: {problem}", markup=True, highlight=False)
    for name in missing:
        console.print(f"[red]guard missing or disabled[/]: trigger {name}", highlight=False)
    if report.problems or missing:
        raise StoreError(
            "the audit trail is not intact",
            hint="restore the database from a backup and find out who had write access to it",
        )
    console.print("audit trail intact: every event links to the one before, and the guards are in place")
