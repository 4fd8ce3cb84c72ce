"""Issue 13's web faults, each reproduced: bodies read before the login, the login limiter
(unbounded, reset by a spray of names, blind behind a proxy), no login CSRF, attacker text shown
as a one-time password, site codes with ``/``, 500 for huge ids; plus the user lifecycle."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from phaseout.store import Store
from phaseout.store.audit import list_events, verify_chain
from phaseout.store.schema import login_throttle, sites
from phaseout.store.users import (
    add_user,
    create_token,
    remove_user,
    set_disabled,
    throttle_rows,
)
from phaseout.web.app import create_app
from phaseout.web.security import LOGIN_BODY_LIMIT, RequestGuard, client_address, limiter, parse_networks

from .conftest import PASSWORDS, login, login_csrf


def _try(client: TestClient, name: str, password: str, **headers: str) -> int:
    r = client.post(
        "/login",
        data={"name": name, "password": password, "next": "/", "csrf": login_csrf(client)},
        headers=headers,
        follow_redirects=False,
    )
    return r.status_code


# --- bodies -------------------------------------------------------------------------------


def test_an_oversized_body_is_refused_from_its_length_alone(client: TestClient) -> None:
    """The declared length decides: the body is never read (the stream below would fail if it were)."""

    def never() -> Iterator[bytes]:
        raise AssertionError("the server read the body")
        yield b""  # pragma: no cover

    for path in ("/settings/users", "/api/v1/policies", "/login"):
        r = client.post(path, content=never(), headers={"content-length": str(400 * 1024 * 1024)})
        assert r.status_code == 413, (path, r.status_code)
        assert r.headers["connection"] == "close"


def test_no_body_is_read_before_the_login(client: TestClient) -> None:
    def never() -> Iterator[bytes]:
        raise AssertionError("the server read the body")
        yield b""  # pragma: no cover

    r = client.put("/api/v1/policies", content=never(), headers={"content-length": "1000"})
    assert r.status_code == 401
    r = client.post("/settings/users", content=never(), headers={"content-length": "1000"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_a_chunked_body_is_cut_at_the_cap(client: TestClient) -> None:
    chunks = (b"x" * 1024 for _ in range(64))  # 64 KiB, no length: the login form allows 8 KiB
    r = client.post("/login", content=chunks, headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413
    assert LOGIN_BODY_LIMIT < 64 * 1024


def test_a_slow_body_times_out() -> None:
    """A client that stops sending halfway gets 408 after the deadline, and the app never runs."""
    reached: list[str] = []

    async def app(scope: object, receive: object, send: object) -> None:
        reached.append("app")

    guard = RequestGuard(app, body_seconds=0.2)  # type: ignore[arg-type]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        if not sent and not reached:
            await asyncio.sleep(5)
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/login", "headers": [(b"content-length", b"10")]}
    asyncio.run(guard(scope, receive, send))  # type: ignore[arg-type]
    assert sent[0]["status"] == 408 and reached == []


# --- login CSRF, the limiter --------------------------------------------------------------


def test_the_login_form_needs_its_csrf_token(client: TestClient) -> None:
    r = client.post("/login", data={"name": "vic", "password": PASSWORDS["vic"], "next": "/"}, follow_redirects=False)
    assert r.status_code == 403 and "phaseout_session" not in r.headers.get("set-cookie", "")
    token = login_csrf(client)
    client.cookies.clear()  # another site's form: it cannot send our cookie
    r = client.post("/login", data={"name": "vic", "password": PASSWORDS["vic"], "csrf": token}, follow_redirects=False)
    assert r.status_code == 403
    assert _try(client, "vic", PASSWORDS["vic"]) == 303


def test_a_spray_of_names_neither_grows_the_limiter_nor_lifts_a_lock(client: TestClient, store: Store) -> None:
    """Before: ~860 bytes per name asked about, and every lock cleared past 100,000 names."""
    for _ in range(5):
        assert _try(client, "pat", "wrong-password") == 401
    assert _try(client, "pat", PASSWORDS["pat"]) == 429
    with store.engine.begin() as conn:  # as if the spray came from elsewhere
        conn.execute(login_throttle.delete().where(login_throttle.c.key.like("ip:%")))
    limiter.forget()
    # 100 made-up names from one address: refused after 5, and no row per name
    codes = [_try(client, f"nobody{i}", "x") for i in range(100)]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
    assert throttle_rows(store.engine) == 2  # that address, and pat
    # the lock on pat holds, from any address, even with the right password
    with store.engine.begin() as conn:
        conn.execute(login_throttle.delete().where(login_throttle.c.key.like("ip:%")))
    limiter.forget()
    assert _try(client, "pat", PASSWORDS["pat"]) == 429
    with store.engine.connect() as conn:
        actions = {e["action"] for e in list_events(conn, entity="login", limit=50)}
    assert {"login.fail", "login.lock"} <= actions


def test_the_client_address_comes_from_a_trusted_proxy_only() -> None:
    proxies = parse_networks(["10.0.0.5", "10.1.0.0/16"])
    assert client_address("10.0.0.5", "203.0.113.9", proxies) == "203.0.113.9"
    # a client cannot choose its address: entries left of the proxy's own are its words
    assert client_address("10.0.0.5", "1.2.3.4, 203.0.113.9", proxies) == "203.0.113.9"
    assert client_address("10.0.0.5", "203.0.113.9, 10.1.2.3", proxies) == "203.0.113.9"
    # the header from anyone else is ignored
    assert client_address("198.51.100.1", "203.0.113.9", proxies) == "198.51.100.1"
    assert client_address("198.51.100.1", "203.0.113.9", []) == "198.51.100.1"
    assert client_address("2001:db8::1:2", None, []) == "2001:db8::/64"


def test_behind_a_proxy_one_client_cannot_lock_out_another(store: Store) -> None:
    """Before: the proxy's address was counted, so five failures by anyone locked out everyone."""
    app = create_app(store.engine, trusted_proxies=["10.0.0.5"])
    with TestClient(app, base_url="http://127.0.0.1", client=("10.0.0.5", 40000)) as c:
        with store.engine.begin() as conn:
            conn.execute(login_throttle.delete())
        limiter.forget()
        for _ in range(6):
            _try(c, "nobody", "x", **{"x-forwarded-for": "203.0.113.66"})
        assert _try(c, "nobody", "x", **{"x-forwarded-for": "203.0.113.66"}) == 429
        assert _try(c, "vic", PASSWORDS["vic"], **{"x-forwarded-for": "203.0.113.77"}) == 303


# --- pages --------------------------------------------------------------------------------


def test_settings_never_shows_text_from_the_url_as_a_secret(client: TestClient) -> None:
    login(client, "ada")
    page = client.get("/settings", params={"message": "your new password:", "secret": "hunter2-ATTACKER"}).text
    assert "hunter2-ATTACKER" not in page and "your new password:" not in page
    assert "packs saved" in client.get("/settings", params={"done": "packs"}).text


def test_a_site_code_with_a_slash_opens(client: TestClient, store: Store) -> None:
    with store.engine.begin() as conn:
        if conn.execute(select(sites.c.id).where(sites.c.code == "LON/01")).first() is None:
            now = dt.datetime.now(dt.UTC)
            conn.execute(sites.insert().values(code="LON/01", name="London 1", created_at=now, updated_at=now))
    login(client, "vic")
    assert client.get("/sites/LON/01").status_code == 200
    assert client.get("/sites/LON%2F01").status_code == 200
    assert client.get("/api/v1/sites/LON/01").json()["site"]["code"] == "LON/01"


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/devices/99999999999999999999999",
        "/api/v1/devices/-1",
        "/api/v1/plans/1e9",
        "/api/v1/work-orders/99999999999999999999",
        "/api/v1/devices?page=99999999999999999999",
        "/api/v1/devices?size=0",
        "/api/v1/audit?page=-5",
        "/devices/99999999999999999999999",
        "/devices?page=99999999999999999999",
        "/work/99999999999999999999",
        "/plan?id=99999999999999999999",
    ],
)
def test_huge_or_malformed_numbers_are_4xx(client: TestClient, url: str) -> None:
    login(client, "vic")
    assert 400 <= client.get(url).status_code < 500, url


def test_a_whole_table_export_streams(client: TestClient) -> None:
    login(client, "vic")
    with client.stream("GET", "/api/v1/devices", params={"format": "csv"}) as r:
        assert r.status_code == 200 and "content-length" not in r.headers
        lines = list(r.iter_lines())
    assert lines[0].startswith("id,") and len(lines) - 1 == client.get("/api/v1/devices").json()["total"]
    assert client.get("/api/v1/devices", params={"format": "csv", "sort": "nope"}).status_code == 422


# --- the user lifecycle -------------------------------------------------------------------


def _fresh_user(store: Store, name: str) -> None:
    with store.engine.connect() as conn:
        exists = any(u == name for u in conn.exec_driver_sql("SELECT name FROM users").scalars())
    if exists:
        remove_user(store.engine, name)
    add_user(store.engine, name, "viewer", "lifecycle-password-1")
    PASSWORDS[name] = "lifecycle-password-1"


def test_disable_ends_sessions_and_stops_tokens(client: TestClient, store: Store) -> None:
    _fresh_user(store, "lee")
    token = create_token(store.engine, "lee", "ci")
    login(client, "lee")
    assert client.get("/api/v1/me").status_code == 200
    set_disabled(store.engine, "lee", True, actor="ada")
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    set_disabled(store.engine, "lee", False, actor="ada")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_expired_tokens_are_refused(client: TestClient, store: Store) -> None:
    _fresh_user(store, "kim")
    token = create_token(store.engine, "kim", "short", expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE api_tokens SET expires_at = '2000-01-01 00:00:00.000000' WHERE name = 'short'")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_admins_manage_users_from_the_settings_page(client: TestClient, store: Store) -> None:
    _fresh_user(store, "max")
    other = TestClient(client.app, base_url="http://127.0.0.1")
    login(other, "max")
    csrf = login(client, "ada")
    page = client.post("/settings/users/max/reset-password", data={"csrf": csrf}).text
    assert "new password for max (1 session(s) ended)" in page
    assert other.get("/api/v1/me").status_code == 401
    assert "max is now planner" in client.post("/settings/users/max/role", data={"csrf": csrf, "role": "planner"}).text
    assert "user max disabled" in client.post("/settings/users/max/disable", data={"csrf": csrf}).text
    assert "user max removed" in client.post("/settings/users/max/remove", data={"csrf": csrf}).text
    assert "last enabled admin" in client.post("/settings/users/ada/disable", data={"csrf": csrf}).text
    # a viewer cannot, and CSRF is still required
    assert client.post("/settings/users/pat/disable", data={}).status_code == 403
    client.cookies.clear()
    login(client, "vic")
    assert client.post("/settings/users/pat/disable", data={"csrf": login(client, "vic")}).status_code == 403
    with store.engine.connect() as conn:
        actions = [e["action"] for e in list_events(conn, entity="user", entity_id="max", limit=20)]
        assert verify_chain(conn).ok
    assert actions[:4] == ["user.remove", "user.disable", "user.role", "user.password-reset"]


def test_a_busy_database_is_503_not_500(tmp_path: Path) -> None:
    """Before: while an import held SQLite's write lock, logins and token calls returned 500."""
    import sqlite3

    db = str(tmp_path / "busy.db")
    with Store.open(db) as opened:
        add_user(opened.engine, "bea", "viewer", "busy-password-1")
        token = create_token(opened.engine, "bea", "ci")
    with Store.open(db) as opened, TestClient(create_app(opened.engine, warm=False), base_url="http://x") as c:
        csrf = login_csrf(c)
        holder = sqlite3.connect(db, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # what an import does for its whole run
        try:
            start = time.monotonic()
            assert c.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
            assert time.monotonic() - start < 5  # last_used is a hint: it does not wait for the lock
            r = c.post("/login", data={"name": "bea", "password": "busy-password-1", "csrf": csrf})
            assert r.status_code == 503 and "busy" in r.text and r.headers["retry-after"]
        finally:
            holder.execute("ROLLBACK")
            holder.close()
