"""``phaseout work``, ``phaseout waiver`` and ``phaseout audit``: carry the plan out and prove it."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import orjson
import typer
from rich.markup import escape
from rich.table import Table

from phaseout.app import Phaseout
from phaseout.cli import render
from phaseout.cli.common import console, open_store
from phaseout.errors import EXIT_CHECK_FAILED, UsageError
from phaseout.estate.recorders import places_of
from phaseout.export.safe import SafeDictWriter
from phaseout.queries import recorders
from phaseout.store.audit import cli_actor, list_events
from phaseout.store.waivers import add_waiver, list_waivers, revoke_waiver
from phaseout.store.work import list_orders, show

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
        plan_id, made = Phaseout(store).generate_work(plan)
    console.print(f"plan {plan_id}: {made:,} work orders made (status planned)")


@work_app.command("list")
def work_list(
    ctx: typer.Context,
    status: str | None = typer.Option(
        None, "--status", help="planned, scheduled, in-progress, done, verified, blocked"
    ),
    site: str | None = typer.Option(None, "--site"),
    fmt: str = typer.Option("table", "--format", "-f", help="table, csv or jsonl"),
    wide: bool = render.WIDE,
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
    columns = [
        render.Column("id", key=True),
        render.Column("site", key=True),
        render.Column("visit", key=True),
        render.Column("period", key=True),
        render.Column("status"),
        render.Column("devices", right=True),
        render.Column("region"),
        render.Column("reason"),
    ]
    render.listing(
        f"{len(rows):,} work orders",
        columns,
        [
            [r["id"], r["site"], r["package"], r["period"], r["status"], r["devices"] or 0, r["region"], r["reason"]]
            for r in rows[:500]
        ],
        wide=wide,
        note=f"first 500 shown; --format csv gives all {len(rows):,}" if len(rows) > 500 else None,
    )


@work_app.command("show")
def work_show(ctx: typer.Context, order_id: int = typer.Argument(...)) -> None:
    """One work order: its devices, replacement SKUs, returned serials and verification."""
    with open_store(ctx) as store, store.engine.connect() as conn:
        order = show(conn, order_id)
        ids = [int(d["device_id"]) for d in order["devices"]]
        where, recorder_lines = places_of(recorders.places(conn, ids), ids, "in this order")
    console.print(
        f"work order {order['id']}: site {escape(order['site'])}, visit {escape(order['package'])}, "
        f"period {escape(order['period'] or '-')}, [bold]{order['status']}[/]"
        + (f" ({escape(order['reason'])})" if order["reason"] else "")
    )
    for line in recorder_lines:
        console.print(f"  {escape(line)}", soft_wrap=False, overflow="fold")
    table = Table()
    columns = ("device", "model", "ip", "channel", "sku", "old serial", "new serial", "new MAC", "done", "verification")
    for col in columns:
        table.add_column(col)
    for d in order["devices"]:
        table.add_row(
            str(d["device_id"]),
            escape(d["model"] or ""),
            escape(d["ip"] or ""),
            escape(where.get(int(d["device_id"]), "")),
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
            change = Phaseout(store).unblock_work(order_id)
        elif status:
            change = Phaseout(store).set_work_status(order_id, status, reason)
        else:
            raise UsageError("give a status or --unblock")
    console.print(f"work order {change['id']}: {change['from']} -> {change['to']}")


@work_app.command("return")
def work_return(ctx: typer.Context, path: Path = typer.Argument(..., help="CSV or XLSX from the installer.")) -> None:
    """Record the installer's return: work_order, device, old_serial, new_serial, new_mac,
    done_date. Checked whole first: one bad row and nothing changes."""
    with open_store(ctx) as store:
        result = Phaseout(store).record_return(path)
    console.print(
        f"{result.rows:,} device(s) recorded; work orders now done: {', '.join(map(str, result.orders_done)) or 'none'}"
        "\nnext: re-scan the sites (phaseout scan ... --site CODE), then phaseout work verify"
    )


@work_app.command("verify")
def work_verify(ctx: typer.Context) -> None:
    """Check done work orders against the scans: old devices gone, new ones answering and not
    covered by any pack in use, camera coverage kept. Mismatches are exceptions, never passes."""
    with open_store(ctx) as store:
        result = Phaseout(store).verify()
    console.print(f"verified: {len(result.verified)} work order(s) {', '.join(map(str, result.verified))}")
    for title, items in (("exceptions", result.exceptions), ("pending", result.pending)):
        if items:
            console.print(f"[{'red' if title == 'exceptions' else 'yellow'}]{title}[/]: {len(items)}")
            for e in items[:30]:
                scans = f" (scans {', '.join(map(str, e['scans']))})" if e.get("scans") else ""
                console.print(f"  work order {e['work_order']}, device {e['device']}: {escape(e['detail'])}{scans}")
    for back in result.came_back:
        console.print(
            f"[red]came back[/]: device {back['device']} ({escape(back['ip'] or '')}) answered on "
            f"{back['seen']} after it was replaced"
        )
    if result.exceptions or result.came_back:
        raise typer.Exit(EXIT_CHECK_FAILED)


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
    wide: bool = render.WIDE,
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
    columns = [
        render.Column("id", key=True),
        render.Column("at (UTC)", key=True),
        render.Column("actor"),
        render.Column("action", key=True),
        render.Column("entity"),
        render.Column("after"),
        render.Column("before"),
    ]
    render.listing(
        "audit trail (newest first)",
        columns,
        [
            [
                r["id"],
                r["at"][:19].replace("T", " "),
                r["actor"],
                r["action"],
                f"{r['entity']} {r['entity_id']}",
                orjson.dumps(r["after"]).decode()[:120],
                orjson.dumps(r["before"]).decode()[:120],
            ]
            for r in rows
        ],
        wide=wide,
    )
