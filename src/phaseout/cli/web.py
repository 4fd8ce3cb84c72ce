"""``phaseout serve``, ``phaseout user`` and ``phaseout token``: the dashboard and who may use it."""

from __future__ import annotations

import ipaddress
import sys

import typer
from rich.markup import escape
from rich.table import Table

from phaseout.cli.common import console, err_console, open_store
from phaseout.errors import ListenError, UsageError
from phaseout.store.users import ROLES, add_user, create_token, generate_password, list_tokens, list_users, revoke_token

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
) -> None:
    """Serve the dashboard and the REST API (/api/v1, docs at /api/v1/docs).

    Everything but the login page and /healthz needs a login: add users with
    `phaseout user add NAME --role admin`.

    Example: phaseout serve --port 8000
    """
    import uvicorn

    from phaseout.web.app import create_app

    try:
        if not ipaddress.ip_address(host).is_loopback and not secure_cookies:
            err_console.print(
                "[yellow]listening beyond this machine without --secure-cookies[/]: put the dashboard behind HTTPS"
            )
    except ValueError:
        pass
    ensure_can_listen(host, port)
    store = open_store(ctx)
    if not list_users(store.engine):
        err_console.print("[yellow]no user yet[/]: add one with `phaseout user add NAME --role admin`")
    app = create_app(store.engine, secure_cookies=secure_cookies, map_tiles=map_tiles)
    console.print(f"phaseout dashboard on http://{host}:{port}/ (Ctrl-C stops it)")
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)


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
    for col in ("name", "role", "disabled", "created"):
        table.add_column(col)
    for u in rows:
        table.add_row(escape(str(u["name"])), str(u["role"]), "yes" if u["disabled"] else "", str(u["created_at"]))
    console.print(table)


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    user: str = typer.Option(..., "--user", "-u", help="Whose rights the token carries."),
    name: str = typer.Option("script", "--name", help="What the token is for."),
) -> None:
    """Create an API token; it is printed once (only its hash is stored).

    Example: curl -H "Authorization: Bearer $(phaseout token create --user ci)" http://127.0.0.1:8000/api/v1/devices
    """
    store = open_store(ctx)
    try:
        token = create_token(store.engine, user, name)
    finally:
        store.close()
    typer.echo(token)


@token_app.command("list")
def token_list(ctx: typer.Context) -> None:
    """List tokens (never their values)."""
    store = open_store(ctx)
    try:
        rows = list_tokens(store.engine)
    finally:
        store.close()
    table = Table()
    for col in ("id", "user", "name", "created", "last used", "revoked"):
        table.add_column(col)
    for t in rows:
        table.add_row(
            str(t["id"]),
            escape(str(t["user"])),
            escape(str(t["name"])),
            str(t["created_at"]),
            str(t["last_used"] or ""),
            "yes" if t["revoked"] else "",
        )
    console.print(table)


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context, token_id: int = typer.Argument(..., help="Id from `phaseout token list`.")
) -> None:
    """Revoke a token."""
    store = open_store(ctx)
    try:
        if not revoke_token(store.engine, token_id):
            raise UsageError(f"no token {token_id}", hint="phaseout token list")
    finally:
        store.close()
    console.print(f"token {token_id} revoked")
