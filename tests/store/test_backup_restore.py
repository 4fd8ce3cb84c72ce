"""The backup procedure of docs/deployment.md, run for real (issue 17 item 3): a small estate in
a PostgreSQL database of its own is dumped with ``pg_dump -Fc``, restored with ``pg_restore`` into
a fresh database, and the copy must open in phaseout at the same revision, hold the same rows in
every table, keep its audit chain intact with its guards, and answer a free-text search through
the restored index.  Skipped without PostgreSQL or its client tools, except under ``CI=true``."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from phaseout.app import Phaseout
from phaseout.app.assessment import run_assessment
from phaseout.demo.run import run_demo
from phaseout.policy.packs import available_packs
from phaseout.queries.devices import DeviceQuery, count
from phaseout.store import Store, migrate, search
from phaseout.store.audit import guards, verify_chain
from phaseout.store.schema import metadata
from phaseout.store.users import add_user
from tests.conftest import IN_CI, PG_URL, pg_unavailable
from tests.support import run_main

PACKS = ["org-template", "uk-cabinet-office-2022"]


def _require_pg_tools() -> None:
    reason = pg_unavailable()
    missing = [tool for tool in ("pg_dump", "pg_restore") if shutil.which(tool) is None]
    if missing:
        reason = reason or f"PostgreSQL client tools not installed: {', '.join(missing)}"
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true requires PostgreSQL and its client tools: {reason}")
        pytest.skip(reason)


@pytest.fixture
def two_databases() -> Iterator[tuple[str, str]]:
    """Two fresh databases (the estate, and the restore target), dropped afterwards."""
    _require_pg_tools()
    names = [f"t_backup_{uuid.uuid4().hex[:10]}", f"t_restore_{uuid.uuid4().hex[:10]}"]
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        base = make_url(PG_URL)
        yield str(base.set(database=names[0])), str(base.set(database=names[1]))
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _libpq(url: str) -> str:
    """The SQLAlchemy URL as pg_dump and pg_restore take it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        counts = {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one()) for t in metadata.sorted_tables
        }
    engine.dispose()
    return counts


def test_pg_dump_and_restore_into_a_fresh_database(
    two_databases: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = two_databases
    run_demo(tmp_path / "demo", stores=4, seed=5, db=source)
    with Store.open(source) as store:
        app = Phaseout(store, actor="backup-test")
        app.use_packs(PACKS)
        packs = available_packs()
        run_assessment(store.engine, [packs[p] for p in PACKS], dt.date(2026, 12, 1))
        add_user(store.engine, "ada", "admin", "backup-password-1")
        with store.engine.connect() as conn:
            before_chain = verify_chain(conn)
            model = conn.execute(text("select model from devices where model is not null limit 1")).scalar_one()
            found_before = count(conn, DeviceQuery(text=model[1:6]))
    assert not before_chain.problems and before_chain.events > 0
    before = _counts(source)
    assert before["devices"] > 50 and before["assessments"] > 0 and before["events"] > 0

    dump = tmp_path / "phaseout.dump"
    subprocess.run(["pg_dump", "-Fc", "--no-owner", "-f", str(dump), _libpq(source)], check=True, timeout=300)
    subprocess.run(
        ["pg_restore", "--no-owner", "--exit-on-error", "-d", _libpq(target), str(dump)], check=True, timeout=300
    )

    assert _counts(target) == before
    with Store.open(target) as store:  # opens (and would migrate) without complaint
        assert migrate.current_revision(store.engine) == migrate.head_revision()
        with store.engine.connect() as conn:
            after_chain = verify_chain(conn, expect=before_chain.head_hash)
            assert not after_chain.problems, after_chain.problems
            assert (after_chain.events, after_chain.head_hash) == (before_chain.events, before_chain.head_hash)
            assert all(guards(conn).values()), guards(conn)
            assert search.has_index(conn)
            assert count(conn, DeviceQuery(text=model[1:6])) == found_before > 0
    code, out, err = run_main(capsys, "--db", target, "audit", "verify", "--expect", str(before_chain.head_hash))
    assert code == 0, out + err
    assert "audit trail intact" in out
