"""``phaseout assess``: policy breaches, known-exploited flaws, exposure, risk, mitigations."""

from __future__ import annotations

import datetime as dt
import sys
from collections import Counter, defaultdict
from enum import StrEnum

import orjson
import typer
from rich.markup import escape
from rich.table import Table

from phaseout.app import Phaseout
from phaseout.cli.common import compact_hint, console, open_store


class AssessFormat(StrEnum):
    table = "table"
    jsonl = "jsonl"


def assess(
    ctx: typer.Context,
    fmt: AssessFormat = typer.Option(
        AssessFormat.table,
        "--format",
        "-f",
        help="table (summary by site and severity) or jsonl (one line per device with findings and mitigations).",
    ),
    top: int = typer.Option(15, "--top", min=1, help="Sites shown in the table, riskiest first."),
    today: str | None = typer.Option(None, "--today", help="Judge deadlines as of this date (YYYY-MM-DD)."),
) -> None:
    """Assess every active device: which policy packs in use it breaks (`phaseout policy use`),
    which known vulnerabilities concern it (with firmware decisions), how exposed it is, its
    explainable risk score and what to do until it is replaced. Results are stored.

    Examples:

        phaseout policy use us-ndaa-889 uk-cabinet-office-2022 && phaseout assess

        phaseout assess --format jsonl > findings.jsonl
    """
    day = dt.date.fromisoformat(today) if today else dt.date.today()
    store = open_store(ctx)
    try:
        app = Phaseout(store)
        in_use = app.packs_in_use()
        chosen = [p.id for p in in_use]
        results = app.assess(day)
    finally:
        store.close()
    if fmt is AssessFormat.jsonl:
        out = sys.stdout.buffer
        for a in results:
            out.write(orjson.dumps(a.as_dict()) + b"\n")
        out.flush()
        return
    if not chosen:
        console.print(
            "[yellow]no policy pack in use[/]: findings cover vulnerabilities and exposure only "
            "(phaseout policy use ...)"
        )
    severity: Counter[tuple[str, str]] = Counter()
    by_site: dict[str, float] = defaultdict(float)
    devices_at: Counter[str] = Counter()
    for a in results:
        by_site[a.site] += a.risk
        if a.findings:
            devices_at[a.site] += 1
        for f in a.findings:
            if f["status"] not in ("applies", "fixed"):  # only what needs action now
                severity[(f["kind"], f["severity"])] += 1
    table = Table(
        title=f"findings ({len(results):,} devices assessed; packs: {escape(', '.join(chosen)) or 'none'})",
        title_justify="left",
    )
    for col in ("kind", "critical", "high", "medium", "low"):
        table.add_column(col, justify="left" if col == "kind" else "right")
    for kind in ("policy", "vulnerability", "exposure"):
        table.add_row(kind, *(f"{severity[(kind, s)]:,}" for s in ("critical", "high", "medium", "low")))
    console.print(table)
    sites_table = Table(title="riskiest sites", title_justify="left")
    for col in ("site", "risk", "devices with findings"):
        sites_table.add_column(col, justify="left" if col == "site" else "right")
    for code, risk in sorted(by_site.items(), key=lambda kv: -kv[1])[:top]:
        sites_table.add_row(escape(code or "(no site: found by scan)"), f"{risk:,.0f}", f"{devices_at[code]:,}")
    console.print(sites_table)
    # devices are rewritten only where their risk changed (a first assessment, new packs)
    what = f"{len(results):,} devices assessed (if many risks changed: a first assessment, new packs)"
    compact_hint(store, len(results), what)
