"""``phaseout demo``: a synthetic 300-store retailer through every stage that exists."""

from __future__ import annotations

import csv
import shlex
from collections import Counter
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from phaseout.app.imports import Progress
from phaseout.cli import render
from phaseout.cli.common import console, err_console
from phaseout.demo.run import run_demo
from phaseout.queries.devices import iter_devices
from phaseout.store import Store


def demo(
    ctx: typer.Context,
    sites: int = typer.Option(300, "--sites", min=1, max=30000, help="Number of stores (plus 6 DCs/offices)."),
    seed: int = typer.Option(2026, "--seed", help="Random seed: the same seed gives the same estate."),
    workdir: Path = typer.Option(
        Path("phaseout-demo"), "--workdir", help="Where the spreadsheets and the demo database are written."
    ),
    serve_after: bool = typer.Option(
        True, "--serve/--no-serve", help="End by serving the dashboard on http://127.0.0.1:PORT (Ctrl-C stops it)."
    ),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Dashboard port."),
) -> None:
    """Build a synthetic retail estate and run the whole pipeline on it: messy spreadsheets
    (title rows, odd headers, cp1252, semicolons, OEM labels, typos) imported and identified,
    assessed, planned, work orders and a board report, then the dashboard.

    The demo uses its own database (WORKDIR/phaseout-demo.db, recreated each run) unless
    --db or PHASEOUT_DB names one.

    Example:

        phaseout demo --sites 3000 --seed 7
    """
    db = ctx.obj.db if ctx.obj else None
    if serve_after:  # fail before the work, not after it
        from phaseout.cli.web import ensure_can_listen

        ensure_can_listen("127.0.0.1", port)
    bars: list[object] = []

    def progress(label: str) -> Progress:
        cm = render.progress_bar(f"importing {escape(label)}", total=0)
        bar = cm.__enter__()
        bars.append(cm)
        task = bar.tasks[0].id

        def tick(n: int, total: int) -> None:
            bar.update(task, advance=n, total=total)

        return tick

    err_console.print(f"building a {sites}-store estate (seed {seed}) in {escape(str(workdir))}/ ...")
    try:
        result = run_demo(workdir, stores=sites, seed=seed, db=db, progress=progress)
    finally:
        for cm in bars:
            cm.__exit__(None, None, None)  # type: ignore[attr-defined]
    files = Table(title="spreadsheets written and imported", title_justify="left")
    for col in ("file", "rows", "imported", "bad", "created", "updated", "status"):
        files.add_column(col, justify="left" if col in ("file", "status") else "right")
    for r in result.imports:
        files.add_row(
            escape(r.file_name),
            f"{r.rows_total:,}",
            f"{r.rows_imported:,}",
            f"{r.rows_bad:,}",
            f"{r.created:,}",
            f"{r.updated:,}",
            r.status,
        )
    console.print(files)
    with Store.open(result.db) as store:
        _overview(store, workdir / "truth.csv")
        lab = _lab(store)
        _assessment(store)
        by = _plan(store)
        _track(store, workdir)
        if lab:
            _watch(store, workdir)
        password = _admin(store)
    console.print(f"\nfiles: {escape(str(workdir))}/ (truth.csv holds the true maker of every row)")
    console.print(f"database: {escape(result.db_url)}")
    console.print("next (each command is one line; copy and paste it):")
    base = f"phaseout --db {shlex.quote(result.db_url)}"
    for command in (
        "devices --vendor dahua --brand lorex",
        "devices --brand hilook --format xlsx -o hilook.xlsx",
        "assess -f jsonl | head",
        "report board -o board.pdf",
        f"plan budget --by {by}",
        "plan --site 0001",
        "plan compare",
    ):
        console.print(Text(f"  {base} {command}"), soft_wrap=True)
    if serve_after:
        import uvicorn

        from phaseout.web.app import create_app

        console.print(
            f"\n[bold]dashboard[/]: http://127.0.0.1:{port}/ — log in as [bold]admin[/] with password "
            f"[bold]{escape(password)}[/] (generated for this demo, shown once). Ctrl-C stops it."
        )
        with Store.open(result.db) as store:
            uvicorn.run(create_app(store.engine), host="127.0.0.1", port=port, log_level="warning")
    else:
        console.print(
            Text(f"dashboard: {base} serve   (log in as admin, password {password}, shown once)"), soft_wrap=True
        )


def _overview(store: Store, truth_file: Path) -> None:
    """What the spreadsheets say against what identification found, checked against the
    demo's truth file (the true maker of every device)."""
    truth = {}
    with truth_file.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            truth[row["serial"]] = row["vendor"]
    said: Counter[str] = Counter()
    found: Counter[str] = Counter()
    right = total = 0
    for row in iter_devices(store.engine):
        written = (row["manufacturer"] or "").lower()
        said["hikvision" if "hik" in written else "dahua" if "dahua" in written else "other or blank"] += 1
        found[row["vendor"] or "unknown"] += 1
        true_vendor = truth.get(row["serial"] or "")
        if true_vendor:
            total += 1
            right += row["vendor"] == true_vendor
    table = Table(title="covered makers: what the spreadsheets say, and what phaseout found", title_justify="left")
    table.add_column("maker")
    table.add_column("make column says", justify="right")
    table.add_column("identified", justify="right")
    for maker in ("hikvision", "dahua"):
        table.add_row(maker, f"{said[maker]:,}", f"[bold]{found[maker]:,}[/]")
    others = sum(n for v, n in found.items() if v not in ("hikvision", "dahua", "unknown"))
    table.add_row("other makers", f"{said['other or blank']:,}", f"{others:,}")
    table.add_row("unknown", "", f"{found['unknown']:,}")
    console.print(table)
    console.print(
        f"identification checked against truth.csv: {right:,} of {total:,} devices right "
        f"({right / max(total, 1):.1%}). The difference with the make column is OEM labels (HiLook, EZVIZ, "
        "LTS, Annke, Lorex, Amcrest, Imou...), typos and blank makes, caught by brand, model number and "
        "MAC prefix."
    )


DEMO_PACKS = ("org-template", "uk-cabinet-office-2022")


def _assessment(store: Store) -> None:
    """The demo applies the organisation template and the UK statement, then assesses."""
    import datetime as dt

    from phaseout.app import Phaseout

    app = Phaseout(store)
    app.use_packs(list(DEMO_PACKS))
    results = app.assess(dt.date.today())
    status: Counter[str] = Counter()
    for a in results:
        for f in a.findings:
            if f["status"] in ("breach", "due", "affected", "unknown", "exposed"):
                status[f"{f['kind']} {f['status']}"] += 1
    table = Table(title=f"assessment with packs {', '.join(DEMO_PACKS)}", title_justify="left")
    table.add_column("finding")
    table.add_column("count", justify="right")
    for name, n in sorted(status.items()):
        table.add_row(name, f"{n:,}")
    console.print(table)
    worst = max(results, key=lambda a: a.risk, default=None)
    if worst is not None:
        console.print(
            f"riskiest device: #{worst.device_id} at site {escape(worst.site)} "
            f"({escape(str(worst.model))}, {worst.vendor}), risk {worst.risk:,.0f}"
        )


def _plan(store: Store) -> str:
    """Plan the replacement with the illustrative catalogue.  The demo's budget and crews are
    sized from the estate itself (its whole bill over about four quarters) so that the plan
    meets the organisation template's 2027-12-31 deadline; a real team gives its own."""
    import datetime as dt

    from phaseout.app import Phaseout
    from phaseout.cli.plan import print_result
    from phaseout.plan.estate import PlanSettings
    from phaseout.plan.solve import solve

    today = dt.date.today()
    start = dt.date(today.year + (today.month > 9), (((today.month - 1) // 3 + 1) * 3) % 12 + 1, 1)
    probe = PlanSettings(start=start)
    estate, _ = Phaseout(store, actor="demo").plan_estate(probe, today)
    problem = estate.problem
    cost = sum(p.cost for p in problem.packages)
    hours: dict[str, float] = {}
    first: dict[str, float] = {}  # work due by the end of the first period (sites already overdue)
    cost_first = 0.0
    for p in problem.packages:
        region = problem.site_by_id[p.site].region
        hours[region] = hours.get(region, 0.0) + p.hours
        if problem.deadline_index(p) == 0:
            first[region] = first.get(region, 0.0) + p.hours
            cost_first += p.cost
    # small estates: the overdue sensitive sites alone can outweigh a quarter of the whole work
    settings = PlanSettings(
        start=start,
        budget=(round(max(cost / 3.6, cost_first * 1.05), -3),),
        crew_by_region=tuple(
            (r, round(max(h / 3.2, first.get(r, 0.0) * 1.1, 45.0), -1)) for r, h in sorted(hours.items())
        ),
    )
    estate, _ = Phaseout(store, actor="demo").plan_estate(settings, today)
    console.print(
        f"\n[bold]replacement plan[/] (illustrative catalogue; budget {settings.budget[0]:,.0f} per quarter; "
        "each region's installers sized to its work)"
    )
    with console.status("planning (HiGHS)..."):
        result = solve(estate.problem, time_limit=30)
    print_result(result, estate)
    Phaseout(store, actor="demo").save_plan("demo", estate, result)
    busy = [u.id for u in result.period_use() if u.packages] if result.status in ("optimal", "feasible") else []
    # the budget question the demo suggests is one its own plan shows can be answered
    return busy[-1] if busy else estate.problem.periods[min(3, len(estate.problem.periods) - 1)].id


def _lab(store: Store) -> bool:
    """A scan of the lab store (emulated on loopback) finds a Hikvision camera: the plan will
    replace it, and the watch step brings it back (``demo.watch``)."""
    import datetime as dt

    from phaseout.demo.watch import LAB_SITE, OLD_IP, install_lab_camera

    found = install_lab_camera(store, dt.date.today())
    if found:
        console.print(f"scan of store {LAB_SITE} ({OLD_IP}, emulated on loopback): a Hikvision camera answered")
    return found


def _watch(store: Store, workdir: Path) -> None:
    """The lab camera is replaced, verified by re-scans, then plugged back in: the alert fires."""
    import datetime as dt

    from phaseout.demo.watch import camera_comes_back

    watch = camera_comes_back(store, workdir, dt.date.today())
    if not watch.ran:
        err_console.print(f"[yellow]watch[/]: {escape(watch.note)}")
        return
    console.print(
        f"\n[bold]watch[/]: work order {watch.work_order} (store LAB) verified by re-scans; then the old camera "
        "answered again and an alert fired:"
    )
    for alert in watch.fired:
        console.print(Text(f"  {alert['rule']}: {alert['summary']}"), soft_wrap=True)
    console.print(Text(f"  (alert demo-watch: {watch.alerts_file}; phaseout alert outbox lists it)"), soft_wrap=True)


def _admin(store: Store) -> str:
    """The demo's admin account, with a password generated for this run (the demo database is
    recreated each run, so the account is new each time)."""
    from phaseout.store.users import add_user, generate_password, list_users

    password = generate_password()
    if not any(u["name"] == "admin" for u in list_users(store.engine)):
        add_user(store.engine, "admin", "admin", password)
        return password
    return "(unchanged: the admin user already existed in this database)"


def _track(store: Store, workdir: Path) -> None:
    """Work orders from the demo plan, and the board report as a PDF."""
    import datetime as dt

    from phaseout.app import Phaseout
    from phaseout.errors import MissingLibraryError
    from phaseout.report.board import board_report
    from phaseout.report.render import write

    app = Phaseout(store, actor="demo")
    plan_id, made = app.generate_work()
    packs = app.packs_in_use()
    with store.engine.connect() as conn:
        report = board_report(conn, packs, dt.date.today())
    target = workdir / "board-report.pdf"
    try:
        write(report, "pdf", target)
    except MissingLibraryError as exc:
        target = workdir / "board-report.html"
        write(report, "html", target)
        err_console.print(f"[yellow]warning[/]: {escape(exc.message)}; wrote HTML instead. {escape(exc.hint or '')}")
    console.print(f"{made:,} work orders made from plan {plan_id}; board report: {escape(str(target))}")
