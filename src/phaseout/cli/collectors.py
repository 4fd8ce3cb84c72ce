"""``phaseout scans ...`` (saved scan definitions and their jobs) and ``phaseout collector ...``
(site collectors: enrolment codes, enrol, run, list, revoke).  Thin: parse, call
``app.collectors`` or the collector agent, render."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from phaseout.app import Phaseout
from phaseout.app import collectors as use
from phaseout.cli.common import console, err_console, open_store
from phaseout.discover.scanner import PORTS, ScanSettings
from phaseout.errors import UsageError
from phaseout.store import collectors as db

scans_app = typer.Typer(help="Saved scans (run by name, on a schedule, or by a site collector) and their jobs.")
collector_app = typer.Typer(help="Site collectors: scan a site's networks locally and push results to the server.")

DEFAULT_STATE = Path("/var/lib/phaseout-collector")


def _ports(text: str) -> list[int]:
    try:
        ports = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise UsageError(f"--ports {text!r} is not a list of numbers", hint="e.g. --ports 80,443,554") from None
    return ports


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if hasattr(value, "strftime") else ""


# --- phaseout scans ------------------------------------------------------------------------------


@scans_app.command("add")
def scans_add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A unique name, e.g. s012-cameras."),
    targets: list[str] = typer.Option(..., "--target", "-t", help="Address, network or range; repeatable."),
    scope: list[str] = typer.Option(..., "--scope", help="Networks the scan may touch (CIDR); repeatable."),
    ports: str = typer.Option(",".join(map(str, PORTS)), "--ports", help="TCP ports to try."),
    site: str | None = typer.Option(None, "--site", help="Site code the hosts belong to."),
    vantage: str | None = typer.Option(None, "--from", help="core, camera, guest or internet."),
    schedule: str | None = typer.Option(
        None, "--schedule", help='"every 6h", "@daily" or cron "0 2 * * *" (UTC); none: on demand only.'
    ),
    collector: str | None = typer.Option(
        None, "--collector", help="Run by this site collector (must lie inside its scopes); default: the server."
    ),
) -> None:
    """Save a scan definition.

    Example:

        phaseout scans add s012 --target 10.12.0.0/24 --scope 10.12.0.0/16 --site S012 --schedule @daily
    """
    with open_store(ctx) as store:
        definition = use.Definition(name, targets, scope, _ports(ports), vantage, site, schedule, collector)
        use.define(Phaseout(store), definition)
    console.print(f"saved scan {escape(name)}" + (f" for collector {escape(collector)}" if collector else ""))


@scans_app.command("list")
def scans_list(ctx: typer.Context) -> None:
    """The saved scans."""
    with open_store(ctx) as store:
        rows = db.list_definitions(store.engine)
    table = Table(title=f"{len(rows)} saved scans", title_justify="left")
    for col in ("name", "targets", "ports", "site", "schedule", "collector", "last job (UTC)"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            escape(r["name"]),
            escape(" ".join(r["targets"])),
            ",".join(map(str, r["ports"])),
            escape(r["site_code"] or ""),
            escape(r["schedule"] or "on demand"),
            escape(r["collector"] or "server"),
            _when(r["last_run_at"]),
        )
    console.print(table)


@scans_app.command("show")
def scans_show(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """One saved scan as JSON."""
    with open_store(ctx) as store:
        row = db.definition(store.engine, name)
    if row is None:
        raise UsageError(f"no saved scan named {name!r}", hint="phaseout scans list")
    typer.echo(json.dumps(row, default=str, indent=2))


@scans_app.command("remove")
def scans_remove(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Remove a saved scan (its open jobs are failed; stored scans stay)."""
    with open_store(ctx) as store:
        if not db.remove_definition(store.engine, name, Phaseout(store).actor):
            raise UsageError(f"no saved scan named {name!r}", hint="phaseout scans list")
    console.print(f"removed saved scan {escape(name)}")


@scans_app.command("run")
def scans_run(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Make a job from a saved scan now.  A server-side scan runs here at once (as
    `phaseout scan --definition NAME`); a collector's job waits for that collector."""
    with open_store(ctx) as store:
        app = Phaseout(store)
        row = db.definition(store.engine, name)
        if row is None:
            raise UsageError(f"no saved scan named {name!r}", hint="phaseout scans list")
        job = db.enqueue_named(store.engine, name, "manual", app.actor)
        if job is None:
            console.print(f"{escape(name)} already has an open job")
            return
        if row["collector"]:
            console.print(f"job {job} queued for collector {escape(row['collector'])}")
            return
        _run_local(app)


def _run_local(app: Phaseout, settings: ScanSettings | None = None) -> int:
    """Claim and run every open server-side job; returns how many ran."""
    ran = 0
    while (job := db.claim(app.engine, None, f"server:{app.actor}")) is not None:
        try:
            record = use.run_local_job(app, job, settings or ScanSettings())
        except UsageError as exc:
            err_console.print(f"[red]job {job['id']} refused[/]: {escape(exc.message)}")
            continue
        ran += 1
        console.print(
            f"job {job['id']} ({escape(job['spec']['name'])}): stored scan {record.scan_id}, "
            f"{record.hosts} hosts answered, {record.created} new devices"
        )
    return ran


@scans_app.command("tick")
def scans_tick(ctx: typer.Context) -> None:
    """What a timer runs: make jobs for every saved scan whose schedule is due, then run the
    server's own open jobs here (collectors' jobs wait for their collectors).

    Example (cron, every 5 minutes):

        */5 * * * * phaseout --db postgresql://phaseout@db/phaseout scans tick
    """
    with open_store(ctx) as store:
        app = Phaseout(store)
        made = use.enqueue_due(app)
        err_console.print(f"{len(made)} job(s) made from due schedules")
        ran = _run_local(app)
        err_console.print(f"{ran} server-side job(s) ran")


@scans_app.command("jobs")
def scans_jobs(ctx: typer.Context, limit: int = typer.Option(50, "--limit", min=1, max=10_000)) -> None:
    """The newest jobs and what became of them."""
    with open_store(ctx) as store:
        rows = db.list_jobs(store.engine, limit)
    table = Table(title=f"{len(rows)} jobs", title_justify="left")
    for col in ("id", "scan", "collector", "status", "made (UTC)", "attempts", "stored scan", "error"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            str(r["id"]),
            escape(r["spec"].get("name", "")),
            escape(r["collector"] or "server"),
            r["status"],
            _when(r["created_at"]),
            str(r["attempts"]),
            str(r["scan_id"] or ""),
            escape(r["error"]),
        )
    console.print(table)


# --- phaseout collector --------------------------------------------------------------------------


@collector_app.command("code")
def collector_code(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The collector's name, e.g. store-0012."),
    sites: list[str] = typer.Option([], "--site", help="Site code it scans for; repeatable."),
    scopes: list[str] = typer.Option(..., "--scope", help="Network it may scan (CIDR); repeatable."),
    hours: float = typer.Option(24.0, "--hours", help="How long the code stays valid."),
) -> None:
    """Make a one-time enrolment code for a site collector (shown once, stored hashed).

    Example:

        phaseout collector code store-0012 --site S012 --scope 10.12.0.0/24
    """
    with open_store(ctx) as store:
        code = use.new_code(Phaseout(store), name, sites, scopes, hours)
    err_console.print(f"enrolment code for collector {escape(name)} (valid {hours:g} h, shown once):")
    typer.echo(code)


@collector_app.command("enrol")
def collector_enrol(
    server: str = typer.Option(..., "--server", help="The central server, e.g. https://phaseout.example.org"),
    code: str = typer.Option(..., "--code", help="The one-time code an admin made.", envvar="PHASEOUT_ENROL_CODE"),
    state_dir: Path = typer.Option(DEFAULT_STATE, "--state-dir", help="Where the credential and queue live."),
    ca_file: Path | None = typer.Option(None, "--ca-file", help="CA certificate(s) that sign the server's TLS."),
    allow_http: bool = typer.Option(False, "--allow-http", help="Accept plain HTTP to a non-loopback server."),
) -> None:
    """Enrol this machine as a collector: swap the code for its own credential (kept in the
    state dir, mode 0600)."""
    from phaseout.discover.collector.agent import enrol

    state = enrol(server, code, state_dir, ca_file=str(ca_file) if ca_file else None, allow_http=allow_http)
    console.print(
        f"enrolled as collector {escape(state.name)}: sites {', '.join(state.sites) or '-'}, "
        f"scopes {', '.join(state.scopes)}"
    )


@collector_app.command("run")
def collector_run(
    state_dir: Path = typer.Option(DEFAULT_STATE, "--state-dir", help="As given to enrol."),
    once: bool = typer.Option(False, "--once", help="Stop when no job is left and the queue is empty."),
    poll: float = typer.Option(30.0, "--poll", min=1.0, help="Seconds between asking for jobs when idle."),
    concurrency: int = typer.Option(512, "--concurrency", min=1, max=4096, help="Hosts probed at once."),
    deadline: float = typer.Option(8.0, "--host-deadline", min=0.5, help="Seconds per host, at most."),
    rate: float = typer.Option(0.0, "--rate", min=0.0, help="New hosts per second at most (0: no limit)."),
    read_timeout: float = typer.Option(
        2.0, "--read-timeout", min=0.2, max=60.0, help="Seconds to wait for each answer (raise it for slow site links)."
    ),
) -> None:
    """Pull jobs from the server, scan locally (only inside the enrolled scopes), queue results
    on disk and push them.  Runs until SIGTERM/Ctrl-C (as a systemd service), or with --once
    until there is nothing left to do.  `phaseout-collector run` is the same loop without the
    rest of the command line loaded (less memory on a small site machine)."""
    from phaseout.discover.collector.agent import serve, summary

    settings = ScanSettings(concurrency=concurrency, host_deadline=deadline, rate=rate, read_timeout=read_timeout)
    report, queued = serve(state_dir, settings, once=once, poll=poll)
    err_console.print(escape(summary(report, queued)))
    for error in report.errors[-5:]:
        err_console.print(f"[yellow]{escape(error)}[/]")


@collector_app.command("status")
def collector_status(state_dir: Path = typer.Option(DEFAULT_STATE, "--state-dir")) -> None:
    """This machine's enrolment and queue (no secret printed)."""
    from phaseout.discover.collector.agent import Queue, load_state

    state = load_state(state_dir)
    queue = Queue(state_dir)
    typer.echo(
        json.dumps(
            {
                "name": state.name,
                "server": state.server,
                "sites": state.sites,
                "scopes": state.scopes,
                "queued": len(queue),
                "refused": len(list(queue.refused.glob("*.json"))),
            },
            indent=2,
        )
    )


@collector_app.command("list")
def collector_list(ctx: typer.Context) -> None:
    """Every collector with its last contact, version and queue."""
    with open_store(ctx) as store:
        rows = db.list_collectors(store.engine)
    table = Table(title=f"{len(rows)} collectors", title_justify="left")
    for col in ("name", "sites", "scopes", "state", "last contact (UTC)", "version", "queue", "open jobs"):
        table.add_column(col, overflow="fold")
    for r in rows:
        state = "revoked" if r["revoked"] else ("enrolled" if r["enrolled"] else "waiting for enrolment")
        table.add_row(
            escape(r["name"]),
            escape(", ".join(r["sites"])),
            escape(", ".join(r["scopes"])),
            state,
            _when(r["last_contact"]) or "never",
            escape(r["version"]),
            str(r["queue_length"]),
            str(r["jobs_open"]),
        )
    console.print(table)


@collector_app.command("revoke")
def collector_revoke(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Refuse this collector from now on (its open jobs fail; what it uploaded stays)."""
    with open_store(ctx) as store:
        if not db.revoke(store.engine, name, Phaseout(store).actor):
            raise UsageError(f"no collector {name!r}", hint="phaseout collector list")
    console.print(f"collector {escape(name)} revoked")
