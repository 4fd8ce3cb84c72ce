"""The free-text device search on its index (issue 17 item 4, migration 0012) gives the same
answers as the plain ``LIKE`` it replaced, on SQLite (FTS5 trigram) and PostgreSQL (pg_trgm):
for texts of every length (1-2 characters cannot use a trigram index), LIKE's own wildcards,
case, quotes, texts that span two columns, site codes; and the index follows inserts, updates,
deletes, a backfill of rows that predate it, and a bulk load that suspended it."""

from __future__ import annotations

import datetime as dt
import importlib
import random
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, insert, text, update

from phaseout.app import Phaseout
from phaseout.queries.devices import DeviceQuery, count, page
from phaseout.store import Store, migrate, search
from phaseout.store.schema import devices, observations

ROWS = r'''Site,Make,Model,IP,MAC,Serial,Hostname,Description,Asset ID
S-ALPHA,Hikvision,DS-2CD2143G2-I,10.1.2.3,28:57:BE:00:00:01,DS-1234,cam-door,Front door 100% coverage,A_17
S-ALPHA,Dahua,IPC-HDW2431T-AS,10.1.2.4,3C:EF:8C:00:00:02,7A0B1C,cam-yard,Yard \ back gate,A-18
S-BETA,Axis,P3245-LVE,10.20.3.4,00:40:8C:AA:BB:CC,ACCC8E01,,"Car park ""north""",B1
S-BETA,Lorex,E891AB,10.20.3.5,00:1F:54:01:02:03,LX-99,lorex-1,Büro Kamera,B2
S-GAMMA,HiLook,IPC-B140H-M,192.168.7.7,BC:AD:28:10:20:30,HL0007,gate,Main gate,G_1
S-GAMMA,Bosch,NDE-5503-AL,192.168.7.8,00:04:63:00:00:09,BO-5503,,Loading bay,G2
S-GAMMA,Generic,XYZ,192.168.7.9,,,,,
'''

QUERIES = [
    "d", "D", "1", "a_", "_", "%", "\\", "7.", "%c", "ds", "ds-", "DS-2CD", "2cd2143", "door", "100%",
    "0% c", "a_1", "\\ b", '"north"', "büro", "BÜRO", "kamera", "28:57", "28:57:be", "10.20.", "192.168.7.",
    "s-alpha", "S-GAM", "ALPHA", "hikvision", "dahua", "lorex", "LVE", "zzz", "cam-", "gatecam", "ds-1234",
    "-i10.1", "nde", "o-55", "xyz", "x y", "ab", "ë", "i\x1f10", "e\x1fcam",
]  # fmt: skip


def _estate(db: str, tmp_path: Path) -> Store:
    csv = tmp_path / "devices.csv"
    csv.write_text(ROWS, encoding="utf-8")
    store = Store.open(db)
    Phaseout(store).import_devices(csv)
    return store


def _answers(engine: Engine, q: str, *, indexed: bool) -> tuple[int, list[int]]:
    with engine.connect() as conn:
        query = DeviceQuery(text=q)
        ids = [r["id"] for r in page(conn, query, size=1000, indexed=indexed)]
        return count(conn, query, indexed=indexed), ids


def _same_as_like(engine: Engine, queries: list[str]) -> int:
    """Every query answers as the plain LIKE does; returns how many found something."""
    found = 0
    for q in queries:
        indexed, plain = _answers(engine, q, indexed=True), _answers(engine, q, indexed=False)
        assert indexed == plain, q
        assert indexed[0] == len(indexed[1]), q
        found += bool(plain[1])
    return found


def test_index_answers_as_like_did(db_url: str, tmp_path: Path) -> None:
    with _estate(db_url, tmp_path) as store:
        with store.engine.connect() as conn:
            assert search.has_index(conn)
        assert _same_as_like(store.engine, QUERIES) >= 35
        # the LIKE reference itself is right on a few hand-checked answers
        assert _answers(store.engine, "100%", indexed=True)[0] == 1
        assert _answers(store.engine, "a_1", indexed=True)[0] == 1  # A_17, not A-18
        assert _answers(store.engine, "S-GAM", indexed=True)[0] == 3  # by site code only
        assert _answers(store.engine, "x y", indexed=True)[0] == 0  # never across two columns


def test_random_fragments_of_stored_values(db_url: str, tmp_path: Path) -> None:
    """Substrings cut at random from the stored values (1 to 8 characters), in random case."""
    rng = random.Random(17)
    with _estate(db_url, tmp_path) as store:
        with store.engine.connect() as conn:
            rows = conn.execute(text("select model, serial, mac, ip, hostname from devices"))
            values = [v for row in rows for v in row if v]
        queries = []
        for _ in range(120):
            value = rng.choice(values)
            start = rng.randrange(len(value))
            fragment = value[start : start + rng.randint(1, 8)]
            queries.append("".join(c.upper() if rng.random() < 0.5 else c.lower() for c in fragment))
        assert _same_as_like(store.engine, queries) == len(queries)


def test_index_follows_writes(db_url: str, tmp_path: Path) -> None:
    with _estate(db_url, tmp_path) as store:
        engine = store.engine
        with engine.begin() as conn:
            target = conn.execute(text("select id from devices where serial = 'LX-99'")).scalar_one()
            conn.execute(update(devices).where(devices.c.id == target).values(model="QQ-NEWMODEL"))
        assert _answers(engine, "qq-newm", indexed=True) == (1, [target])
        with engine.connect() as conn:  # the old value is gone from the index itself, not only rechecked away
            if conn.dialect.name == "sqlite":
                match = "select count(*) from devices_search where devices_search match 'model:E891AB'"
                hits = conn.execute(text(match))
                assert hits.scalar() == 0
        with engine.begin() as conn:
            conn.execute(delete(observations).where(observations.c.device_id == target))
            conn.execute(delete(devices).where(devices.c.id == target))
        assert _answers(engine, "qq-newm", indexed=True) == (0, [])
        assert _same_as_like(engine, QUERIES) >= 30


def test_backfill_of_rows_written_before_the_index(db_url: str, tmp_path: Path) -> None:
    with _estate(db_url, tmp_path) as store:
        migrate.downgrade(store.engine, "0011")
        store.engine.dispose()  # connections remember whether the index exists
        with store.engine.begin() as conn:
            now = dt.datetime.now(dt.UTC)
            conn.execute(insert(devices).values(model="PRE-INDEX-77", first_seen=now, last_seen=now))
            assert not search.has_index(conn)
        with store.engine.connect() as conn:  # plain LIKE meanwhile (a count: pages read 0013's columns)
            assert count(conn, DeviceQuery(text="index-77")) == 1
        migrate.upgrade(store.engine)
        store.engine.dispose()
        with store.engine.connect() as conn:
            assert search.has_index(conn)
        assert _answers(store.engine, "index-77", indexed=True)[0] == 1
        assert _same_as_like(store.engine, QUERIES) >= 35


def test_bulk_load_suspends_and_restores_the_index(db_url: str, tmp_path: Path) -> None:
    with _estate(db_url, tmp_path) as store, store.engine.begin() as conn:
        suspended = search.SuspendedSearch(conn)
        suspended.drop()
        # SQLite: triggers dropped; PostgreSQL: the GIN index kept, fed through its pending list
        assert suspended.dropped if conn.dialect.name == "sqlite" else suspended.pending
        now = dt.datetime.now(dt.UTC)
        rows = [{"model": f"BULK-{i:04d}", "first_seen": now, "last_seen": now} for i in range(50)]
        conn.execute(insert(devices), rows)
        suspended.restore()
        conn.info.pop("phaseout.search_index", None)
        assert count(conn, DeviceQuery(text="bulk-00")) == 50
        assert count(conn, DeviceQuery(text="bulk-00"), indexed=False) == 50


def test_the_index_is_used(db_url: str, tmp_path: Path) -> None:
    with _estate(db_url, tmp_path) as store, store.engine.connect() as conn:
        from phaseout.queries.devices import _select

        query = _select(DeviceQuery(text="2cd2143"), "id", False, conn)
        sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
        if conn.dialect.name == "sqlite":
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
            assert "devices_search VIRTUAL TABLE INDEX" in plan, plan
        else:
            # 7 rows: make the planner show its choice (a plain index scan in id order would
            # filter them all; at 1,000,000 rows bench/pg_scale.py shows the BitmapOr)
            conn.exec_driver_sql("SET enable_seqscan = off")
            conn.exec_driver_sql("SET enable_indexscan = off")
            plan = " ".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql))
            assert search.PG_DEVICES_INDEX in plan, plan


def test_migration_ddl_equals_the_runtime_copy() -> None:
    frozen = importlib.import_module("phaseout.store.migrations.versions.0012_search")
    assert frozen.COLUMNS == search.SEARCHED_COLUMNS
    assert frozen.SQLITE_CREATE == search.SQLITE_CREATE
    assert frozen.SQLITE_TRIGGER_DDL == search.SQLITE_TRIGGER_DDL
    assert frozen.SQLITE_REBUILD == search.SQLITE_REBUILD
    assert frozen.SEARCH_EXPR == search.SEARCH_EXPR
    assert frozen.SITES_LOWER_DDL == search.SITES_LOWER_DDL
    assert frozen.pg_index_ddl("x.ops")[1] == search.pg_index_ddl("x.ops")[1]
    # the devices index since 0013: the same text without ':-.'
    squeezed = importlib.import_module("phaseout.store.migrations.versions.0013_listing_keys")
    assert squeezed.SEARCH_EXPR == search.SEARCH_EXPR
    assert squeezed.PG_INDEX_EXPR == search.PG_INDEX_EXPR
    assert f"USING gin (({squeezed.PG_INDEX_EXPR}) x.ops)" in search.pg_index_ddl("x.ops")[0]


def test_mac_fragments_use_the_squeezed_index(pg_url: str, tmp_path: Path) -> None:
    """A MAC fragment asks the index for its squeezed form (one word: trigrams of its own) and
    answers as LIKE does, with the separators in the query or not."""
    with _estate(pg_url, tmp_path) as store, store.engine.connect() as conn:
        from phaseout.queries.devices import _select

        query = _select(DeviceQuery(text="28:57:be:00"), "id", False, conn)
        sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
        assert f"{search.PG_INDEX_EXPR} LIKE '%%2857be00%%'" in sql, sql
        frags = ["28:57:be:00", "28:57:BE:00:00:01", "be:00:00:0", "3c:ef:8c", "8c:aa:bb", "2857be", "10.20.3."]
        frags += ["-i1", ":-.", "a-1", "2.3,"]
        assert _same_as_like(store.engine, frags) >= 6
        assert _answers(store.engine, "2857be", indexed=True)[0] == 0  # squeezed only to find: not a match


@pytest.mark.parametrize("query", ["ab", "a", "%_"])
def test_short_texts_do_not_touch_the_index(sqlite_url: str, tmp_path: Path, query: str) -> None:
    with _estate(sqlite_url, tmp_path) as store, store.engine.connect() as conn:
        from phaseout.queries.devices import text_condition

        sql = str(text_condition(query, conn=conn).compile(conn))
        assert search.FTS_TABLE not in sql


def test_a_bulk_import_leaves_the_index_in_step(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An import large enough to suspend the indexes (here: any, by lowering the threshold)
    drops the triggers and rebuilds them (SQLite), or fills the GIN index's pending list and
    merges it into the index (PostgreSQL), before commit."""
    from phaseout.store import ids

    monkeypatch.setattr(ids, "BULK_ROWS", 3)
    with _estate(db_url, tmp_path) as store:
        with store.engine.connect() as conn:
            assert search.has_index(conn)
            if conn.dialect.name == "sqlite":  # the triggers are back
                names = conn.execute(text("select name from sqlite_master where type = 'trigger'")).scalars().all()
                assert set(search.SQLITE_TRIGGERS) <= set(names)
        assert _same_as_like(store.engine, QUERIES) >= 35
        assert _answers(store.engine, "2cd2143", indexed=True)[0] == 1
