"""``phaseout work``, ``phaseout waiver`` and ``phaseout audit``: carry the plan out and prove it."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import orjson
import typer
from rich.markup import escape
from rich.table import Table

from phaseout.cli.common import console, open_store
from phaseout.errors import UsageError
from phaseout.export.safe import SafeDictWriter
from phaseout.plan.catalogue import covered_makers
from phaseout.policy.packs import available_packs
from phaseout.store.audit import cli_actor, list_events
from phaseout.store.policies import installed_packs_in_use
from phaseout.store.waivers import add_waiver, list_waivers, revoke_waiver
from phaseout.store.work import generate, list_orders, record_return, set_status, show, unblock, verify

work_app = typer.Typer(
    help="Work orders, one per planned site visit: planned -> scheduled -> in-progress -> done -> verified "
    "(or blocked with a reason). Verified only by evidence: the installer's return plus a re-scan."
)
waiver_app = typer.Typer(
    help="Waivers for covered devices that must stay past their deadline (they stay in every report, labelled)."
)


@work_app.command("generate")
def work_generate(
    ctx: typer.Context, plan: int | None = typer.Option(None, "--plan", help="Plan id (default: the newest).")
) -> None:
    """Make the work orders of a stored plan."""
    with open_store(ctx) as store:
        plan_id, made = generate(store.engine, cli_actor(), plan)
    console.print(f"plan {plan_id}: {made:,} work orders made (status planned)")


@work_app.command("list")
def work_list(
    ctx: typer.Context,
    status: str | None = typer.Option(
        None, "--status", help="planned, scheduled, in-progress, done, verified, blocked"
    ),
    site: str | None = typer.Option(None, "--site"),
    fmt: str = typer.Option("table", "--format", "-f", help="table, csv or jsonl"),
) -> None:
    """List work orders."""
    with open_store(ctx) as store, store.engine.connect() as conn:
        rows = list_orders(conn, status=status, site=site)
    if fmt == "jsonl":
        for r in rows:
            sys.stdout.buffer.write(orjson.dumps(r) + b"\n")
        return
    if fmt == "csv":
        writer = SafeDictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["id"])
        writer.writeheader()
        writer.writerows(rows)
        return
    table = Table(title=f"{len(rows):,} work orders", title_justify="left")
    for col in ("id", "site", "region", "period", "visit", "devices", "status", "reason"):
        table.add_column(col)
    for r in rows[:500]:
        table.add_row(
            str(r["id"]),
            escape(r["site"]),
            escape(r["region"]),
            escape(r["period"] or ""),
            escape(r["package"]),
            str(r["devices"] or 0),
            r["status"],
            escape(r["reason"]),
        )
    console.print(table)


@work_app.command("show")
def work_show(ctx: typer.Context, order_id: int = typer.Argument(...)) -> None:
    """One work order: its devices, replacement SKUs, returned serials and verification."""
    with open_store(ctx) as store, store.engine.connect() as conn:
        order = show(conn, order_id)
    console.print(
        f"work order {order['id']}: site {escape(order['site'])}, visit {escape(order['package'])}, "
        f"period {escape(order['period'] or '-')}, [bold]{order['status']}[/]"
        + (f" ({escape(order['reason'])})" if order["reason"] else "")
    )
    table = Table()
    for col in ("device", "model", "ip", "sku", "old serial", "new serial", "new MAC", "done", "verification"):
        table.add_column(col)
    for d in order["devices"]:
        table.add_row(
            str(d["device_id"]),
            escape(d["model"] or ""),
            escape(d["ip"] or ""),
            escape(d["sku"]),
            escape(d["old_serial"] or ""),
            escape(d["new_serial"] or ""),
            escape(d["new_mac"] or ""),
            str(d["done_on"] or ""),
            escape(f"{d['verification']} {d['detail']}".strip()),
        )
    console.print(table)


@work_app.command("set")
def work_set(
    ctx: typer.Context,
    order_id: int = typer.Argument(...),
    status: str | None = typer.Argument(None, help="scheduled, in-progress, done, blocked, planned"),
    reason: str = typer.Option("", "--reason", help="Why it is blocked."),
    unblock_it: bool = typer.Option(False, "--unblock", help="Resume a blocked work order where it was."),
) -> None:
    """Move a work order on. `verified` is set only by `phaseout work verify`.

    Examples:

        phaseout work set 12 scheduled

        phaseout work set 12 blocked --reason "store refit until May"

        phaseout work set 12 --unblock
    """
    with open_store(ctx) as store:
        if unblock_it:
            change = unblock(store.engine, cli_actor(), order_id)
        elif status:
            change = set_status(store.engine, cli_actor(), order_id, status, reason)
        else:
            raise UsageError("give a status or --unblock")
    console.print(f"work order {change['id']}: {change['from']} -> {change['to']}")


@work_app.command("return")
def work_return(ctx: typer.Context, path: Path = typer.Argument(..., help="CSV or XLSX from the installer.")) -> None:
    """Record the installer's return: work_order, device, old_serial, new_serial, new_mac,
    done_date. Checked whole first: one bad row and nothing changes."""
    with open_store(ctx) as store:
        result = record_return(store.engine, cli_actor(), path)
    console.print(
        f"{result.rows:,} device(s) recorded; work orders now done: {', '.join(map(str, result.orders_done)) or 'none'}"
        "\nnext: re-scan the sites (phaseout scan ... --site CODE), then phaseout work verify"
    )


@work_app.command("verify")
def work_verify(ctx: typer.Context) -> None:
    """Check done work orders against the scans: old devices gone, new ones answering and not
    covered by any pack in use, camera coverage kept. Mismatches are exceptions, never passes."""
    with open_store(ctx) as store:
        packs = installed_packs_in_use(store.engine, available_packs())
        result = verify(store.engine, cli_actor(), set(covered_makers(packs)))
    console.print(f"verified: {len(result.verified)} work order(s) {', '.join(map(str, result.verified))}")
    for title, items in (("exceptions", result.exceptions), ("pending", result.pending)):
        if items:
            console.print(f"[{'red' if title == 'exceptions' else 'yellow'}]{title}[/]: {len(items)}")
            for e in items[:30]:
                console.print(f"  work order {e['work_order']}, device {e['device']}: {escape(e['detail'])}")
    for back in result.came_back:
        console.print(
            f"[red]came back[/]: device {back['device']} ({escape(back['ip'] or '')}) answered on "
            f"{back['seen']} after it was replaced"
        )
    if result.exceptions or result.came_back:
        raise typer.Exit(4)


@waiver_app.command("add")
def waiver_add(
    ctx: typer.Context,
    device: int = typer.Argument(..., help="Device id."),
    reason: str = typer.Option(..., "--reason"),
    approver: str = typer.Option(..., "--approver"),
    expires: str = typer.Option(..., "--expires", help="YYYY-MM-DD"),
    controls: str = typer.Option(..., "--controls", help="Compensating controls in place meanwhile."),
) -> None:
    """Record a waiver for a device that must stay past its deadline."""
    try:
        day = dt.date.fromisoformat(expires)
    except ValueError:
        raise UsageError(f"--expires {expires!r} is not a date", hint="YYYY-MM-DD") from None
    with open_store(ctx) as store:
        waiver_id = add_waiver(store.engine, cli_actor(), device, reason, approver, day, controls)
    console.print(f"waiver {waiver_id} recorded for device {device} until {day}")


@waiver_app.command("list")
def waiver_list(ctx: typer.Context) -> None:
    """Waivers, with their state (active, expired, revoked)."""
    with open_store(ctx) as store:
        rows = list_waivers(store.engine)
    table = Table()
    for col in ("id", "device", "state", "expires", "approver", "reason", "controls"):
        table.add_column(col)
    for w in rows:
        table.add_row(
            str(w["id"]),
            str(w["device_id"]),
            w["state"],
            str(w["expires"]),
            escape(w["approver"]),
            escape(w["reason"]),
            escape(w["controls"]),
        )
    console.print(table)


@waiver_app.command("revoke")
def waiver_revoke(ctx: typer.Context, waiver_id: int = typer.Argument(...)) -> None:
    """Revoke a waiver (it stays on record)."""
    with open_store(ctx) as store:
        revoke_waiver(store.engine, cli_actor(), waiver_id)
    console.print(f"waiver {waiver_id} revoked")


def audit(
    ctx: typer.Context,
    entity: str | None = typer.Option(
        None, "--entity", help="device, site, plan, work-order, waiver, user, policy, import"
    ),
    entity_id: str | None = typer.Option(None, "--id"),
    limit: int = typer.Option(100, "--limit", min=1, max=1_000_000),
    fmt: str = typer.Option("table", "--format", "-f", help="table, jsonl or csv (export)"),
) -> None:
    """The audit trail: who changed what, when, before and after. Append-only: nothing in the
    product can edit it (the database refuses updates and deletes of it)."""
    with open_store(ctx) as store, store.engine.connect() as conn:
        rows = list_events(conn, entity=entity, entity_id=entity_id, limit=limit)
    if fmt == "jsonl":
        for r in rows:
            sys.stdout.buffer.write(orjson.dumps(r) + b"\n")
        return
    if fmt == "csv":
        writer = SafeDictWriter(
            sys.stdout, fieldnames=["id", "at", "actor", "action", "entity", "entity_id", "before", "after"]
        )
        writer.writeheader()
        for r in rows:
            writer.writerow(
                {**r, "before": orjson.dumps(r["before"]).decode(), "after": orjson.dumps(r["after"]).decode()}
            )
        return
    table = Table(title="audit trail (newest first)", title_justify="left")
    for col in ("id", "at", "actor", "action", "entity", "before", "after"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["at"][:19],
            escape(r["actor"]),
            escape(r["action"]),
            escape(f"{r['entity']} {r['entity_id']}"),
            escape(orjson.dumps(r["before"]).decode()[:80]),
            escape(orjson.dumps(r["after"]).decode()[:80]),
        )
    console.print(table)
