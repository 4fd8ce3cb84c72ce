"""A scan merge matches its hosts against the devices ``store.match_candidates`` reads (those that
share a MAC, a serial tail or an address) instead of every stored device.  The matches must be
exactly the ones the whole index gives, on both databases, for the awkward serials too (spaces,
lower case, non-ASCII, short ones, the short and long forms of a Hikvision serial), addresses
that several sites or several devices hold, and retired devices; and the indexes it reads through
must exist after migrations and after a bulk import that suspended them."""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any

import pytest
from sqlalchemy import insert, text

from phaseout.domain import MatchKeys
from phaseout.estate.match import MIN_SERIAL_TAIL, index_rows, serial_key
from phaseout.store import Store
from phaseout.store import match_candidates as mc
from phaseout.store.identification import match_keys_rows
from phaseout.store.schema import devices, sites

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)

#: (site, ip, mac, serial, status)
STORED: list[tuple[int | None, str | None, str | None, str | None, str]] = [
    (1, "127.0.0.1", "001122334455", "DS-2CD2043G0-I20200101AAWRJ12345678", "active"),
    (2, "127.0.0.1", None, "J87654321", "active"),  # same address in another site
    (None, "127.0.0.9", None, "ds-2cd2386g2-iu20210101aawrk11112222", "active"),  # lower case
    (1, "127.0.0.2", None, "AB 12 34 56 78", "active"),  # spaces: the rule removes them
    (1, "127.0.0.3", None, "sérial-9988776655", "active"),  # non-ASCII
    (1, "127.0.0.4", None, "SHORT7", "active"),  # shorter than the tail
    (None, "127.0.0.5", None, None, "active"),
    (None, "127.0.0.5", None, None, "retired"),  # a second holder: the bare address is ambiguous
    (1, "127.0.0.6", "AABBCCDDEEFF", None, "retired"),
    (2, "127.0.0.7", None, "\uff26\uff35\uff2c\uff2cwidth12345678", "active"),  # full-width letters (FULL)
    (1, "127.0.0.8", None, "tab\tserial00001111", "active"),
    (3, "127.9.9.9", "0099887766AA", "UNRELATED80808080", "active"),
]

#: Hosts as a scan keys them: (mac, serial, ip)
HOSTS: list[tuple[str | None, str | None, str | None]] = [
    ("001122334455", None, "127.0.0.99"),  # MAC
    (None, "J12345678", "127.0.0.98"),  # short form of a long serial
    (None, "DS-2CD2386G2-IU20210101AAWRK11112222", None),  # upper-cased long serial
    (None, "AB12345678", None),  # the spaced serial, written without spaces
    (None, "SÉRIAL-9988776655", None),
    (None, "SHORT7", None),
    (None, None, "127.0.0.5"),  # ambiguous bare address
    (None, None, "127.0.0.1"),  # two sites hold it
    ("AABBCCDDEEFF", None, None),  # a retired device's MAC
    (None, "\uff26\uff35\uff2c\uff2cWIDTH12345678", None),
    (None, "TABSERIAL00001111", None),
    (None, "ZZZZ12345678", "127.0.0.4"),  # a contradicting serial at a known address
    ("FFEEDDCCBBAA", "NOPE00000000", "127.200.0.1"),  # nothing
]


def _store(url: str) -> Store:
    store = Store.open(url)
    with store.engine.begin() as conn:
        conn.execute(
            insert(sites),
            [{"id": i, "code": f"S{i}", "name": f"Site {i}", "created_at": NOW, "updated_at": NOW} for i in (1, 2, 3)],
        )
        conn.execute(
            insert(devices),
            [
                {
                    "id": n + 1,
                    "site_id": site,
                    "ip": ip,
                    "mac": mac,
                    "serial": serial,
                    "status": status,
                    "first_seen": NOW,
                    "last_seen": NOW,
                }
                for n, (site, ip, mac, serial, status) in enumerate(STORED)
            ],
        )
    return store


def _matches(rows: Any, keys: list[MatchKeys], bare_ip: bool) -> list[Any]:
    index = index_rows(rows)
    out = []
    for n, k in enumerate(keys):  # as the scan does: each host joins the index once matched
        found = index.find(k, bare_ip=bare_ip)
        out.append(found)
        index.add(found.device_id if found else -(n + 1), k)
    return out


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize("site_id", [None, 1, 2])
@pytest.mark.parametrize("per_key", [0, mc.WHOLE_PER_KEY])  # looked up by key; a small estate read whole
def test_candidates_match_as_the_whole_index_does(
    db_url: str, site_id: int | None, per_key: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mc, "WHOLE_PER_KEY", per_key)
    with _store(db_url) as store, store.engine.connect() as conn:
        keys = [MatchKeys(mac=m, serial=serial_key(s), site_id=site_id, ip=ip) for m, s, ip in HOSTS]
        whole = _matches(list(match_keys_rows(conn)), keys, site_id is None)
        near = _matches(mc.candidate_rows(conn, keys), keys, site_id is None)
        assert near == whole
        assert sum(1 for m in whole if m is not None) >= 8  # the table exercises real matches
        # looked up by key, it read fewer devices than the whole table: the unrelated one stayed out
        assert (12 in {row[0] for row in mc.candidate_rows(conn, keys)}) == (per_key > 0)


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_no_keys_read_nothing(db_url: str) -> None:
    with _store(db_url) as store, store.engine.connect() as conn:
        assert mc.candidate_rows(conn, []) == []
        assert mc.candidate_rows(conn, [MatchKeys()]) == []


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_the_reads_go_through_the_indexes(db_url: str) -> None:
    """With sequential scans priced out, each read's plan names its index: the expressions in
    the query are the indexes' own (a typo would fall back to reading the whole table)."""
    with _store(db_url) as store, store.engine.connect() as conn:
        dialect = conn.dialect.name
        tail, irregular = mc.SERIAL_TAIL[dialect], mc.IRREGULAR[dialect]
        queries = {
            mc.TAIL_INDEX: f"SELECT id FROM devices WHERE {tail} IN ('12345678', 'ABCDEFGH')",
            mc.IRREGULAR_INDEX: f"SELECT id FROM devices WHERE {irregular}",
            "ix_devices_ip": "SELECT id FROM devices WHERE ip IN ('127.0.0.1', '127.0.0.5')",
        }
        if dialect == "postgresql":
            conn.execute(text("SET enable_seqscan = off"))
            for name, query in queries.items():
                plan = "\n".join(r[0] for r in conn.execute(text(f"EXPLAIN {query}")))
                assert name in plan, plan
        else:
            for name, query in queries.items():
                plan = "\n".join(str(r[-1]) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {query}")))
                assert name in plan, plan


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_a_bulk_import_puts_the_serial_indexes_back(db_url: str, tmp_path: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(mc, "WHOLE_PER_KEY", 0)
    from phaseout.app import Phaseout
    from phaseout.store import ids

    monkeypatch.setattr(ids, "BULK_ROWS", 10)  # a small file takes the bulk path
    rows = "\n".join(f"S{n % 3},Hikvision,DS-2CD2043G0-I,SER{n:09d},127.1.{n // 250}.{n % 250}" for n in range(40))
    register = tmp_path / "register.csv"
    register.write_text("Site,Make,Model,Serial,IP\n" + rows + "\n", encoding="utf-8")
    with Store.open(db_url) as store:
        Phaseout(store).import_devices(register)
        with store.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                found = conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'devices'"))
            else:
                found = conn.execute(text("SELECT name FROM sqlite_master WHERE tbl_name = 'devices'"))
            names = {r[0] for r in found}
            assert {mc.TAIL_INDEX, mc.IRREGULAR_INDEX, "ix_devices_ip"} <= names
            keys = [MatchKeys(serial="SER000000007")]
            assert [r[2] for r in mc.candidate_rows(conn, keys)] == ["SER000000007"]


def test_the_migration_freezes_the_same_ddl() -> None:
    frozen = importlib.import_module("phaseout.store.migrations.versions.0014_match_candidates")
    assert frozen.TAIL_INDEX == mc.TAIL_INDEX and frozen.IRREGULAR_INDEX == mc.IRREGULAR_INDEX
    for dialect in ("postgresql", "sqlite"):
        assert frozen.DDL[dialect] == mc.index_ddl(dialect)


def test_the_tail_is_the_rules() -> None:
    assert mc.MIN_SERIAL_TAIL == MIN_SERIAL_TAIL


# ------------------------------------------------------------------ review (adv4): counter-examples


@pytest.fixture
def turkish_pg_url() -> Any:
    """A PostgreSQL database whose default collation is ICU Turkish (PostgreSQL 15+), where
    ``upper('i')`` is the dotted capital ``İ`` while the matching rule (Python) says ``I``."""
    import uuid

    from sqlalchemy import create_engine

    from tests.conftest import PG_URL, pg_unavailable

    if pg_unavailable():
        pytest.skip("no PostgreSQL")
    name = f"t_tr_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            try:
                conn.execute(
                    text(
                        f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' "
                        "LOCALE_PROVIDER icu ICU_LOCALE 'tr-TR' LOCALE 'C.UTF-8'"
                    )
                )
            except Exception as exc:  # PostgreSQL before 15, or built without ICU
                pytest.skip(f"no ICU database locale: {exc.__class__.__name__}")
        url = PG_URL.rsplit("/", 1)[0] + "/" + name
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def test_a_turkish_database_finds_a_lower_case_serial(turkish_pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tail index holds the database's ``upper()``: in a Turkish-locale database a stored
    ``...i`` is indexed as ``...İ``, so the host's ``...I`` (Python's upper) must still find it."""
    monkeypatch.setattr(mc, "WHOLE_PER_KEY", 0)
    with _store(turkish_pg_url) as store, store.engine.connect() as conn:
        conn.execute(
            insert(devices),
            [{"id": 100, "serial": "ds-2cd2143g0-i20190101aawrdiii12ii7", "first_seen": NOW, "last_seen": NOW}],
        )
        keys = [MatchKeys(serial=serial_key("DS-2CD2143G0-I20190101AAWRDIII12II7"), ip="127.77.0.1")]
        whole = _matches(list(match_keys_rows(conn)), keys, True)
        assert whole[0] is not None and whole[0].device_id == 100
        assert _matches(mc.candidate_rows(conn, keys), keys, True) == whole


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_a_nul_padded_serial_is_matched_after_the_device_moved(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Dahua answer may pad its serial with NUL characters (DHDiscover JSON ``\\u0000``).  Kept
    in the serial, SQLite's ``substr()`` and ``GLOB`` stop at the first NUL, so the tail index
    missed the device the rule matches (a duplicate once it changed address), and PostgreSQL
    refused the whole merge (text cannot hold NUL)."""
    import json

    from phaseout.app import Phaseout
    from phaseout.discover.scanner import HostResult

    monkeypatch.setattr(mc, "WHOLE_PER_KEY", 0)

    def dahua(ip: str) -> HostResult:
        info = {"SerialNo": "4M05A1APAZ4B3E1\u0000\u0000", "DeviceType": "IPC-HFW2431S", "Vendor": "Dahua"}
        raw = json.dumps({"params": {"deviceInfo": info}})
        return HostResult(ip, ports=[37810], observations=[{"kind": "dhdiscover", "raw": raw}])

    with Store.open(db_url) as store:
        app = Phaseout(store)
        first = app.record_results([dahua("127.47.0.1")], targets=["127.47.0.1"], ports=(37810,))
        moved = app.record_results([dahua("127.47.0.2")], targets=["127.47.0.2"], ports=(37810,))
        assert (first.created, moved.created, moved.updated) == (1, 0, 1)
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT serial FROM devices")).scalars().all() == ["4M05A1APAZ4B3E1"]


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_a_scan_that_names_a_site_reads_only_that_sites_holders_of_its_addresses(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Estates reuse one address plan in every store: at 3,000 stores, each address of a store's
    upload is held in 3,000 sites, and reading every holder read the whole estate through the
    address index (slower than reading it whole: 0.53-0.59 s against 0.35-0.45 s at 150,000
    devices on SQLite).  A scan that names its site matches an address only within that site
    (``DeviceKeys.find`` with ``bare_ip=False``, as ``record_scan`` calls it), so only that site's
    holders are read; a scan that names none still reads every holder (ambiguity)."""
    monkeypatch.setattr(mc, "WHOLE_PER_KEY", 0)
    with _store(db_url) as store, store.engine.connect() as conn:
        for site_id, expected in ((1, {1}), (2, {2}), (None, {1, 2})):
            keys = [MatchKeys(site_id=site_id, ip="127.0.0.1")]
            assert {row[0] for row in mc.candidate_rows(conn, keys)} == expected
            whole = _matches(list(match_keys_rows(conn)), keys, site_id is None)
            assert _matches(mc.candidate_rows(conn, keys), keys, site_id is None) == whole


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_lookups_stay_on_the_indexes_when_the_planner_expects_many_holders(db_url: str) -> None:
    """Where addresses repeat across sites the planner expects many rows per address and chose
    to read the whole table for a few thousand addresses (320 ms of a 1.4 s merge at 1,750,000
    devices).  The lookups run with sequential scans off, and the setting is put back for the
    rest of the transaction."""
    with _store(db_url) as store, store.engine.begin() as conn:
        conn.execute(
            insert(devices),
            [
                {"id": 100 + n, "site_id": None, "ip": f"127.0.1.{n % 10}", "first_seen": NOW, "last_seen": NOW}
                for n in range(3000)
            ],
        )
        conn.execute(text("ANALYZE devices"))
        wanted = [f"127.0.1.{n}" for n in range(10)] + [f"127.0.2.{n}" for n in range(190)]
        query = text("EXPLAIN SELECT id FROM devices WHERE ip = ANY(:ips)").bindparams(ips=wanted)

        def plan() -> str:
            return "\n".join(r[0] for r in conn.execute(query))

        assert "Seq Scan" in plan()  # the case: left to itself, the planner reads every device
        before = mc.index_only(conn)
        assert before == "on" and "Seq Scan" not in plan() and "ix_devices_ip" in plan()
        mc.restore_plans(conn, before)
        assert conn.execute(text("SHOW enable_seqscan")).scalar() == "on"
        conn.execute(text("SET LOCAL enable_seqscan = off"))  # an administrator's choice is kept
        mc.candidate_rows(conn, [MatchKeys(ip=ip) for ip in wanted])
        assert conn.execute(text("SHOW enable_seqscan")).scalar() == "off"


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_the_merges_lookups_run_without_sequential_scans_and_give_the_setting_back(db_url: str) -> None:
    """What the scan merge itself does (the test above drives ``index_only`` by hand, and its
    last check passes as well when the lookups never change the setting): ``candidate_rows`` and
    ``forgotten_pairs`` look up with sequential scans off, and the rest of the merge's
    transaction plans with the setting as it was."""
    from sqlalchemy import event

    from phaseout.domain import ScannedHost
    from phaseout.store.scans import forgotten_pairs

    with _store(db_url) as store, store.engine.begin() as conn:
        conn.execute(
            insert(devices),
            [
                {"id": 100 + n, "site_id": None, "ip": f"127.0.3.{n}", "first_seen": NOW, "last_seen": NOW}
                for n in range(200)
            ],
        )
        during: list[str] = []

        def note(conn_: Any, cursor: Any, statement: str, *args: Any) -> None:
            if "FROM devices" in statement and "current_setting" not in statement:
                cursor.execute("SELECT current_setting('enable_seqscan')")
                during.append(cursor.fetchone()[0])

        event.listen(store.engine, "before_cursor_execute", note)
        try:
            mc.candidate_rows(conn, [MatchKeys(ip="127.0.3.1", mac="001122334455")])
            assert conn.execute(text("SHOW enable_seqscan")).scalar() == "on"
            assert forgotten_pairs(conn, [ScannedHost(ip="127.0.3.2", state="silent")], None) == [("127.0.3.2", 102)]
            assert conn.execute(text("SHOW enable_seqscan")).scalar() == "on"
        finally:
            event.remove(store.engine, "before_cursor_execute", note)
        assert during and set(during[1:]) == {"off"}, during  # (the first: max(id), before the lookups)
