"""The ``phaseout`` command.  Commands are thin: parse options, call the library, render.

Errors a user can act on (:class:`phaseout.errors.PhaseoutError`) print a message and a hint
and exit with the documented code; only real bugs show a traceback.
"""

from __future__ import annotations

import logging
import sys

import typer

from phaseout import __version__
from phaseout.cli import common
from phaseout.cli.alert import alert_app
from phaseout.cli.assess import assess
from phaseout.cli.audit import audit_app
from phaseout.cli.collectors import collector_app, scans_app
from phaseout.cli.db import db_app
from phaseout.cli.demo import demo
from phaseout.cli.devices import devices
from phaseout.cli.discover import emulate, scan_cmd
from phaseout.cli.identify import identify, knowledge_app
from phaseout.cli.imports import import_history, import_inventory, sites_app
from phaseout.cli.plan import plan_app
from phaseout.cli.policy import policy_app
from phaseout.cli.report import report
from phaseout.cli.settings import settings_app
from phaseout.cli.track import waiver_app, work_app
from phaseout.cli.web import serve, token_app, user_app
from phaseout.errors import EXIT_CODES, PhaseoutError

EPILOG = "Exit codes: " + "; ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES.items()) + "."

app = typer.Typer(
    name="phaseout",
    help="Find, assess and replace Hikvision, Dahua and other covered surveillance equipment "
    "across an estate, without leaving a site unprotected.\n\n"
    "Start with `phaseout demo`, or: `phaseout sites import sites.xlsx`, then "
    "`phaseout import cameras.csv`, then `phaseout devices`.",
    epilog=EPILOG,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"phaseout {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    db: str | None = typer.Option(
        None,
        "--db",
        envvar="PHASEOUT_DB",
        help="Database: an SQLite file path or postgresql://user@host/db. "
        "Default: ~/.local/share/phaseout/phaseout.db.",
        show_envvar=True,
    ),
    verbose: int = typer.Option(
        0,
        "--verbose",
        "-v",
        count=True,
        help="Log progress to stderr; -vv also logs SQL (repeat the flag: it takes no number).",
    ),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    ctx.obj = common.Settings(db=db)
    if verbose:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
        if verbose < 2:
            logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
            logging.getLogger("alembic").setLevel(logging.WARNING)


app.command("import", epilog=EPILOG)(import_inventory)
app.command("devices", epilog=EPILOG)(devices)
app.command("imports", epilog=EPILOG)(import_history)
app.command("demo", epilog=EPILOG)(demo)
app.command("identify", epilog=EPILOG)(identify)
app.command("assess", epilog=EPILOG)(assess)
app.command("scan", epilog=EPILOG)(scan_cmd)
app.command("serve", epilog=EPILOG)(serve)
app.command("report", epilog=EPILOG)(report)
app.command("emulate", epilog=EPILOG)(emulate)
app.add_typer(knowledge_app, name="knowledge")
app.add_typer(policy_app, name="policy")
app.add_typer(plan_app, name="plan")
app.add_typer(user_app, name="user")
app.add_typer(work_app, name="work")
app.add_typer(waiver_app, name="waiver")
app.add_typer(token_app, name="token")
app.add_typer(sites_app, name="sites")
app.add_typer(db_app, name="db")
app.add_typer(settings_app, name="settings")
app.add_typer(audit_app, name="audit")
app.add_typer(alert_app, name="alert")
app.add_typer(scans_app, name="scans")
app.add_typer(collector_app, name="collector")


def main(argv: list[str] | None = None) -> None:
    """Console entry point.  Typer handles usage errors (exit 2) and Ctrl-C (exit 130);
    a :class:`PhaseoutError` becomes its message, its hint and its exit code."""
    try:
        app(args=argv, prog_name="phaseout")
    except PhaseoutError as exc:
        common.print_error(exc)
        sys.exit(exc.exit_code)
