"""``phaseout report``: the board report, the compliance statement, site sheets and the public
summary, as PDF, XLSX or HTML."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path

import typer
from rich.markup import escape

from phaseout.app import Phaseout
from phaseout.cli.common import console, open_store
from phaseout.errors import UsageError
from phaseout.report.board import board_report
from phaseout.report.data import compliance_report, site_report
from phaseout.report.public import public_report
from phaseout.report.render import write
from phaseout.store.settings import check_setting


class Kind(StrEnum):
    board = "board"
    compliance = "compliance"
    site = "site"
    public = "public"


class Fmt(StrEnum):
    pdf = "pdf"
    xlsx = "xlsx"
    html = "html"


def report(
    ctx: typer.Context,
    kind: Kind = typer.Argument(..., help="board, compliance, site or public"),
    fmt: Fmt = typer.Option(Fmt.pdf, "--format", "-f", help="pdf, xlsx (one sheet per table) or html"),
    output: Path | None = typer.Option(None, "--output", "-o", help="File to write (default: KIND.FORMAT)."),
    site: str | None = typer.Option(None, "--site", help="Site code (site reports)."),
    today: str | None = typer.Option(None, "--today", help="Report as of this date (YYYY-MM-DD)."),
    currency: str | None = typer.Option(
        None,
        "--currency",
        help="Currency of money figures for this report (default: `phaseout settings set currency`).",
    ),
) -> None:
    """Board, compliance, site and public reports as PDF, XLSX or HTML.

    board: covered devices remaining by sensitivity, burn-down and spend against the plan, risk
    remaining, deadlines at risk, exceptions. compliance: per policy pack in use, devices in
    scope, replaced (with the verification), waived, remaining. site: one site's sheet for
    installers. public: totals fit for answering a campaign group's letter.

    Examples:

        phaseout report board -f pdf -o board.pdf

        phaseout report site --site S012 -f html
    """
    try:
        day = dt.date.fromisoformat(today) if today else dt.date.today()
    except ValueError:
        raise UsageError(f"--today {today!r} is not a date", hint="write it as YYYY-MM-DD") from None
    target = output or Path(f"{kind.value}{'-' + site if site else ''}.{fmt.value}")
    with open_store(ctx) as store:
        packs = Phaseout(store).packs_in_use()
        with store.engine.connect() as conn:
            if kind is Kind.board:
                data = board_report(
                    conn, packs, day, currency=check_setting("currency", currency) if currency else None
                )
            elif kind is Kind.compliance:
                data = compliance_report(conn, packs, day)
            elif kind is Kind.public:
                data = public_report(conn, packs, day)
            else:
                if not site:
                    raise UsageError("a site report needs --site CODE")
                data = site_report(conn, site, day)
    write(data, fmt.value, target)
    console.print(f"wrote {escape(str(target))} ({data.title})")
