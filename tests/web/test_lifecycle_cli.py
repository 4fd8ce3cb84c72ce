"""The CLI side: ``phaseout user ...`` and ``phaseout token ...`` (issue 16 item 6), ``phaseout audit
verify`` and ``phaseout db info`` on an intact, a rewritten and a dropped audit trail, and the
limiter's memory staying bounded whatever the number of names tried."""

from __future__ import annotations

from pathlib import Path

import pytest

from phaseout.cli import main
from phaseout.store import Store
from phaseout.store.audit import list_events
from phaseout.store.users import add_user, list_tokens, login_failed, throttle_rows, token_user
from phaseout.web.security import LoginLimiter


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out + err


def test_user_and_token_lifecycle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "p.db")
    assert run(capsys, "--db", db, "user", "add", "root1", "--role", "admin")[0] == 0
    assert run(capsys, "--db", db, "user", "add", "ann", "--role", "viewer")[0] == 0
    code, out = run(capsys, "--db", db, "token", "create", "--user", "ann", "--expires", "30d")
    token = out.strip().splitlines()[-1]
    assert code == 0 and token.startswith("po_")
    assert run(capsys, "--db", db, "token", "create", "--user", "ann", "--expires", "soon")[0] == 2
    with Store.open(db) as store:
        assert token_user(store.engine, token) is not None
        assert list_tokens(store.engine, "ann")[0]["expires_at"] is not None
    for args in (
        ("user", "disable", "ann"),
        ("user", "enable", "ann"),
        ("user", "role", "ann", "planner"),
        ("user", "reset-password", "ann"),
        ("user", "logout", "ann"),
        ("token", "revoke", "--user", "ann"),
    ):
        code, out = run(capsys, "--db", db, *args)
        assert code == 0, (args, out)
    assert run(capsys, "--db", db, "user", "disable", "root1")[1].count("last enabled admin") == 1
    with Store.open(db) as store:
        assert token_user(store.engine, token) is None
    assert run(capsys, "--db", db, "user", "remove", "ann", "--yes")[0] == 0
    assert "ann" not in run(capsys, "--db", db, "user", "list")[1]
    with Store.open(db) as store, store.engine.connect() as conn:
        actions = [e["action"] for e in list_events(conn, limit=50)][::-1]
    assert actions == [
        "user.add",
        "user.add",
        "token.create",
        "user.disable",
        "user.enable",
        "user.role",
        "user.password-reset",
        "user.logout",
        "token.revoke-all",
        "user.remove",
    ]


def test_audit_verify_and_db_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "p.db")
    run(capsys, "--db", db, "user", "add", "root1", "--role", "admin")
    code, out = run(capsys, "--db", db, "audit", "verify")
    assert code == 0 and "intact" in out
    head = out.split("head 1 ", 1)[1].split()[0]
    assert run(capsys, "--db", db, "audit", "verify", "--expect", head)[0] == 0
    assert "chain intact" in run(capsys, "--db", db, "db", "info")[1]
    assert "user.add" in run(capsys, "--db", db, "audit", "--entity", "user")[1]
    with Store.open(db) as store, store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER events_no_update")
        conn.exec_driver_sql("UPDATE events SET actor = 'someone else'")
    code, out = run(capsys, "--db", db, "audit", "verify")
    assert code == 5 and "content was changed" in out and "events_no_update" in out
    assert "chain BROKEN" in run(capsys, "--db", db, "db", "info")[1]
    with Store.open(db) as store, store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE events")
    assert "BROKEN" in run(capsys, "--db", db, "db", "info")[1]


def test_the_limiter_stays_bounded_whatever_the_names(tmp_path: Path) -> None:
    """Before: one entry per name asked about (~860 bytes each), all dropped past 100,000."""
    with Store.open(str(tmp_path / "p.db")) as store:
        add_user(store.engine, "real", "viewer", "a-long-password-1")
        for i in range(500):
            login_failed(store.engine, f"198.51.100.{i % 3}", f"made-up-{i}")
        login_failed(store.engine, "198.51.100.9", "real")
        assert throttle_rows(store.engine) == 3 + 2  # three addresses; the fourth and the real user
    limiter = LoginLimiter()
    for i in range(LoginLimiter.MEMO * 2):
        limiter._remember(f"203.0.{i // 256 % 256}.{i % 256}-{i}", 60)
    assert len(limiter._locked) == LoginLimiter.MEMO


def test_throttle_and_lifecycle_on_both_databases(db_url: str) -> None:
    """The upsert, the windows and the audit events behave the same on SQLite and PostgreSQL."""
    from phaseout.store.audit import verify_chain
    from phaseout.store.users import (
        LOGIN_LIMIT,
        create_token,
        login_waits,
        remove_user,
        reset_password,
        set_disabled,
        set_role,
    )

    with Store.open(db_url) as store:
        add_user(store.engine, "boss", "admin", "a-long-password-1")
        add_user(store.engine, "eve", "viewer", "a-long-password-2")
        for _ in range(LOGIN_LIMIT):
            login_failed(store.engine, "192.0.2.1", "eve")
        by_address, by_user = login_waits(store.engine, "192.0.2.2", "eve")
        assert by_address == 0 and by_user > 0
        assert login_waits(store.engine, "192.0.2.1", "nobody")[0] > 0
        token = create_token(store.engine, "eve", "t")
        set_disabled(store.engine, "eve", True)
        assert token_user(store.engine, token) is None
        set_disabled(store.engine, "eve", False)
        set_role(store.engine, "eve", "planner")
        reset_password(store.engine, "eve", "another-password-3")
        remove_user(store.engine, "eve")
        assert throttle_rows(store.engine) == 1  # eve's row went with her
        with store.engine.connect() as conn:
            report = verify_chain(conn)
            actions = [e["action"] for e in list_events(conn, limit=20)]
        assert report.ok, report.problems
        assert actions[:5] == ["user.remove", "user.password-reset", "user.role", "user.enable", "user.disable"]
        assert actions.count("login.fail") == LOGIN_LIMIT - 1 and "login.lock" in actions
