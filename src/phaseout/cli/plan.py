"""``phaseout plan``: what to replace with what, when, at what cost, and in what order per site."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select

from phaseout.app import Phaseout
from phaseout.app.planning import stored_plans
from phaseout.cli import render
from phaseout.cli.common import console, err_console, open_store
from phaseout.errors import EXIT_NO_SOLUTION, UsageError
from phaseout.export.safe import SafeCsvWriter, SafeDictWriter
from phaseout.knowledge import load_knowledge
from phaseout.plan.budget import budget_to_finish
from phaseout.plan.catalogue import Catalogue, read_catalogue, sample_catalogue_path
from phaseout.plan.estate import EstatePlan, PlanSettings
from phaseout.plan.problem import Problem, read_problem, write_json
from phaseout.plan.runbook import site_runbook
from phaseout.plan.solve import PlanResult, solve
from phaseout.report.facts import status_label

plan_app = typer.Typer(
    help="Plan the replacement: like-for-like compliant models from your catalogue, and the schedule "
    "(HiGHS) that removes the most risk soonest within budgets, installer crews, deadlines and "
    "maintenance windows, never leaving a site without cameras.\n\n"
    "`phaseout plan` on the stored estate (after `phaseout assess`); `export-problem`, `solve`, "
    "`budget` and `compare` work on problem.json files too.",
    invoke_without_command=True,
    no_args_is_help=False,
    rich_markup_mode="markdown",
)

CATALOGUE = typer.Option(
    None,
    "--catalogue",
    "-c",
    help="Approved catalogue (CSV or XLSX; columns in docs/planning.md). Default: the illustrative sample.",
)
START = typer.Option(None, "--start", help="First day of the first period (default: the next calendar quarter).")
PERIODS = typer.Option(12, "--periods", min=1, max=120, help="How many periods to plan.")
MONTHS = typer.Option(3, "--period-months", min=1, max=24, help="Length of a period in months (3 = quarters).")
BUDGET = typer.Option(
    "750000", "--budget", help="Budget per period: one number for all, or one per period separated by commas."
)
CREW = typer.Option(480.0, "--crew-hours", min=0, help="Installer hours per region and period.")
CREW_BY = typer.Option(
    None, "--crew", help="Crew hours for one region, REGION=HOURS (repeat for more); others get --crew-hours."
)
LABOUR = typer.Option(55.0, "--labour-rate", min=0, help="Cost of an installer hour.")
MOBILISE = typer.Option(
    350.0,
    "--mobilisation-cost",
    min=0,
    help="Cost of each site visit; saved when done at the site's maintenance visit.",
)
VISIT = typer.Option(40.0, "--max-visit-hours", min=1, help="A site with more work than this is split into visits.")
SHARE = typer.Option(
    0.25, "--max-offline-share", min=0.01, max=1.0, help="Share of a site's cameras that may be offline at once."
)
CARRY = typer.Option(False, "--carry-over", help="Unspent budget carries over to later periods.")
TIME_LIMIT = typer.Option(60.0, "--time-limit", min=1, help="Seconds the solver may take.")
TODAY = typer.Option(None, "--today", help="Judge deadlines as of this date (YYYY-MM-DD).")


def _next_quarter(today: dt.date) -> dt.date:
    month = ((today.month - 1) // 3 + 1) * 3 + 1
    return dt.date(today.year + (month > 12), (month - 1) % 12 + 1, 1)


def _date(text: str | None, option: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a date", hint="write it as YYYY-MM-DD") from None


def _settings(
    start: str | None,
    periods: int,
    months: int,
    budget: str,
    crew: float,
    crew_by: list[str] | None,
    labour: float,
    mobilise: float,
    visit: float,
    share: float,
    carry: bool,
    today: dt.date,
) -> PlanSettings:
    try:
        budgets = tuple(float(b.replace("_", "")) for b in budget.split(",") if b.strip())
    except ValueError:
        raise UsageError(
            f"--budget {budget!r} is not a number or a list of numbers", hint="e.g. --budget 500000"
        ) from None
    if not budgets or any(b < 0 for b in budgets):
        raise UsageError("--budget needs numbers of 0 or more")
    regions = []
    for item in crew_by or []:
        name, sep, hours = item.rpartition("=")
        try:
            regions.append((name.strip(), float(hours)))
        except ValueError:
            raise UsageError(f"--crew {item!r} is not REGION=HOURS", hint="e.g. --crew north=600") from None
        if not sep or not name.strip():
            raise UsageError(f"--crew {item!r} is not REGION=HOURS", hint="e.g. --crew north=600")
    return PlanSettings(
        start=_date(start, "--start") or _next_quarter(today),
        periods=periods,
        period_months=months,
        budget=budgets,
        crew_hours=crew,
        crew_by_region=tuple(regions),
        labour_rate=labour,
        mobilisation_cost=mobilise,
        max_visit_hours=visit,
        max_offline_share=share,
        carry_over=carry,
    )


def _estate_plan(
    ctx: typer.Context, catalogue_path: Path | None, settings: PlanSettings, today: dt.date
) -> tuple[EstatePlan, Catalogue]:
    store = open_store(ctx)
    try:
        estate, catalogue = Phaseout(store).plan_estate(settings, today, catalogue_path)
    finally:
        store.close()
    if catalogue_path is None:
        err_console.print("[yellow]using the illustrative sample catalogue[/]: give yours with --catalogue FILE")
    return estate, catalogue


def _print_catalogue(catalogue: Catalogue) -> None:
    for item, reason in catalogue.refused:
        err_console.print(f"[red]refused[/] catalogue line {item.line} {escape(item.sku)}: {escape(reason)}")
    for item, reason in catalogue.flagged:
        err_console.print(f"[yellow]flagged[/] catalogue line {item.line} {escape(item.sku)}: {escape(reason)}")


def _short(value: float) -> str:
    """1234567 -> 1.23M, 170549 -> 171k: tables stay narrow enough for a terminal."""
    for threshold, size, unit in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if abs(value) >= threshold:
            scaled = value / size
            return f"{scaled:,.3g}{unit}" if abs(scaled) < 999.5 else f"{scaled:,.0f}{unit}"
    return f"{value:,.0f}"


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def print_result(result: PlanResult, estate: EstatePlan | None = None) -> None:
    problem = result.problem
    status_style = {"optimal": "green", "feasible": "yellow"}.get(result.status, "red")
    label = result.label
    valid = result.status in ("optimal", "feasible")  # no risk figure for what is not a plan: 0 reads as best
    if not valid:
        console.print(
            f"[bold]plan[/]: [{status_style}]{escape(label)}[/] · {result.seconds:.1f} s · {escape(result.solver)}"
        )
    else:
        console.print(
            f"[bold]plan[/]: [{status_style}]{escape(label)}[/] · risk-exposure {_money(result.objective)} · "
            f"bound {_money(result.bound)} · gap {'-' if result.gap is None else f'{result.gap:.3%}'} · "
            f"{result.seconds:.1f} s · {escape(result.solver)}"
        )
    if valid and result.greedy_objective is not None and result.objective:
        better = (result.greedy_objective - result.objective) / result.greedy_objective
        console.print(
            f"spreadsheet rule (deadlines first, then risk per cost, earliest period that fits): risk-exposure "
            f"{_money(result.greedy_objective)}, cost {_money(result.greedy_cost)} — the plan is {better:.1%} lower"
        )
    for line in result.explanation:
        console.print(f"  [yellow]•[/] {escape(line)}")
    if result.status not in ("optimal", "feasible"):
        return
    devices_in = {p.id: len(p.devices) for p in problem.packages}
    risk_left = sum(p.risk for p in problem.packages)
    table = Table(title="per period", title_justify="left")
    for col in ("period", "spend / budget", "crew hours", "busiest region", "sites", "devices", "risk left"):
        table.add_column(col, justify="left" if col in ("period", "busiest region") else "right")
    uses = result.period_use()
    last_busy = max((t for t, u in enumerate(uses) if u.packages), default=-1)
    for t, use in enumerate(uses[: last_busy + 1]):
        done = [p for p in problem.packages if result.assignments.get(p.id) == t]
        risk_left -= sum(p.risk for p in done)
        hours = sum(use.hours_by_region.values())
        crew = sum(use.crew_by_region.values())
        busiest = max(
            use.crew_by_region, key=lambda r: use.hours_by_region[r] / max(use.crew_by_region[r], 1e-9), default=""
        )
        share = use.hours_by_region[busiest] / max(use.crew_by_region[busiest], 1e-9) if busiest else 0.0
        table.add_row(
            escape(use.id),
            f"{_short(use.spend)} / {_short(use.budget)}",
            f"{_short(hours)} / {_short(crew)}",
            f"{escape(busiest)} {share:.0%}" if busiest else "-",
            f"{len({p.site for p in done}):,}",
            f"{sum(devices_in[p.id] for p in done):,}",
            _short(max(risk_left, 0.0)),
        )
    if last_busy + 1 < len(uses):
        rest = uses[last_busy + 1 :]
        table.add_row(
            f"{escape(rest[0].id)}..{escape(rest[-1].id)}" if len(rest) > 1 else escape(rest[0].id),
            "nothing left to do" if not result.unscheduled else "-",
            "",
            "",
            "",
            "",
            _short(max(risk_left, 0.0)),
        )
    console.print(table)
    unscheduled = result.unscheduled
    if unscheduled:
        n_devices = sum(devices_in[p] for p in unscheduled)
        console.print(
            f"[yellow]{len(unscheduled):,} visit(s) ({n_devices:,} devices) do not fit in the horizon[/]: "
            "raise the budget or crews, or plan more periods (`phaseout plan budget --by PERIOD` says how much)"
        )
    if estate is not None:
        if estate.unmatched:
            reasons: dict[str, int] = {}
            for _device, reason in estate.unmatched:
                reasons[reason] = reasons.get(reason, 0) + 1
            console.print(f"[yellow]{len(estate.unmatched):,} covered device(s) have no replacement planned[/]:")
            for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:8]:
                console.print(f"  {n:,} x {escape(reason)}")
        for note in estate.notes:
            console.print(f"[dim]note[/]: {escape(note)}")


def _swap_tree(ctx: typer.Context, estate: EstatePlan) -> dict[str, Any]:
    """Where every swapped device sits in the recorder tree (the runbooks name the channels)."""
    from phaseout.queries.recorders import places

    ids = [s.device.id for v in estate.visits.values() for s in v.swaps]
    with open_store(ctx) as store, store.engine.connect() as conn:
        return places(conn, ids)


def _write_runbooks(folder: Path, estate: EstatePlan, result: PlanResult, tree: dict[str, Any] | None = None) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for site in sorted({v.site for v in estate.visits.values()}):
        steps = site_runbook(estate, site, result.assignments, tree)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in site)
        with (folder / f"{safe}.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = SafeDictWriter(fh, fieldnames=list(steps[0].as_dict()))
            writer.writeheader()
            for step in steps:
                writer.writerow(step.as_dict())
        written += 1
    for site, items in estate.bill_of_materials().items():
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in site)
        with (folder / f"{safe}.bom.csv").open("w", newline="", encoding="utf-8") as fh:
            bom = SafeCsvWriter(fh)
            bom.writerow(["sku", "maker", "description", "quantity", "unit_price", "total"])
            for sku, (item, n) in sorted(items.items()):
                bom.writerow([sku, item.maker, item.description, n, item.unit_price, round(n * item.unit_price, 2)])
    return written


def show_site_runbook(ctx: typer.Context, code: str) -> None:
    """Print the runbook of the newest stored plan for one site: reads only, never plans or stores."""
    from difflib import get_close_matches

    from phaseout.store.schema import sites

    with open_store(ctx) as store:
        with store.engine.connect() as conn:
            codes = [c for (c,) in conn.execute(select(sites.c.code))]
        if code not in codes:
            inside = [c for c in codes if code.lower() in c.lower() or c.lower() in code.lower()]
            close = list(dict.fromkeys(inside[:5] + get_close_matches(code, codes, n=5, cutoff=0.5)))[:5]
            raise UsageError(
                f"no site {code!r}",
                hint=f"did you mean {', '.join(close)}?" if close else "see the codes with `phaseout sites list`",
            )
        found = Phaseout(store).site_runbook(code)
    if found is None:
        raise UsageError("no plan is stored yet", hint="make one with `phaseout plan`")
    if not found.get("runbook"):
        console.print(f"plan {found['plan']} ({escape(found['name'])}) has no work at site {escape(code)}")
        return
    render.listing(
        f"runbook for site {code}, plan {found['plan']} ({found['name']}) — keeps the site covered",
        [
            render.Column("#", key=True, right=True),
            render.Column("visit", key=True),
            render.Column("period", key=True),
            render.Column("device", key=True, right=True),
            render.Column("ip", key=True),
            render.Column("new SKU", key=True),
            render.Column("action"),
            render.Column("where"),
            render.Column("old"),
        ],
        [
            [
                s["step"],
                s["visit"],
                s["period"] or "unscheduled",
                s["device"],
                s["ip"],
                s["sku"],
                s["action"],
                s.get("where") or "",
                s["old"],
            ]
            for s in found["runbook"]
        ],
    )


PLANNING_OPTIONS = (
    "catalogue",
    "start",
    "periods",
    "months",
    "budget",
    "crew",
    "crew_by",
    "labour",
    "mobilise",
    "visit",
    "share",
    "carry",
    "time_limit",
    "name",
    "output",
    "runbooks",
)


def _given(ctx: Any, names: tuple[str, ...]) -> list[str]:
    """The options among ``names`` the user typed (not left at their default)."""
    out = []
    for name in names:
        source = ctx.get_parameter_source(name)
        if source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP"):
            out.append(name)
    return out


@plan_app.callback()
def plan_estate(
    ctx: typer.Context,
    catalogue: Path | None = CATALOGUE,
    start: str | None = START,
    periods: int = PERIODS,
    months: int = MONTHS,
    budget: str = BUDGET,
    crew: float = CREW,
    crew_by: list[str] | None = CREW_BY,
    labour: float = LABOUR,
    mobilise: float = MOBILISE,
    visit: float = VISIT,
    share: float = SHARE,
    carry: bool = CARRY,
    time_limit: float = TIME_LIMIT,
    name: str = typer.Option("baseline", "--name", help="Scenario name the plan is stored under."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Also write plan.json here."),
    runbooks: Path | None = typer.Option(
        None, "--runbooks", help="Write each site's runbook and bill of materials (CSV) into this folder."
    ),
    site: str | None = typer.Option(
        None, "--site", help="Only show this site's runbook from the newest stored plan (plans nothing)."
    ),
    today: str | None = TODAY,
) -> None:
    """Plan the stored estate and store the plan (as scenario --name).

    Examples:

        phaseout plan --catalogue approved.csv --budget 600000 --crew-hours 400

        phaseout plan --name lean --budget 300000 --carry-over --runbooks runbooks/

        phaseout plan --site 0042   (shows the stored plan's runbook for site 0042)
    """
    if site is not None and ctx.invoked_subcommand is None:
        given = _given(ctx, PLANNING_OPTIONS)
        if given:
            raise UsageError(
                "--site only shows the stored plan's runbook; it does not plan",
                hint=f"drop {', '.join('--' + g.replace('_', '-') for g in given)}, or plan first without --site",
            )
        show_site_runbook(ctx, site)
        return
    day = _date(today, "--today") or dt.date.today()
    settings = _settings(start, periods, months, budget, crew, crew_by, labour, mobilise, visit, share, carry, day)
    if ctx.invoked_subcommand is not None:  # export-problem and budget plan the estate with these
        ctx.meta["plan_estate"] = (catalogue, settings, day)
        return
    estate, cat = _estate_plan(ctx, catalogue, settings, day)
    _print_catalogue(cat)
    with console.status("solving (HiGHS)..."):
        result = solve(estate.problem, time_limit=time_limit)
    print_result(result, estate)
    store = open_store(ctx)
    try:
        plan_id = Phaseout(store).save_plan(name, estate, result)
    finally:
        store.close()
    console.print(
        f"stored as plan {plan_id} (scenario {escape(name)}); `phaseout plan compare` shows scenarios side by side"
    )
    if output is not None:
        write_json(output, result.as_dict())
        console.print(f"wrote {escape(str(output))}")
    if runbooks is not None:
        n = _write_runbooks(runbooks, estate, result, _swap_tree(ctx, estate))
        console.print(f"wrote {n:,} runbooks and bills of materials to {escape(str(runbooks))}")
    if result.status in ("infeasible", "no-solution"):
        raise typer.Exit(EXIT_NO_SOLUTION)


def _estate_from_ctx(ctx: typer.Context) -> tuple[EstatePlan, Catalogue]:
    catalogue, settings, day = ctx.meta["plan_estate"]  # meta is shared with the parent context
    return _estate_plan(ctx, catalogue, settings, day)


def _stored_or_new_problem(ctx: typer.Context) -> Problem:
    """The newest stored plan's problem (its crews, periods, catalogue prices), unless planning
    options were given on the command line: then the estate is planned afresh with them."""
    from phaseout.plan.problem import problem_from_dict
    from phaseout.store.schema import plans

    parent = ctx.parent
    if parent is not None and not _given(parent, PLANNING_OPTIONS):
        with open_store(ctx) as store, store.engine.connect() as conn:
            row = conn.execute(
                select(plans.c.id, plans.c.name, plans.c.created_at, plans.c.problem).order_by(plans.c.id.desc())
            ).first()
        if row is not None:
            err_console.print(
                f"using plan {row.id} ({escape(row.name)}, stored {row.created_at:%Y-%m-%d}) and its settings; "
                "give planning options (e.g. --crew-hours) to plan afresh"
            )
            return problem_from_dict(orjson.loads(row.problem))
    return _estate_from_ctx(ctx)[0].problem


@plan_app.command("export-problem")
def export_problem(
    ctx: typer.Context,
    output: Path = typer.Option(..., "--output", "-o", help="Where to write problem.json."),
) -> None:
    """Write the stored estate's planning problem as problem.json (format in docs/planning.md),
    built with the options given to `phaseout plan` before the command name.

    Example: phaseout plan --budget 500000 export-problem --output problem.json
    """
    estate, cat = _estate_from_ctx(ctx)
    _print_catalogue(cat)
    write_json(output, estate.problem.as_dict())
    p = estate.problem
    console.print(
        f"wrote {escape(str(output))}: {len(p.periods)} periods, {len(p.regions)} regions, {len(p.sites):,} sites, "
        f"{len(p.packages):,} packages ({sum(len(x.devices) for x in p.packages):,} devices)"
    )


@plan_app.command("solve")
def solve_file(
    problem: Path = typer.Option(..., "--problem", "-p", help="problem.json to solve."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write plan.json."),
    time_limit: float = TIME_LIMIT,
) -> None:
    """Solve a problem.json and write plan.json (status, objective, bound, gap, seconds,
    assignments, unscheduled, periods).

    Example: phaseout plan solve --problem problem.json --output plan.json --time-limit 30
    """
    loaded = read_problem(problem)
    with console.status("solving (HiGHS)..."):
        result = solve(loaded, time_limit=time_limit)
    write_json(output, result.as_dict())
    print_result(result)
    console.print(f"wrote {escape(str(output))}")
    if result.status in ("infeasible", "no-solution"):
        raise typer.Exit(EXIT_NO_SOLUTION)


@plan_app.command("budget")
def budget_cmd(
    ctx: typer.Context,
    by: str = typer.Option(..., "--by", help="Period id by which everything must be done (e.g. 2027-Q4)."),
    problem: Path | None = typer.Option(None, "--problem", "-p", help="A problem.json instead of the stored estate."),
    time_limit: float = TIME_LIMIT,
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the answer and its plan as JSON."),
) -> None:
    """The smallest equal budget per period that finishes every device by period --by, within the
    crew hours and deadlines.

    Example: phaseout plan budget --by 2027-Q4
    """
    loaded: Problem = read_problem(problem) if problem is not None else _stored_or_new_problem(ctx)
    with console.status("solving (HiGHS)..."):
        answer = budget_to_finish(loaded, by, time_limit=time_limit)
    if answer.budget_per_period is None:
        console.print(f"[red]nothing finishes everything by {escape(by)}[/]:")
        for line in answer.explanation:
            console.print(f"  • {escape(line)}")
        raise typer.Exit(EXIT_NO_SOLUTION)
    periods = loaded.period_index[by] + 1
    console.print(
        f"[bold]{_money(answer.budget_per_period)}[/] per period for the {periods} period(s) up to {escape(by)} "
        f"({answer.status}; no budget below {_money(answer.lower_bound)} can work) — "
        f"{_money(answer.budget_per_period * periods)} in all"
        + (" with unspent money carried over" if loaded.carry_over else "")
    )
    if answer.plan is not None:
        print_result(answer.plan)
    if output is not None:
        write_json(output, answer.as_dict())


@plan_app.command("compare")
def compare(
    ctx: typer.Context,
    problems: list[Path] = typer.Argument(None, help="problem.json files; none = the stored scenarios."),
    time_limit: float = TIME_LIMIT,
) -> None:
    """Scenarios side by side: the stored plans (latest of each name), or problem.json files
    solved now.

    Examples: phaseout plan compare · phaseout plan compare lean.json generous.json
    """
    rows: list[tuple[str, dict[str, Any]]] = []
    if problems:
        for path in problems:
            with console.status(f"solving {path}..."):
                rows.append((path.name, solve(read_problem(path), time_limit=time_limit).as_dict()))
    else:
        store = open_store(ctx)
        try:
            with store.engine.connect() as conn:
                rows = stored_plans(conn)
        finally:
            store.close()
        if not rows:
            raise UsageError("no plan is stored yet", hint="run `phaseout plan --name NAME` for each scenario")
    table = Table(title="scenarios", title_justify="left")
    table.add_column("measure")
    for name, _ in rows:
        table.add_column(escape(name), justify="right")

    def finish(d: dict[str, Any]) -> str:
        used = [p["id"] for p in d["periods"] if p.get("packages")]
        return used[-1] if used and not d["unscheduled"] else ("not within horizon" if d["unscheduled"] else "-")

    measures: list[tuple[str, Any]] = [
        ("status", lambda d: d.get("label") or status_label(d["status"], d.get("gap"))),
        ("risk-exposure", lambda d: "-" if d["status"] in ("infeasible", "no-solution") else _money(d["objective"])),
        ("gap to bound", lambda d: "-" if d["gap"] is None else f"{d['gap']:.3%}"),
        ("total spend", lambda d: _money(sum(p["spend"] for p in d["periods"]))),
        ("budget", lambda d: _money(sum(p["budget"] for p in d["periods"]))),
        ("visits planned", lambda d: f"{len(d['assignments']):,}"),
        ("visits unscheduled", lambda d: f"{len(d['unscheduled']):,}"),
        ("last period with work", finish),
        ("spreadsheet rule risk-exposure", lambda d: _money((d.get("greedy") or {}).get("objective"))),
    ]
    for label, get in measures:
        table.add_row(label, *(escape(str(get(d))) for _, d in rows))
    console.print(table)


@plan_app.command("catalogue")
def catalogue_cmd(
    ctx: typer.Context,
    path: Path | None = typer.Argument(None, help="The catalogue (default: the illustrative sample)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json, csv or jsonl."),
    wide: bool = render.WIDE,
) -> None:
    """Check a catalogue against the knowledge and the packs in use: which items may be planned
    with, which are refused (a covered maker under any label) and which are flagged (a maker on
    other lists, or one the knowledge does not know)."""
    store = open_store(ctx)
    try:
        packs = Phaseout(store).packs_in_use()
    finally:
        store.close()
    cat = read_catalogue(path or sample_catalogue_path(), load_knowledge(), packs)
    flagged = {item.sku: reason for item, reason in cat.flagged}
    if fmt == "json":
        out = {
            "items": [{"sku": i.sku, "maker": i.maker, "flag": flagged.get(i.sku)} for i in cat.items],
            "refused": [{"sku": i.sku, "line": i.line, "reason": r} for i, r in cat.refused],
            "not_approved": [i.sku for i in cat.not_approved],
        }
        typer.echo(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
        return
    if fmt not in ("table", "csv", "jsonl"):
        raise UsageError(f"--format {fmt!r} is not one of table, json, csv, jsonl")
    verdicts = [(item, f"flagged: {flagged[item.sku]}" if item.sku in flagged else "ok") for item in cat.items]
    verdicts += [(item, f"refused: {reason}") for item, reason in cat.refused]
    render.listing(
        f"catalogue {cat.source} (packs in use: {len(packs)})",
        [
            render.Column("sku", key=True),
            render.Column("price", key=True, right=True),
            render.Column("verdict"),
            render.Column("maker"),
            render.Column("type"),
            render.Column("form"),
            render.Column("MP", right=True),
            render.Column("ch", right=True),
            render.Column("line", right=True),
        ],
        [
            [
                item.sku,
                f"{item.unit_price:,.2f}" if fmt == "table" else item.unit_price,
                verdict,
                item.maker,
                item.device_type,
                item.form_factor,
                item.megapixels or "",
                item.channels or "",
                item.line,
            ]
            for item, verdict in verdicts
        ],
        fmt=render.ListFormat(fmt),
        wide=wide,
    )
    if fmt != "table":
        return
    if cat.not_approved:
        console.print(f"not approved (ignored): {escape(', '.join(i.sku for i in cat.not_approved))}")
    if not packs:
        console.print("[yellow]no policy pack in use[/]: nothing is refused (phaseout policy use ...)")
