"""``phaseout serve``, ``phaseout user`` and ``phaseout token``: the dashboard and who may use it."""

from __future__ import annotations

import datetime as dt
import ipaddress
import sys
from collections.abc import Callable

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine

from phaseout.cli.common import console, err_console, open_store
from phaseout.errors import ListenError, UsageError
from phaseout.store.users import (
    ROLES,
    add_user,
    create_token,
    end_sessions,
    generate_password,
    list_tokens,
    list_users,
    remove_user,
    reset_password,
    revoke_token,
    revoke_user_tokens,
    set_disabled,
    set_role,
)

user_app = typer.Typer(
    help="Dashboard users (roles: viewer reads; planner also changes planning choices; admin also manages users)."
)
token_app = typer.Typer(help="API tokens for scripts: `Authorization: Bearer TOKEN` on /api/v1.")


def ensure_can_listen(host: str, port: int) -> None:
    """Fail with exit 9 and a hint before the server starts, rather than in its log."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ListenError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                hint="another program uses that port: choose another with --port, e.g. --port 8080",
            ) from None


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback by default)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535),
    secure_cookies: bool = typer.Option(
        False, "--secure-cookies", help="Mark the session cookie Secure (set this behind an HTTPS proxy)."
    ),
    map_tiles: str | None = typer.Option(
        None, "--map-tiles", help="Tile URL template for the site map's background; none by default (no third party)."
    ),
    workers: int = typer.Option(
        1, "--workers", min=1, max=64, help="Web worker processes; every shared state is in the database."
    ),
    trusted_proxy: list[str] = typer.Option(
        [],
        "--trusted-proxy",
        help="Address or CIDR of your HTTPS proxy (repeatable): only its X-Forwarded-For names the client.",
    ),
    limit_concurrency: int = typer.Option(
        1000, "--limit-concurrency", min=10, help="Connections and requests at once before answering 503."
    ),
) -> None:
    """Serve the dashboard and the REST API (/api/v1, docs at /api/v1/docs).

    Everything but the login page and /healthz needs a login: add users with
    `phaseout user add NAME --role admin`. Request bodies are capped (1 MiB, the login form
    8 KiB) and must arrive within 10 s; a request head within 10 s; idle connections close
    after 5 s. Behind a proxy, name it with --trusted-proxy so failed logins count per client.

    Example: phaseout serve --port 8000 --workers 2 --trusted-proxy 10.0.0.5
    """
    import json
    import os

    import uvicorn

    from phaseout.web.security import parse_networks
    from phaseout.web.server import uvicorn_settings

    try:
        if not ipaddress.ip_address(host).is_loopback and not secure_cookies:
            err_console.print(
                "[yellow]listening beyond this machine without --secure-cookies[/]: put the dashboard behind HTTPS"
            )
    except ValueError:
        pass
    try:
        parse_networks(trusted_proxy)
    except ValueError as exc:
        raise UsageError(
            f"--trusted-proxy: {exc}", hint="an address or CIDR block, e.g. 10.0.0.5 or 10.0.0.0/24"
        ) from None
    ensure_can_listen(host, port)
    store = open_store(ctx)
    try:
        if not list_users(store.engine):
            err_console.print("[yellow]no user yet[/]: add one with `phaseout user add NAME --role admin`")
        url = store.engine.url.render_as_string(hide_password=False)
    finally:
        store.close()
    # every worker builds its own app (and engine) from these settings
    os.environ["PHASEOUT_SERVE"] = json.dumps(
        {"db": url, "secure_cookies": secure_cookies, "map_tiles": map_tiles, "trusted_proxies": trusted_proxy}
    )
    console.print(f"phaseout dashboard on http://{host}:{port}/ ({workers} worker(s); Ctrl-C stops it)")
    uvicorn.run(
        "phaseout.web.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        **uvicorn_settings(workers, limit_concurrency),
    )


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Login name."),
    role: str = typer.Option("viewer", "--role", "-r", help=f"One of: {', '.join(ROLES)}."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input instead of generating one."
    ),
) -> None:
    """Add a user. A password is generated and printed once unless --password-stdin gives one.

    Example: phaseout user add alice --role planner
    """
    password = sys.stdin.readline().rstrip("\n") if password_stdin else generate_password()
    store = open_store(ctx)
    try:
        user = add_user(store.engine, name, role, password)
    finally:
        store.close()
    console.print(f"added {escape(user.name)} ({user.role})")
    if not password_stdin:
        console.print(f"password (shown once): [bold]{escape(password)}[/]")


@user_app.command("list")
def user_list(ctx: typer.Context) -> None:
    """List users."""
    store = open_store(ctx)
    try:
        rows = list_users(store.engine)
    finally:
        store.close()
    table = Table()
    for col in ("name", "role", "disabled", "sessions", "tokens", "created"):
        table.add_column(col)
    for u in rows:
        table.add_row(
            escape(str(u["name"])),
            str(u["role"]),
            "yes" if u["disabled"] else "",
            str(u["sessions"]),
            str(u["tokens"]),
            str(u["created_at"])[:19],
        )
    console.print(table)


def _user_cmd(ctx: typer.Context, action: Callable[[Engine], str]) -> None:
    store = open_store(ctx)
    try:
        message = action(store.engine)
    finally:
        store.close()
    console.print(message, markup=False, highlight=False)


@user_app.command("disable")
def user_disable(ctx: typer.Context, name: str = typer.Argument(..., help="Login name.")) -> None:
    """Disable a user: their sessions end now, their tokens stop working (audited)."""
    _user_cmd(ctx, lambda e: f"{name} disabled; {set_disabled(e, name, True)} session(s) ended")


@user_app.command("enable")
def user_enable(ctx: typer.Context, name: str = typer.Argument(..., help="Login name.")) -> None:
    """Enable a disabled user again (audited)."""

    def act(engine: Engine) -> str:
        set_disabled(engine, name, False)
        return f"{name} enabled"

    _user_cmd(ctx, act)


@user_app.command("remove")
def user_remove(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Login name."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask."),
) -> None:
    """Remove a user with their sessions and tokens; the audit trail keeps what they did."""
    if not yes and not typer.confirm(f"remove user {name}?"):
        raise typer.Exit(1)

    def act(engine: Engine) -> str:
        remove_user(engine, name)
        return f"{name} removed"

    _user_cmd(ctx, act)


@user_app.command("role")
def user_role(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Login name."),
    role: str = typer.Argument(..., help=f"One of: {', '.join(ROLES)}."),
) -> None:
    """Change a user's role (audited)."""

    def act(engine: Engine) -> str:
        set_role(engine, name, role)
        return f"{name} is now {role}"

    _user_cmd(ctx, act)


@user_app.command("reset-password")
def user_reset_password(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Login name."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the new password from standard input instead of generating one."
    ),
) -> None:
    """Give a user a new password; every session of theirs ends (audited, without the password)."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else generate_password()
    _user_cmd(ctx, lambda e: f"password of {name} reset; {reset_password(e, name, password)} session(s) ended")
    if not password_stdin:
        console.print(f"password (shown once): [bold]{escape(password)}[/]")


@user_app.command("logout")
def user_logout(ctx: typer.Context, name: str = typer.Argument(..., help="Login name.")) -> None:
    """End every dashboard session of a user (audited)."""
    _user_cmd(ctx, lambda e: f"{end_sessions(e, name)} session(s) of {name} ended")


def _expiry(text: str | None) -> dt.datetime | None:
    """``90d``, ``12h``, ``never`` or a date (``2027-06-30``) -> when the token stops working."""
    if text is None or text == "never":
        return None
    now = dt.datetime.now(dt.UTC)
    try:
        if text[-1:] in ("d", "h") and text[:-1].isdigit():
            amount = int(text[:-1])
            if amount > 36500:
                raise ValueError(text)
            return now + (dt.timedelta(days=amount) if text[-1] == "d" else dt.timedelta(hours=amount))
        return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=dt.UTC)
    except ValueError:
        raise UsageError(
            f"--expires {text!r} is not a duration or a date", hint="e.g. --expires 90d, 12h, 2027-06-30 or never"
        ) from None


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    user: str = typer.Option(..., "--user", "-u", help="Whose rights the token carries."),
    name: str = typer.Option("script", "--name", help="What the token is for."),
    expires: str = typer.Option(
        "90d", "--expires", help="When it stops working: 90d, 12h, a date (2027-06-30), or never."
    ),
) -> None:
    """Create an API token; it is printed once (only its hash is stored). Audited.

    Example: curl -H "Authorization: Bearer $(phaseout token create --user ci)" http://127.0.0.1:8000/api/v1/devices
    """
    store = open_store(ctx)
    try:
        token = create_token(store.engine, user, name, expires_at=_expiry(expires))
    finally:
        store.close()
    typer.echo(token)


@token_app.command("list")
def token_list(
    ctx: typer.Context, user: str | None = typer.Option(None, "--user", "-u", help="Only this user's tokens.")
) -> None:
    """List tokens (never their values)."""
    store = open_store(ctx)
    try:
        rows = list_tokens(store.engine, user)
    finally:
        store.close()
    table = Table()
    for col in ("id", "user", "name", "created", "last used", "expires", "revoked"):
        table.add_column(col)
    for t in rows:
        table.add_row(
            str(t["id"]),
            escape(str(t["user"])),
            escape(str(t["name"])),
            str(t["created_at"]),
            str(t["last_used"] or ""),
            str(t["expires_at"] or "never"),
            "yes" if t["revoked"] else "",
        )
    console.print(table)


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context,
    token_id: int | None = typer.Argument(None, help="Id from `phaseout token list`.", min=1, max=2**31 - 1),
    user: str | None = typer.Option(None, "--user", "-u", help="Revoke every token of this user instead."),
) -> None:
    """Revoke a token, or all of a user's tokens with --user (audited)."""
    if (token_id is None) == (user is None):
        raise UsageError("give a token id or --user NAME, not both", hint="phaseout token list")
    store = open_store(ctx)
    try:
        if user is not None:
            count = revoke_user_tokens(store.engine, user)
            console.print(f"{count} token(s) of {escape(user)} revoked")
            return
        assert token_id is not None
        if not revoke_token(store.engine, token_id):
            raise UsageError(f"no token {token_id}", hint="phaseout token list")
    finally:
        store.close()
    console.print(f"token {token_id} revoked")
