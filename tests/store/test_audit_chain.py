"""The audit trail refuses rewrites on both databases, and the hash chain finds the ones made with
the guards switched off: INSERT OR REPLACE, UPDATE, DELETE, TRUNCATE, DROP TRIGGER, reordering,
cutting the tail; events written before migration 0008 are chained by it; concurrent writers
each get the next link."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from phaseout.store import Store, migrate
from phaseout.store.audit import event_hash, guards, record_event, verify_chain


def _events(store: Store, n: int) -> None:
    for i in range(n):
        with store.engine.begin() as conn:
            record_event(conn, "tester", "test.step", "device", i, {"n": i}, {"n": i + 1})


def _check(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return verify_chain(conn).problems


def _raw(store: Store, sql: str) -> None:
    with store.engine.begin() as conn:
        conn.exec_driver_sql(sql)


def test_an_intact_chain_verifies_and_guards_are_in_place(db_url: str) -> None:
    with Store.open(db_url) as store:
        _events(store, 5)
        with store.engine.connect() as conn:
            report = verify_chain(conn)
            assert report.ok and report.events == 5 and report.head_seq == 5
            assert all(guards(conn).values()), guards(conn)
            assert verify_chain(conn, expect=report.head_hash).ok
            assert not verify_chain(conn, expect="f" * 64).ok


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE events SET actor = 'mallory' WHERE seq = 2",
        "DELETE FROM events WHERE seq = 2",
        "DELETE FROM events",
        "UPDATE audit_head SET seq = 1",
        "DELETE FROM audit_head",
    ],
)
def test_rewrites_are_refused(db_url: str, sql: str) -> None:
    with Store.open(db_url) as store:
        _events(store, 3)
        with pytest.raises(DBAPIError, match="append-only"):
            _raw(store, sql)
        assert _check(store) == []


def test_insert_or_replace_is_refused_on_sqlite(sqlite_url: str) -> None:
    with Store.open(sqlite_url) as store:
        _events(store, 3)
        with store.engine.connect() as conn:
            second = conn.exec_driver_sql("SELECT id, seq, prev_hash, hash FROM events WHERE seq = 2").one()
        for sql in (
            # same id: REPLACE would delete the old row without firing the DELETE trigger
            f"INSERT OR REPLACE INTO events (id, at, actor, action, entity, entity_id, before, after, seq, prev_hash,"
            f" hash) VALUES ({second.id}, '2026-01-01 00:00:00', 'm', 'x', 'device', '1', 'null', 'null', {second.seq},"
            f" '{second.prev_hash}', '{second.hash}')",
            # same seq under a new id
            "REPLACE INTO events (at, actor, action, entity, entity_id, seq, prev_hash, hash) VALUES "
            f"('2026-01-01 00:00:00', 'm', 'x', 'device', '1', 2, '{second.prev_hash}', '{second.hash}')",
            "INSERT OR REPLACE INTO audit_head (id, seq, hash) VALUES (1, 1, 'x')",
            "UPDATE events SET seq = 3 - seq + 2 WHERE seq IN (2, 3)",
        ):
            with pytest.raises(DBAPIError, match="append-only"):
                _raw(store, sql)
        assert _check(store) == []


def test_truncate_is_refused_on_postgresql(pg_url: str) -> None:
    with Store.open(pg_url) as store:
        _events(store, 3)
        for table in ("events", "audit_head"):
            with pytest.raises(DBAPIError, match="append-only"):
                _raw(store, f"TRUNCATE {table}")
        with pytest.raises(DBAPIError, match="append-only"):
            _raw(
                store,
                "INSERT INTO audit_head (id, seq, hash) VALUES (1, 1, 'x') ON CONFLICT (id) DO UPDATE SET seq = 1",
            )
        assert _check(store) == []


def _drop_guards(store: Store) -> None:
    with store.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("DROP TRIGGER events_append_only ON events")
            conn.exec_driver_sql("DROP TRIGGER events_insert_next ON events")
            conn.exec_driver_sql("DROP TRIGGER audit_head_guard ON audit_head")
        else:
            for name in ("events_no_update", "events_no_delete", "events_insert_next", "audit_head_step"):
                conn.exec_driver_sql(f"DROP TRIGGER {name}")
        assert not all(guards(conn).values())


@pytest.mark.parametrize(
    ("attack", "found"),
    [
        (["UPDATE events SET actor = 'mallory' WHERE seq = 2"], "content was changed"),
        (["DELETE FROM events WHERE seq = 2"], "missing or reordered"),
        # swap two events' places: move seq 2 out of the way, 3 into 2, 2 into 3
        (
            [
                "UPDATE events SET seq = 1000 WHERE seq = 2",
                "UPDATE events SET seq = 2 WHERE seq = 3",
                "UPDATE events SET seq = 3 WHERE seq = 1000",
            ],
            "does not link",
        ),
        (["DELETE FROM events WHERE seq = 4"], "cut off the end"),
        (
            [
                "DELETE FROM events WHERE seq = 4",
                "UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM events WHERE seq = 3)",
            ],
            None,
        ),
    ],
)
def test_rewrites_with_the_guards_dropped_are_detected(db_url: str, attack: list[str], found: str | None) -> None:
    with Store.open(db_url) as store:
        _events(store, 4)
        with store.engine.connect() as conn:
            head = verify_chain(conn).head_hash
        _drop_guards(store)
        for sql in attack:
            _raw(store, sql)
        with store.engine.connect() as conn:
            report = verify_chain(conn, expect=head)
        assert not report.ok
        if found:
            assert any(found in p for p in report.problems), report.problems
        else:  # tail and head both rewritten: only a head recorded elsewhere shows it
            assert report.problems == [f"the newest hash is not the expected {head[:12]}..."]


def test_truncate_with_the_guard_dropped_is_detected_on_postgresql(pg_url: str) -> None:
    with Store.open(pg_url) as store:
        _events(store, 3)
        _raw(store, "DROP TRIGGER events_no_truncate ON events")
        _raw(store, "TRUNCATE events")
        problems = _check(store)
        assert any("cut off the end" in p for p in problems), problems


def test_replica_mode_writes_are_detected_on_postgresql(pg_url: str) -> None:
    """``session_replication_role = replica`` silences ordinary triggers for a superuser."""
    with Store.open(pg_url) as store:
        _events(store, 3)
        with store.engine.begin() as conn:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            conn.exec_driver_sql("UPDATE events SET after = '{\"n\": 99}' WHERE seq = 1")
        assert any("content was changed" in p for p in _check(store))


def test_the_migration_chains_events_written_before_it(db_url: str) -> None:
    with Store.open(db_url) as store:
        migrate.downgrade(store.engine, "0006")
        with store.engine.begin() as conn:
            for i in range(3):
                conn.execute(
                    sa.text(
                        'INSERT INTO events (at, actor, action, entity, entity_id, "before", "after") '
                        "VALUES (:at, 'old', 'work-order.status', 'work-order', :i, 'null', :after)"
                    ),
                    {"at": f"2026-11-2{i} 10:00:00.12345{i}", "i": str(i), "after": '{"status": "done"}'},
                )
        migrate.upgrade(store.engine)
        _events(store, 2)
        with store.engine.connect() as conn:
            report = verify_chain(conn)
            first = conn.exec_driver_sql("SELECT * FROM events WHERE seq = 1").mappings().one()
        assert report.ok and report.events == 5, report.problems
        assert event_hash("0" * 64, first) == first["hash"]


def test_concurrent_writers_each_get_the_next_link(db_url: str) -> None:
    with Store.open(db_url) as store:
        errors: list[BaseException] = []

        def write(worker: int) -> None:
            try:
                for i in range(10):
                    with store.engine.begin() as conn:
                        record_event(conn, f"w{worker}", "test.step", "device", i)
            except BaseException as exc:  # collected for the assertion
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        with store.engine.connect() as conn:
            report = verify_chain(conn)
        assert report.ok and report.events == 40, report.problems
