"""``phaseout policy``: which laws and decisions cover which devices."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from phaseout.app import Phaseout
from phaseout.cli import render
from phaseout.cli.common import console, open_store
from phaseout.errors import UsageError
from phaseout.policy.packs import available_packs, read_pack, user_packs_dir
from phaseout.store.policies import packs_in_use

policy_app = typer.Typer(
    help="Policy packs: US NDAA s.889, the FCC Covered List, the UK Cabinet Office statement, "
    "your organisation's own. Choose which apply with `policy use`.",
    no_args_is_help=True,
)


@policy_app.command("list")
def policy_list(ctx: typer.Context, fmt: render.ListFormat = render.LIST_FORMAT, wide: bool = render.WIDE) -> None:
    """List the packs phaseout knows, and which ones this database applies."""
    packs = available_packs()
    store = open_store(ctx)
    try:
        with store.engine.connect() as conn:
            in_use = set(packs_in_use(conn))
    finally:
        store.close()
    columns = [
        render.Column("id", key=True),
        render.Column("in use"),
        render.Column("jurisdiction"),
        render.Column("binding"),
        render.Column("name"),
        render.Column("makers"),
        render.Column("rules", right=True),
        render.Column("version"),
    ]
    render.listing(
        "policy packs",
        columns,
        [
            [
                pack.id,
                "yes" if pack.id in in_use else "",
                pack.jurisdiction,
                pack.binding,
                pack.name,
                ", ".join(pack.makers),
                len(pack.rules),
                pack.version,
            ]
            for pack in packs.values()
        ],
        fmt=fmt,
        wide=wide,
    )
    if not in_use and fmt is render.ListFormat.table:
        console.print("[dim]no pack in use yet: phaseout policy use us-ndaa-889 uk-cabinet-office-2022 ...[/]")


@policy_app.command("show")
def policy_show(pack_id: str = typer.Argument(..., help="A pack id from `phaseout policy list`.")) -> None:
    """Show a pack's rules: reference, action, scope, dates, severity and sources."""
    packs = available_packs()
    if pack_id not in packs:
        raise UsageError(f"no policy pack {pack_id!r}", hint=f"packs: {', '.join(packs)}")
    pack = packs[pack_id]
    console.print(
        f"[bold]{escape(pack.name)}[/] ({escape(pack.id)}, version {escape(pack.version)}; "
        f"{escape(pack.jurisdiction)}, {escape(pack.binding)})"
    )
    console.print(f"makers covered (any label): {escape(', '.join(pack.makers))}")
    table = Table(show_lines=True)
    for col in ("ref", "requires", "action", "scope", "effective", "deadline", "severity", "source"):
        table.add_column(col, overflow="fold")
    for r in pack.rules:
        scope = (
            "; ".join(
                x
                for x in (
                    f"sites: {', '.join(r.sensitivity)}" if r.sensitivity else "",
                    f"types: {', '.join(r.device_types)}" if r.device_types else "",
                    f"zones: {', '.join(r.zones)}" if r.zones else "",
                    f"makers: {', '.join(r.makers)}" if r.makers else "",
                )
                if x
            )
            or "all"
        )
        table.add_row(
            escape(r.ref),
            escape(r.summary),
            r.action,
            escape(scope),
            r.effective.isoformat(),
            escape(str(r.deadline or "")),
            r.severity,
            escape(r.source),
        )
    console.print(table)
    for source in pack.sources:
        console.print(f"source: {escape(source)}")


@policy_app.command("check")
def policy_check(file: Path = typer.Argument(..., help="A pack file (TOML).")) -> None:
    """Check a pack file: fields, makers, dates, actions. Each problem names its line."""
    pack = read_pack(file)
    console.print(f"[green]✓[/] {escape(pack.id)}: {len(pack.rules)} rules, makers {escape(', '.join(pack.makers))}")


@policy_app.command("add")
def policy_add(file: Path = typer.Argument(..., help="Your organisation's pack (TOML); checked first.")) -> None:
    """Install your own pack (checked first) so `policy use` can choose it."""
    pack = read_pack(file)
    target = user_packs_dir() / f"{pack.id}.toml"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(file, target)
    console.print(f"pack {escape(pack.id)} installed in {escape(str(target))}")


@policy_app.command("use")
def policy_use(
    ctx: typer.Context,
    pack_ids: list[str] = typer.Argument(None, help="Pack ids to apply (replaces the current choice)."),
) -> None:
    """Choose the packs this organisation applies; without ids, show the current choice and
    how many devices each rule concerns."""
    packs = available_packs()
    store = open_store(ctx)
    try:
        if pack_ids:
            unknown = [p for p in pack_ids if p not in packs]
            if unknown:
                raise UsageError(f"no policy pack {', '.join(unknown)}", hint=f"packs: {', '.join(packs)}")
            if Phaseout(store).use_packs(list(pack_ids)):  # stored findings follow the packs in use
                console.print("[dim]stored assessment recomputed for the new packs[/]")
        app = Phaseout(store)
        in_use = app.packs_in_use()
        chosen = [p.id for p in in_use]
        counts = app.policy_summary(dt.date.today())
    finally:
        store.close()
    console.print(f"packs in use: {escape(', '.join(chosen)) or '(none)'}")
    if chosen:
        table = Table(title="devices concerned (identified maker, any label)", title_justify="left")
        for col in ("rule", "status", "sensitive sites", "standard sites"):
            table.add_column(col, justify="right" if "sites" in col else "left")
        refs = sorted({(ref, status) for ref, status, _ in counts})
        for ref, status in refs:
            table.add_row(
                escape(ref), status, f"{counts[(ref, status, 'sensitive')]:,}", f"{counts[(ref, status, 'standard')]:,}"
            )
        console.print(table)
