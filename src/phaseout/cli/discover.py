"""``phaseout emulate`` (devices on loopback) and ``phaseout scan`` (probe them, or your network)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import sys
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from phaseout.app import Phaseout
from phaseout.app.scans import run_probes
from phaseout.cli.common import console, err_console, open_store
from phaseout.discover.digest import Credentials, credentials_from_env
from phaseout.discover.multicast import discover
from phaseout.discover.scanner import MAX_DEFAULT_LOGINS, PORTS, HostResult, ScanSettings
from phaseout.discover.scope import MAX_HOSTS, in_scope, parse_scope
from phaseout.emulate.devices import Emulator, load_profiles, plan_devices
from phaseout.errors import UsageError
from phaseout.identify import Identifier


def emulate(
    profiles: str = typer.Option(
        "hikvision-ipc,dahua-ipc,lorex-nvr,axis-ipc", "--profiles", help="Comma-separated profiles (see --list)."
    ),
    count: int = typer.Option(4, "--count", min=1, max=65536, help="How many devices."),
    base: str = typer.Option("127.20.0.1", "--base", help="First loopback address; each device takes the next."),
    seed: int = typer.Option(
        1,
        "--seed",
        help="Seed of the serials and MACs: two runs with different seeds are different devices.",
    ),
    list_: bool = typer.Option(False, "--list", help="List the profiles and exit."),
) -> None:
    """Run emulated devices on loopback addresses and their real ports until Ctrl-C, for trying
    `phaseout scan` safely.

    Example:

        phaseout emulate --profiles hikvision-ipc,dahua-ipc --count 10 --base 127.20.0.1
    """
    if list_:
        for name, p in sorted(load_profiles().items()):
            console.print(f"{escape(name):18} {escape(p.maker):10} {escape(p.model)}  ports {list(p.ports)}")
        return
    devices = plan_devices([p.strip() for p in profiles.split(",") if p.strip()], count, base, seed=seed)

    async def run() -> None:
        async with Emulator(devices):
            console.print(f"{len(devices)} emulated devices on {devices[0].ip} .. {devices[-1].ip}; Ctrl-C stops")
            await asyncio.Event().wait()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        err_console.print("emulated devices stopped")


class ScanFormat(StrEnum):
    table = "table"
    jsonl = "jsonl"


def scan_cmd(
    ctx: typer.Context,
    targets: list[str] = typer.Argument(
        None, help="Addresses, networks (127.20.0.0/24) or ranges (127.20.0.1-50); optional with --interface."
    ),
    scope: list[str] = typer.Option(
        None,
        "--scope",
        help="Networks you may scan (CIDR). Required; repeatable. Nothing outside them is ever contacted.",
    ),
    allow_public: bool = typer.Option(False, "--allow-public", help="Allow public addresses (your own, knowingly)."),
    allow_wide_scope: bool = typer.Option(
        False, "--allow-wide-scope", help="Accept a --scope wider than an IPv4 /8 or an IPv6 /48 (knowingly)."
    ),
    fmt: ScanFormat = typer.Option(ScanFormat.table, "--format", "-f", help="table, or jsonl (one line per host)."),
    concurrency: int = typer.Option(512, "--concurrency", min=1, max=4096, help="Hosts probed at once."),
    deadline: float = typer.Option(8.0, "--host-deadline", min=0.5, help="Seconds per host, at most."),
    ports: str = typer.Option(",".join(map(str, PORTS)), "--ports", help="TCP ports to try."),
    max_hosts: int = typer.Option(
        MAX_HOSTS, "--max-hosts", min=1, help="Refuse scans of more hosts than this (catches /8 for /24)."
    ),
    site: str | None = typer.Option(
        None, "--site", help="Site code the scanned network belongs to: hosts merge with that site's devices by IP."
    ),
    store_results: bool = typer.Option(
        True, "--store/--no-store", help="Store answers as observations and merge hosts into the device table."
    ),
    credentials_file: Path | None = typer.Option(
        None,
        "--credentials",
        help="TOML file with username = ... and password = ... for the devices' information endpoints "
        "(or set PHASEOUT_SCAN_USER and PHASEOUT_SCAN_PASSWORD). Only ever answers a digest challenge.",
    ),
    rate: float = typer.Option(0.0, "--rate", min=0.0, help="New hosts per second at most (0: no limit)."),
    retries: int = typer.Option(1, "--retries", min=0, max=5, help="Extra connection attempts after a timeout."),
    vantage: Vantage | None = typer.Option(
        None,
        "--from",
        help="The network this scan runs from: answers then say from where each device is reachable "
        "(a camera answering from core breaks the UK statement's 'not connected to core networks').",
    ),
    interface: str | None = typer.Option(
        None,
        "--interface",
        "-i",
        help="Also ask this interface's link who is there: WS-Discovery, SADP and DHDiscover multicast (TTL 1). "
        "Only answers from inside --scope are kept and probed.",
    ),
    listen: float = typer.Option(3.0, "--discover-time", min=0.5, max=60, help="Seconds to collect discovery answers."),
    default_logins: Path | None = typer.Option(
        None,
        "--check-default-logins",
        help="Opt in: a TOML list of makers' default logins ([[login]] username, password; at most 20) to try "
        "against each device's digest challenge. Only the user name that worked is recorded.",
    ),
    definition: str | None = typer.Option(
        None,
        "--definition",
        help="Run a saved scan (`phaseout scans add`): its targets, scope, ports, site and vantage "
        "(for cron and systemd timers; see docs/collectors.md).",
    ),
) -> None:
    """Probe hosts for cameras and recorders (HTTP and HTTPS with the certificate, ISAPI and Dahua
    CGI information endpoints, ONVIF, RTSP) and identify them. Unauthenticated: no login is
    tried unless --check-default-logins names the makers' default logins to try; every answer is
    capped in size and time and every host has a deadline. Ctrl-C stops the scan and keeps (and stores)
    the hosts already finished, then exits with 130.

    Answers are stored (unless --no-store) and each answering host is merged with the stored
    devices by MAC, serial, then IP (within --site when given), so `phaseout assess` judges its
    exposure from what it answered.

    Examples:

        phaseout scan 127.20.0.0/24 --scope 127.20.0.0/16 --format jsonl

        phaseout scan 10.12.0.0/24 --scope 10.12.0.0/16 --site S012
    """
    if definition:
        saved = _saved(ctx, definition, bool(targets or scope or site or vantage))
        targets, scope, site = saved["targets"], saved["scope"], saved["site_code"]
        vantage = Vantage(saved["vantage"]) if saved["vantage"] else None
        if ports == ",".join(map(str, PORTS)):
            ports = ",".join(map(str, saved["ports"]))
    if not targets and not interface:
        raise UsageError("nothing to scan", hint="give targets (127.20.0.0/24) or --interface NAME, with --scope")
    networks = parse_scope(scope or [], allow_wide_scope)  # refused before anything is sent
    hosts = in_scope(targets or [], scope or [], allow_public, max_hosts, allow_wide_scope) if targets else []
    discovered: dict[str, list[dict[str, Any]]] = {}
    if interface:
        found = asyncio.run(discover(interface, networks, listen=listen))
        for error in found.errors:
            err_console.print(f"[yellow]discovery[/]: {escape(error)}")
        if found.outside_scope:
            err_console.print(f"discovery: {found.outside_scope} answer(s) from outside the scope ignored")
        for ip, seen in found.found.items():
            if ipaddress.ip_address(ip).is_global and not allow_public:
                continue
            discovered[ip] = seen
        hosts = list(dict.fromkeys([*hosts, *discovered]))
        err_console.print(f"discovery on {escape(interface)}: {len(discovered)} device(s) answered from the scope")
    try:
        port_list = tuple(int(p) for p in ports.split(",") if p.strip())
    except ValueError:
        raise UsageError(f"--ports {ports!r} is not a list of numbers", hint="e.g. --ports 80,443,554") from None
    if not port_list or not all(0 < p < 65536 for p in port_list):
        raise UsageError(f"--ports {ports!r}: ports are 1-65535", hint="e.g. --ports 80,443,554")
    settings = ScanSettings(
        concurrency=concurrency,
        host_deadline=deadline,
        ports=port_list,
        rate=rate,
        retries=retries,
        credentials=_credentials(credentials_file),
        default_check=_default_logins(default_logins),
    )
    bar = Progress(
        TextColumn("scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )
    with open_store(ctx) if store_results else contextlib.nullcontext() as store:
        app = Phaseout(store) if store is not None else None
        with bar:
            task = bar.add_task("scan", total=len(hosts))
            outcome = run_probes(hosts, settings, lambda _r: bar.advance(task))
        if outcome.interrupted:
            err_console.print(
                f"[yellow]scan interrupted: keeping the {len(outcome.finished)} hosts already finished; "
                "it is stored as interrupted and proves nothing about hosts that did not answer[/]"
            )
        if app is not None:
            record = app.record_scan(
                outcome,
                targets=targets or [],
                planned=len(hosts),
                ports=port_list,
                site=site,
                vantage=vantage.value if vantage else None,
                discovered=discovered,
            )
            err_console.print(
                f"stored scan {record.scan_id}: {record.hosts} hosts answered, "
                f"{record.created} new devices, {record.updated} matched stored devices"
                + (f", {record.forgotten} no longer answer" if record.forgotten else "")
            )
        else:
            by_ip = {r.ip: r for r in outcome.results}
            for ip, seen in discovered.items():  # what the device said of itself on the link comes first
                host = by_ip.get(ip)
                if host is None:
                    host = HostResult(ip)
                    outcome.results.append(host)
                host.observations[:0] = seen
    results = outcome.results
    interrupted = outcome.interrupted
    results.sort(key=lambda r: tuple(int(x) for x in r.ip.split(".")) if "." in r.ip else (0,))
    identifier = app.identifier if app is not None else Identifier()
    rows = [r.as_dict(identifier) for r in results]
    if fmt is ScanFormat.jsonl:
        for row in rows:
            sys.stdout.buffer.write(orjson.dumps(row) + b"\n")
        sys.stdout.flush()
    else:
        _table(rows, len(hosts))
    if interrupted:
        raise typer.Exit(130)


def _saved(ctx: typer.Context, name: str, also_given: bool) -> dict[str, Any]:
    """A saved scan to run here; one assigned to a site collector is that collector's to run."""
    from phaseout.store.collectors import definition

    if also_given:
        raise UsageError(
            "--definition brings its own targets, --scope, --site and --from", hint="give one or the other"
        )
    with open_store(ctx) as store:
        saved = definition(store.engine, name)
    if saved is None:
        raise UsageError(f"no saved scan named {name!r}", hint="phaseout scans list")
    if saved["collector"]:
        raise UsageError(
            f"saved scan {name!r} belongs to collector {saved['collector']}: it scans from that site",
            hint=f"phaseout scans run {name} queues a job for it",
        )
    return saved


class Vantage(StrEnum):
    core = "core"
    camera = "camera"
    guest = "guest"
    internet = "internet"


def _secret_toml(path: Path, what: str, hint: str) -> dict[str, Any]:
    """A TOML file holding passwords: an error names the file and the failure, never its content."""
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read {what} from {path} ({exc.__class__.__name__})", hint=hint) from None


def _default_logins(path: Path | None) -> tuple[Credentials, ...]:
    """The user's check list of default logins; a bad file names itself, never its content."""
    if path is None:
        return ()
    data = _secret_toml(path, "default logins", 'write [[login]] tables with username = "..." and password = "..."')
    logins = data.get("login")
    if not isinstance(logins, list) or not logins:
        raise UsageError(f"{path} has no [[login]] entries", hint='[[login]]\nusername = "admin"\npassword = "..."')
    if len(logins) > MAX_DEFAULT_LOGINS:
        raise UsageError(f"{path} lists {len(logins)} logins; the check tries at most {MAX_DEFAULT_LOGINS}")
    out = []
    for i, entry in enumerate(logins, start=1):
        user = entry.get("username") if isinstance(entry, dict) else None
        password = entry.get("password") if isinstance(entry, dict) else None
        if not (isinstance(user, str) and isinstance(password, str) and user):
            raise UsageError(f"{path}: login {i} needs username and password")
        out.append(Credentials(user, password))
    err_console.print(f"[yellow]checking {len(out)} default login(s) on every device that asks for one[/]")
    return tuple(out)


def _credentials(path: Path | None) -> Credentials | None:
    """From the file given, else the environment; a bad file is a usage error that names it
    (and never echoes its content)."""
    if path is None:
        return credentials_from_env()
    data = _secret_toml(path, "credentials", 'write two lines: username = "..." and password = "..."')
    user, password = data.get("username"), data.get("password")
    if not (isinstance(user, str) and isinstance(password, str) and user and password):
        raise UsageError(f"{path} needs username and password", hint='username = "..." and password = "..."')
    return Credentials(user, password)


def _table(rows: list[dict[str, Any]], total: int) -> None:
    table = Table(title=f"{len(rows)} of {total} hosts answered", title_justify="left")
    for col in ("ip", "ports", "vendor", "brand", "model", "confidence", "errors"):
        table.add_column(col, overflow="fold")
    for row in rows:
        cells = [
            escape("" if row.get(c) is None else str(row.get(c)))
            for c in ("ip", "ports", "vendor", "brand", "model", "confidence")
        ]
        table.add_row(*cells, escape("; ".join(str(e) for e in row.get("errors") or [])[:120]))
    console.print(table)
