"""``phaseout alert``: tell someone when a covered device appears, a device becomes reachable from
the internet or the guest network, or a deadline passes with covered devices left."""

from __future__ import annotations

import datetime as dt
import os

import typer
from rich.markup import escape

from phaseout.alert.destinations import DestinationError, describe, parse_syslog_target
from phaseout.alert.rules import RULES
from phaseout.app import Phaseout
from phaseout.cli import render
from phaseout.cli.common import console, err_console, open_store
from phaseout.errors import EXIT_CHECK_FAILED, UsageError
from phaseout.store.alerts import list_alerts, list_outbox, outbox_counts, remove_alert, retry_failed
from phaseout.store.audit import cli_actor

alert_app = typer.Typer(
    help="Alerts: rules evaluated after every import and scan, sent to a webhook (signed JSON), e-mail "
    "(SMTP with STARTTLS), syslog (RFC 5424) or a file, through an outbox that retries until delivered.\n\n"
    "Typical set-up:\n\n"
    "    phaseout settings set alert-webhook-allow hooks.example.org\n\n"
    "    phaseout alert add soc --webhook https://hooks.example.org/phaseout\n\n"
    "    phaseout alert test soc\n\n"
    "    phaseout alert deliver          # from a timer, every minute (docs/alerts.md)",
    no_args_is_help=True,
)

_RULES_HELP = ", ".join(RULES)


def _rules(rule: list[str] | None, zones: str | None, makers: str | None) -> list[dict[str, object]]:
    chosen = list(dict.fromkeys(rule or list(RULES)))
    out: list[dict[str, object]] = []
    for r in chosen:
        entry: dict[str, object] = {"rule": r}
        if r == "device-exposed" and zones:
            entry["zones"] = [z for z in zones.replace(" ", "").split(",") if z]
        if r == "covered-device-appears" and makers:
            entry["makers"] = [m for m in makers.replace(" ", "").split(",") if m]
        out.append(entry)
    return out


def _rule_text(entry: dict[str, object]) -> str:
    params = "".join(f" {k}={','.join(map(str, v))}" for k, v in entry.items() if k != "rule" and isinstance(v, list))
    return f"{entry['rule']}{params}"


@alert_app.command("add")
def alert_add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A name for the alert, e.g. soc or security-team."),
    webhook: str | None = typer.Option(
        None, "--webhook", help="POST signed JSON to this https:// or http:// URL (host in alert-webhook-allow)."
    ),
    email: list[str] | None = typer.Option(None, "--email", help="Send e-mail to this address (repeat for more)."),
    smtp: str | None = typer.Option(None, "--smtp", help="SMTP relay HOST[:PORT] for --email (port 587 by default)."),
    sender: str | None = typer.Option(None, "--from", help="The From address of --email alerts."),
    smtp_user: str | None = typer.Option(None, "--smtp-user", help="SMTP login name, if the relay needs one."),
    smtp_password_env: str | None = typer.Option(
        None,
        "--smtp-password-env",
        help="Name of the environment variable holding the SMTP password (SMTP_... or PHASEOUT_SMTP_...; "
        "read at delivery, never stored).",
    ),
    smtp_plain: bool = typer.Option(
        False, "--smtp-plain", help="No STARTTLS: only to a relay on this host, once the admin allowed it."
    ),
    syslog: str | None = typer.Option(
        None, "--syslog", help="Send RFC 5424 messages to udp://HOST[:514] or tcp://HOST[:PORT] (octet-counted)."
    ),
    facility: str = typer.Option("local0", "--facility", help="Syslog facility (local0-local7, auth, daemon...)."),
    file: str | None = typer.Option(None, "--file", help="Append one JSON line per alert to this file."),
    ca: str | None = typer.Option(
        None, "--ca", help="PEM file of the CA to trust for the webhook's https or the relay's STARTTLS."
    ),
    secret_env: str | None = typer.Option(
        None,
        "--secret-env",
        help="Environment variable holding the webhook's shared secret (default: phaseout makes one, shown once).",
    ),
    rule: list[str] | None = typer.Option(None, "--rule", help=f"A rule to send (repeat; default all): {_RULES_HELP}."),
    zones: str | None = typer.Option(
        None, "--zones", help="device-exposed: zones to watch, comma-separated (default internet,guest; or core)."
    ),
    makers: str | None = typer.Option(
        None, "--makers", help="covered-device-appears: makers to watch (default: those the packs in use cover)."
    ),
) -> None:
    """Add an alert: one destination and the rules it receives.

    Examples:

        phaseout settings set alert-webhook-allow "hooks.example.org, 10.20.0.0/16"

        phaseout alert add soc --webhook https://hooks.example.org/phaseout

        phaseout alert add team --email sec@example.org --smtp mail.example.org --from phaseout@example.org

        phaseout alert add siem --syslog tcp://10.20.0.5:514 --rule device-exposed --zones internet

        phaseout alert add log --file /var/log/phaseout-alerts.jsonl
    """
    given = [k for k, v in (("--webhook", webhook), ("--email", email), ("--syslog", syslog), ("--file", file)) if v]
    if len(given) != 1:
        raise UsageError(
            "give exactly one destination: --webhook URL, --email ADDRESS, --syslog udp://HOST or --file PATH",
            hint="phaseout alert add --help shows an example of each",
        )
    secret = None
    config: dict[str, object]
    if webhook:
        kind, config = "webhook", {"url": webhook, "ca": ca}
        if secret_env:
            secret = os.environ.get(secret_env)
            if not secret:
                raise UsageError(f"the environment variable {secret_env} is not set")
    elif email:
        if not smtp or not sender:
            raise UsageError("an e-mail alert needs --smtp HOST[:PORT] and --from ADDRESS")
        host, _, port = smtp.rpartition(":") if ":" in smtp else (smtp, "", "")
        config = {
            "to": email,
            "sender": sender,
            "host": host,
            "port": port or 587,
            "user": smtp_user,
            "password_env": smtp_password_env,
            "plain": smtp_plain,
            "ca": ca,
        }
        kind = "email"
    elif syslog:
        try:
            config = parse_syslog_target(syslog) | {"facility": facility}
        except DestinationError as exc:
            raise UsageError(str(exc)) from None
        kind = "syslog"
    else:
        kind, config = "file", {"path": os.path.abspath(str(file))}
    with open_store(ctx) as store:
        _id, shown = Phaseout(store).add_alert(name, kind, config, _rules(rule, zones, makers), secret)
        with store.engine.connect() as conn:
            found = next(a for a in list_alerts(conn) if a["name"] == name)
    console.print(f"alert {escape(name)} added: {escape(describe(kind, found['config']))}")
    console.print(f"rules: {', '.join(str(e['rule']) for e in found['rules'])}")
    if shown:
        console.print(
            f"webhook secret (shown once; the receiver checks X-Phaseout-Signature with it): [bold]{escape(shown)}[/]"
        )
    console.print("next: phaseout alert test " + escape(name))


@alert_app.command("list")
def alert_list(ctx: typer.Context, fmt: render.ListFormat = render.LIST_FORMAT, wide: bool = render.WIDE) -> None:
    """List alerts, their destinations, rules and outbox counts (secrets are never shown).

    Example: phaseout alert list --format jsonl
    """
    with open_store(ctx) as store, store.engine.connect() as conn:
        rows = list_alerts(conn)
    render.listing(
        f"{len(rows)} alert(s)",
        [
            render.Column("name", key=True),
            render.Column("kind", key=True),
            render.Column("destination"),
            render.Column("rules"),
            render.Column("pending", right=True),
            render.Column("delivered", right=True),
            render.Column("failed", right=True),
            render.Column("created", key=True),
        ],
        [
            [
                a["name"],
                a["kind"],
                describe(a["kind"], a["config"]),
                ", ".join(
                    str(e["rule"]) + "".join(f" {k}={','.join(v)}" for k, v in e.items() if k != "rule")
                    for e in a["rules"]
                ),
                a["pending"] + a["sending"],
                a["delivered"],
                a["failed"],
                a["created_at"],
            ]
            for a in rows
        ],
        fmt=fmt,
        wide=wide,
    )


@alert_app.command("rules")
def alert_rules() -> None:
    """The rules an alert can receive, and their parameters."""
    render.listing(
        "alert rules",
        [render.Column("rule", key=True), render.Column("parameters"), render.Column("when it fires")],
        [
            [
                r.id,
                ", ".join(f"--{k} (default {','.join(v) or 'the packs in use'})" for k, v in r.params.items()),
                r.description,
            ]
            for r in RULES.values()
        ],
    )


@alert_app.command("test")
def alert_test(ctx: typer.Context, name: str = typer.Argument(..., help="The alert to test.")) -> None:
    """Send a test message to the alert's destination now (recorded in the audit trail).
    Exit 8 when it could not be delivered.

    Example: phaseout alert test soc
    """
    with open_store(ctx) as store:
        ok, detail = Phaseout(store).test_alert(name)
    if ok:
        console.print(f"test alert delivered to {escape(name)}: {escape(detail)}")
        return
    err_console.print(f"[bold red]test alert not delivered[/] to {escape(name)}: {escape(detail)}")
    raise typer.Exit(EXIT_CHECK_FAILED)


@alert_app.command("remove")
def alert_remove(ctx: typer.Context, name: str = typer.Argument(..., help="The alert to remove.")) -> None:
    """Remove an alert, with its messages still waiting (the audit trail keeps every delivery).

    Example: phaseout alert remove soc
    """
    with open_store(ctx) as store:
        done = remove_alert(store.engine, name, cli_actor())
    note = f"; {done['undelivered']} undelivered message(s) dropped" if done["undelivered"] else ""
    console.print(f"alert {escape(name)} removed{note}")


@alert_app.command("deliver")
def alert_deliver(
    ctx: typer.Context,
    limit: int = typer.Option(100, "--limit", min=1, max=10000, help="At most this many messages this run."),
    retry_failed_: bool = typer.Option(
        False, "--retry-failed", help="First put messages that ran out of attempts back in the queue."
    ),
    timeout: float = typer.Option(10.0, "--timeout", min=0.5, max=120.0, help="Seconds allowed per delivery."),
) -> None:
    """Evaluate the rules (batches not yet looked at, deadlines), then send what is due from the
    outbox.  Failed deliveries are retried with exponential back-off (30 s doubling, at most
    hourly; 12 attempts, then `failed`).  Exit 8 when a message could not be delivered.

    Run it from a timer, e.g. cron: `* * * * * phaseout --db /srv/phaseout.db alert deliver`

    Example: phaseout alert deliver --retry-failed
    """
    with open_store(ctx) as store:
        if retry_failed_:
            back = retry_failed(store.engine, cli_actor(), dt.datetime.now(dt.UTC))
            console.print(f"{back} failed message(s) queued again")
        found = Phaseout(store).evaluate_alerts()
        report = Phaseout(store).deliver_alerts(limit=limit, timeout=timeout)
        with store.engine.connect() as conn:
            counts = outbox_counts(conn)
    if found.occurrences:
        console.print(f"evaluated {found.batches} batch(es): {found.occurrences} new occurrence(s) queued")
    for r in report.results:
        line = f"#{r['outbox']} {r['alert']}: {r['status']}"
        if r["status"] != "delivered":
            line += f" ({r['detail']})"
        console.print(escape(line))
    console.print(
        f"delivered {report.delivered}, retrying later {report.retrying}, failed {report.failed}; "
        f"outbox: {counts.get('pending', 0)} pending, {counts.get('failed', 0)} failed"
    )
    if report.retrying or report.failed:
        raise typer.Exit(EXIT_CHECK_FAILED)


@alert_app.command("outbox")
def alert_outbox(
    ctx: typer.Context,
    status: str | None = typer.Option(None, "--status", help="pending, sending, delivered or failed."),
    limit: int = typer.Option(200, "--limit", min=1, max=100000),
    fmt: render.ListFormat = render.LIST_FORMAT,
    wide: bool = render.WIDE,
) -> None:
    """The messages waiting, sent and failed, newest first.

    Example: phaseout alert outbox --status failed
    """
    if status and status not in ("pending", "sending", "delivered", "failed"):
        raise UsageError(f"--status {status!r}: pending, sending, delivered or failed")
    with open_store(ctx) as store, store.engine.connect() as conn:
        rows = list_outbox(conn, status, limit)
    render.listing(
        f"{len(rows)} message(s)",
        [
            render.Column("id", key=True),
            render.Column("alert", key=True),
            render.Column("rule"),
            render.Column("status", key=True),
            render.Column("attempts", right=True),
            render.Column("next attempt", key=True),
            render.Column("summary"),
            render.Column("last error"),
        ],
        [
            [
                r["id"],
                r["alert"],
                r["rule"],
                r["status"],
                r["attempts"],
                r["next_attempt_at"] if r["status"] == "pending" else None,
                r["summary"],
                r["last_error"],
            ]
            for r in rows
        ],
        fmt=fmt,
        wide=wide,
    )
