"""Each device's copy of its assessment's risk and policy status (``devices.risk``,
``devices.policy_status``, migration 0013) stays exactly the stored assessment's through
assessments, re-assessments, imports, scans and retirements (a device no longer assessed); the listing sorted by
risk or filtered by policy status answers as the join to ``assessments`` did; its queries can be
served by the new (key, id) indexes without a sort; and the migration fills the copy from the
assessments already stored."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, or_, select, text, update

from phaseout.app import Phaseout
from phaseout.app.assessment import run_assessment
from phaseout.discover.scanner import HostResult
from phaseout.policy.packs import available_packs
from phaseout.queries.devices import DeviceQuery, iter_devices, page, page_ids, plain
from phaseout.store import Store, device_risk, migrate
from phaseout.store.schema import assessments, devices
from tests.store.test_search import _estate

TODAY = dt.date(2026, 12, 1)
HIK_PAGE = (
    "HTTP/1.1 200 OK\r\nServer: App-webs/\r\nContent-Type: text/html\r\n\r\n"
    "<html><head><title>Web</title></head><body></body></html>"
)


def _out_of_step(engine: Engine) -> list[tuple[Any, ...]]:
    """Devices whose copy differs from their assessment, or that carry values without one."""
    joined = devices.outerjoin(assessments, assessments.c.device_id == devices.c.id)
    query = (
        select(devices.c.id, devices.c.risk, assessments.c.risk, devices.c.policy_status, assessments.c.policy_status)
        .select_from(joined)
        .where(
            or_(
                devices.c.risk.is_distinct_from(assessments.c.risk),
                devices.c.policy_status.is_distinct_from(assessments.c.policy_status),
            )
        )
    )
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(query)]


def _assess(store: Store, *packs: str) -> None:
    available = available_packs()
    run_assessment(store.engine, [available[p] for p in packs], TODAY)


def _risky(engine: Engine) -> int:
    with engine.connect() as conn:
        return len(conn.execute(select(devices.c.id).where(devices.c.risk > 0)).all())


def test_copy_follows_every_write(db_url: str, tmp_path: Path) -> None:
    with _estate(db_url, tmp_path) as store:
        assert _risky(store.engine) == 0 and not _out_of_step(store.engine)  # imported, never assessed
        _assess(store, "org-template")
        assert _risky(store.engine) >= 3 and not _out_of_step(store.engine)
        with store.engine.connect() as conn:
            statuses = {r[0] for r in conn.execute(select(devices.c.policy_status))}
        assert statuses - {None}, statuses  # policy statuses copied too

        # another pack: risks and statuses change, the copy follows; the same run again changes nothing
        _assess(store, "org-template", "uk-cabinet-office-2022")
        assert not _out_of_step(store.engine)
        with store.engine.begin() as conn:
            assert device_risk.sync(conn) == 0

        # an import: a new device (no assessment: NULL) and a changed one (keeps its copy)
        more = tmp_path / "more.csv"
        more.write_text(
            "Site,Make,Model,IP,MAC\nS-NEW,Hikvision,DS-2CD2043G0-I,10.99.0.1,\n"
            "S-ALPHA,Hikvision,DS-2CD2143G2-I,10.1.2.30,28:57:BE:00:00:01\n",
            encoding="utf-8",
        )
        Phaseout(store).import_devices(more)
        assert not _out_of_step(store.engine)
        with store.engine.connect() as conn:
            new = conn.execute(select(devices.c.risk, devices.c.policy_status).where(devices.c.ip == "10.99.0.1")).one()
        assert tuple(new) == (None, None)

        # a scan: a device found on the network (new) and one matched to an imported device
        hosts = [
            HostResult("127.40.0.1", ports=[80], observations=[{"kind": "http", "port": 80, "raw": HIK_PAGE}]),
            HostResult("10.1.2.4", ports=[80], observations=[{"kind": "http", "port": 80, "raw": HIK_PAGE}]),
        ]
        Phaseout(store).record_results(hosts, targets=["127.40.0.1", "10.1.2.4"], site="S-ALPHA")
        assert not _out_of_step(store.engine)
        _assess(store, "org-template")
        assert not _out_of_step(store.engine)

        # a retired device is no longer assessed: its copy is cleared with its assessment
        with store.engine.begin() as conn:
            retired = conn.execute(select(devices.c.id).where(devices.c.risk > 0).limit(1)).scalar_one()
            conn.execute(update(devices).where(devices.c.id == retired).values(status="retired"))
        _assess(store, "org-template")
        assert not _out_of_step(store.engine)
        with store.engine.connect() as conn:
            gone = conn.execute(select(devices.c.risk, devices.c.policy_status).where(devices.c.id == retired)).one()
        assert tuple(gone) == (None, None)


def _reference(engine: Engine, q: DeviceQuery, descending: bool) -> list[int]:
    """The order by the assessment's own risk, read through the join: (risk, id), or its reverse."""
    joined = devices.outerjoin(assessments, assessments.c.device_id == devices.c.id)
    query = select(devices.c.id, assessments.c.risk, assessments.c.policy_status).select_from(joined)
    with engine.connect() as conn:
        rows = [r for r in conn.execute(query) if q.policy_status in (None, r.policy_status)]
    if q.vendor:
        with engine.connect() as conn:
            keep = {i for (i,) in conn.execute(select(devices.c.id).where(devices.c.vendor == q.vendor))}
        rows = [r for r in rows if r.id in keep]
    nulls_last = engine.dialect.name == "postgresql"  # NULL sorts as the largest on PostgreSQL
    none = float("inf") if nulls_last else float("-inf")
    ordered = sorted(rows, key=lambda r: (none if r.risk is None else r.risk, r.id), reverse=descending)
    return [r.id for r in ordered]


def test_listing_by_risk_answers_as_the_join_did(db_url: str, tmp_path: Path) -> None:
    with _estate(db_url, tmp_path) as store:
        more = tmp_path / "more.csv"
        more.write_text("Site,Make,Model,IP\nS-NEW,Dahua,IPC-HFW1230S,10.99.0.2\n", encoding="utf-8")
        _assess(store, "org-template", "uk-cabinet-office-2022")
        Phaseout(store).import_devices(more)  # one device without an assessment: NULL risk
        with store.engine.connect() as conn:
            statuses = sorted({s for (s,) in conn.execute(select(assessments.c.policy_status)) if s})
        queries = [DeviceQuery(), DeviceQuery(vendor="hikvision"), DeviceQuery(vendor="dahua")]
        queries += [DeviceQuery(policy_status=s) for s in statuses]
        assert len(queries) > 3
        for q in queries:
            for descending in (False, True):
                want = _reference(store.engine, q, descending)
                got = [r["id"] for r in iter_devices(store.engine, q, sort="risk", descending=descending)]
                assert got == want, (q, descending)
                with store.engine.connect() as conn:
                    for offset in range(len(want)):
                        one = page(conn, q, sort="risk", descending=descending, size=2, offset=offset, total=len(want))
                        assert [r["id"] for r in one] == want[offset : offset + 2], (q, descending, offset)


def test_descending_is_the_exact_reverse_of_ascending(db_url: str, tmp_path: Path) -> None:
    with _estate(db_url, tmp_path) as store:
        _assess(store, "org-template")
        for sort in ("risk", "model", "vendor", "status"):
            up = [plain(r) for r in iter_devices(store.engine, sort=sort)]
            down = [plain(r) for r in iter_devices(store.engine, sort=sort, descending=True)]
            assert down == up[::-1], sort


def _plan(conn: Connection, query: Any) -> str:
    sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
    if conn.dialect.name == "sqlite":
        return "\n".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a few rows: make the index's order count
    conn.exec_driver_sql("SET LOCAL enable_sort = off")
    return "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql))


def test_listing_pages_walk_the_key_indexes(db_url: str, tmp_path: Path) -> None:
    """The page's ids in (key, id) order, either direction, straight from an index: no sort."""
    cases = [
        (DeviceQuery(vendor="dahua"), "risk", "ix_devices_vendor_risk_id"),
        (DeviceQuery(policy_status="breach"), "risk", "ix_devices_policy_status_risk_id"),
        (DeviceQuery(), "risk", "ix_devices_risk_id"),
        (DeviceQuery(), "model", "ix_devices_model_id"),
    ]
    with _estate(db_url, tmp_path) as store:
        _assess(store, "org-template")
        for q, sort, index in cases:
            for descending in (False, True):
                ids = page_ids(q, sort, descending, None, True, (50, 100))
                with store.engine.begin() as conn:
                    plan = _plan(conn, ids)
                assert index in plan, (q, sort, descending, plan)
                assert "Sort" not in plan and "TEMP B-TREE" not in plan, (q, sort, descending, plan)


def test_migration_fills_the_copy_from_stored_assessments(db_url: str, tmp_path: Path) -> None:
    with _estate(db_url, tmp_path) as store:
        _assess(store, "org-template")
        with store.engine.connect() as conn:
            want = dict(conn.execute(select(assessments.c.device_id, assessments.c.risk)).all())
        migrate.downgrade(store.engine, "0012")
        migrate.upgrade(store.engine)
        assert not _out_of_step(store.engine)
        with store.engine.connect() as conn:
            got = dict(conn.execute(select(devices.c.id, devices.c.risk).where(devices.c.risk.is_not(None))).all())
            if conn.dialect.name == "sqlite":  # plain ADD COLUMN: the search triggers survive
                triggers = "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'devices_search%'"
                assert conn.execute(text(triggers)).scalar() == 3
        assert got == want and len(want) >= 6
        # and the search index still follows writes after the round trip
        with store.engine.begin() as conn:
            conn.execute(insert(devices).values(model="ZZ-MIGRATED-1", first_seen=TODAY, last_seen=TODAY))
        with store.engine.connect() as conn:
            assert [r["model"] for r in page(conn, DeviceQuery(text="zz-migrated"))] == ["ZZ-MIGRATED-1"]


def test_a_large_change_rebuilds_the_indexes_once(db_url: str, tmp_path: Path, monkeypatch: Any) -> None:
    """Past ``BULK_ROWS`` changed rows PostgreSQL's indexes are dropped for the update and built
    again: the copy is in step, every index is back, the search still answers."""
    monkeypatch.setattr(device_risk, "BULK_ROWS", 2)
    with _estate(db_url, tmp_path) as store:
        with store.engine.connect() as conn:
            before = _index_names(conn)
        _assess(store, "org-template", "uk-cabinet-office-2022")
        assert not _out_of_step(store.engine)
        with store.engine.connect() as conn:
            assert _index_names(conn) == before
            assert any(n.startswith("ix_devices_vendor_risk_id:") for n in before)
            if conn.dialect.name == "postgresql":
                assert any(n.startswith("ix_devices_search_trgm:") for n in before)
            assert [r["model"] for r in page(conn, DeviceQuery(text="2cd2143"))] == ["DS-2CD2143G2-I"]


def _index_names(conn: Connection) -> set[str]:
    """Each index of ``devices`` with its definition (the trigram index, dropped and built again
    by a large change, must come back exactly as the migration made it)."""
    if conn.dialect.name == "sqlite":
        sql = (
            "SELECT name || ': ' || coalesce(sql, '') FROM sqlite_master WHERE type = 'index' AND tbl_name = 'devices'"
        )
    else:
        sql = (
            "SELECT indexname || ': ' || indexdef FROM pg_indexes "
            "WHERE tablename = 'devices' AND schemaname = current_schema()"
        )
    return {r[0] for r in conn.exec_driver_sql(sql)}
