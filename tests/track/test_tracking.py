"""Work orders from a plan, their status machine, the installer's return, verification against
emulated devices swapped mid-test, waivers, and the append-only audit trail (SQLite and
PostgreSQL)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from phaseout.app import Phaseout
from phaseout.app.assessment import run_assessment
from phaseout.app.planning import plan_stored_estate, save_plan
from phaseout.discover.scanner import ScanSettings, scan
from phaseout.emulate.devices import Emulator, plan_devices
from phaseout.errors import DataError, UsageError
from phaseout.plan.estate import PlanSettings
from phaseout.plan.solve import solve
from phaseout.policy.packs import available_packs
from phaseout.store import Store
from phaseout.store.audit import list_events
from phaseout.store.waivers import add_waiver, list_waivers
from phaseout.store.work import list_orders, show
from phaseout.track.workflow import check_transition
from tests.support import plan_to_done_order, reported_serial

TODAY = dt.date(2026, 11, 29)


@pytest.mark.parametrize(
    ("current", "wanted", "ok"),
    [
        ("planned", "scheduled", True),
        ("scheduled", "in-progress", True),
        ("in-progress", "done", True),
        ("done", "in-progress", True),
        ("planned", "done", False),  # no skipping
        ("planned", "in-progress", False),
        ("done", "verified", False),  # never by hand
        ("blocked", "scheduled", False),  # unblock first
        ("verified", "done", False),
    ],
)
def test_status_machine(current: str, wanted: str, ok: bool) -> None:
    if ok:
        check_transition(current, wanted)
    else:
        with pytest.raises(UsageError):
            check_transition(current, wanted)
    with pytest.raises(UsageError, match="needs a reason"):
        check_transition("planned", "blocked")
    check_transition("done", "verified", by_verification=True)


def _scan(profile: str, base: str, seed: int) -> list:  # type: ignore[type-arg]
    devices = plan_devices([profile], 1, base, seed=seed)

    async def run() -> list:  # type: ignore[type-arg]
        async with Emulator(devices):
            return await scan([d.ip for d in devices], ScanSettings(host_deadline=4.0, read_timeout=1.0, ports=(80,)))

    return asyncio.run(run())


def test_plan_to_verified_work_order_with_a_swap_mid_test(db_url: str, tmp_path: Path) -> None:
    ip = "127.47.0.1"
    old = plan_devices(["hikvision-ipc"], 1, ip, seed=7)[0]
    new = plan_devices(["axis-ipc"], 1, ip, seed=8)[0]
    (tmp_path / "sites.csv").write_text("Code,Region\nS1,North\n", encoding="utf-8")
    (tmp_path / "devices.csv").write_text(
        # model and serial as the emulated camera reports them (its profile copies real firmware)
        f"Site,Make,Model,IP,MAC,Serial,Type\nS1,Hikvision,{old.profile.model},{ip},{old.mac},"
        f"{old.fill(old.profile.onvif['serial'])},camera\n",
        encoding="utf-8",
    )
    with Store.open(db_url) as store:
        Phaseout(store).import_sites(tmp_path / "sites.csv")
        Phaseout(store).import_devices(tmp_path / "devices.csv")
        Phaseout(store, actor="tester").use_packs(["us-ndaa-889"])
        run_assessment(store.engine, [available_packs()["us-ndaa-889"]], TODAY)
        estate, _ = plan_stored_estate(store.engine, None, PlanSettings(start=dt.date(2027, 1, 1)), TODAY)
        save_plan(store.engine, "baseline", estate, solve(estate.problem), actor="tester")
        plan_id, made = Phaseout(store, actor="tester").generate_work()
        assert made == 1
        with pytest.raises(UsageError, match="already has work orders"):
            Phaseout(store, actor="tester").generate_work(plan_id)
        with store.engine.connect() as conn:
            order = list_orders(conn)[0]
        wo, device_id = order["id"], None
        with store.engine.connect() as conn:
            device_id = show(conn, wo)["devices"][0]["device_id"]
        with pytest.raises(UsageError, match="only by evidence"):
            Phaseout(store, actor="tester").set_work_status(wo, "verified")
        Phaseout(store, actor="tester").set_work_status(wo, "blocked", "store closed")
        Phaseout(store, actor="tester").unblock_work(wo)
        Phaseout(store, actor="tester").set_work_status(wo, "scheduled")
        Phaseout(store, actor="tester").set_work_status(wo, "in-progress")
        # a return with a wrong old serial changes nothing
        bad = tmp_path / "bad.csv"
        bad.write_text(
            f"work_order,device,old_serial,new_serial,new_mac,done_date\n{wo},{device_id},WRONG,{new.serial},{new.mac},{TODAY}\n",
            encoding="utf-8",
        )
        with pytest.raises(DataError, match="nothing was changed"):
            Phaseout(store, actor="installer").record_return(bad)
        good = tmp_path / "return.csv"
        good.write_text(
            f"work_order,device,old_serial,new_serial,new_mac,done_date\n{wo},{device_id},,{new.serial},{new.mac},{TODAY}\n",
            encoding="utf-8",
        )
        assert Phaseout(store, actor="installer").record_return(good).orders_done == [wo]
        pending = Phaseout(store, actor="tester").verify()
        assert not pending.verified and pending.pending  # no re-scan yet: never a silent pass
        # the installer swapped the Hikvision camera for an Axis one at the same address
        Phaseout(store).record_results(_scan("axis-ipc", ip, 8), targets=[f"{ip}/32"], site="S1")
        # (the scan's date is today, the return's done date too)
        done = Phaseout(store, actor="tester").verify()
        assert done.verified == [wo], (done.exceptions, done.pending)
        with store.engine.connect() as conn:
            assert show(conn, wo)["status"] == "verified"
            status = conn.execute(text("select status from devices where id = :i"), {"i": device_id}).scalar()
            assert status == "replaced"
            actions = [e["action"] for e in list_events(conn, entity="work-order", entity_id=str(wo))]
        assert actions[0] == "work-order.status" and "work-order.create" in actions
        # the old camera turns up again elsewhere (same MAC and serial): flagged
        Phaseout(store).record_results(_scan("hikvision-ipc", "127.47.0.2", 7), targets=["127.47.0.2/32"])
        back = Phaseout(store, actor="tester").verify()
        assert [b["device"] for b in back.came_back] == [device_id]


def test_a_relabelled_covered_replacement_is_an_exception(db_url: str, tmp_path: Path) -> None:
    ip = "127.48.0.1"
    old = plan_devices(["dahua-ipc"], 1, ip, seed=7)[0]
    new = plan_devices(["annke-ipc"], 1, ip, seed=9)[0]  # an Annke camera is a Hikvision
    (tmp_path / "devices.csv").write_text(
        f"Site,Make,Model,IP,MAC,Serial\nS2,Dahua,IPC-HDW2431T-AS-S2,{ip},{old.mac},{old.serial}\n", encoding="utf-8"
    )
    with Store.open(db_url) as store:
        Phaseout(store).import_devices(tmp_path / "devices.csv")
        Phaseout(store).use_packs(["us-ndaa-889"])
        run_assessment(store.engine, [available_packs()["us-ndaa-889"]], TODAY)
        estate, _ = plan_stored_estate(store.engine, None, PlanSettings(start=dt.date(2027, 1, 1)), TODAY)
        save_plan(store.engine, "b", estate, solve(estate.problem))
        Phaseout(store, actor="t").generate_work()
        with store.engine.connect() as conn:
            wo = list_orders(conn)[0]["id"]
            device_id = show(conn, wo)["devices"][0]["device_id"]
        for status in ("scheduled", "in-progress"):
            Phaseout(store, actor="t").set_work_status(wo, status)
        (tmp_path / "r.csv").write_text(
            f"work_order,device,old_serial,new_serial,new_mac,done_date\n{wo},{device_id},,"
            f"{reported_serial(new)},{new.mac},{TODAY}\n",
            encoding="utf-8",
        )
        Phaseout(store, actor="installer").record_return(tmp_path / "r.csv")
        Phaseout(store).record_results(_scan("annke-ipc", ip, 9), targets=[f"{ip}/32"], site="S2")
        result = Phaseout(store, actor="t").verify()
        assert not result.verified
        assert any("covered by a policy pack" in e["detail"] for e in result.exceptions), result


def test_waivers_and_the_audit_trail_cannot_be_edited(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("Site,Make,Model,IP\nS3,Hikvision,DS-2CD2143G2-I,127.49.0.1\n", encoding="utf-8")
    with Store.open(db_url) as store:
        Phaseout(store).import_devices(tmp_path / "d.csv")
        with store.engine.connect() as conn:
            device_id = conn.execute(text("select id from devices")).scalar()
        with pytest.raises(UsageError, match="not in the future"):
            add_waiver(store.engine, "t", device_id, "lease", "CISO", TODAY - dt.timedelta(days=1), "VLAN")
        waiver = add_waiver(store.engine, "t", device_id, "tenant lease", "CISO", dt.date(2099, 1, 1), "isolated VLAN")
        assert list_waivers(store.engine)[0]["state"] == "active"
        with store.engine.connect() as conn:
            trail = list_events(conn)
        assert {e["action"] for e in trail} >= {"import.devices", "waiver.add"}
        assert any(e["after"].get("waiver") == waiver for e in trail if e["action"] == "waiver.add")
        for statement in ("update events set actor = 'someone else'", "delete from events"):
            with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
                conn.execute(text(statement))
        with store.engine.connect() as conn:
            assert len(list_events(conn)) == len(trail)


def _done_order_with_new_device_elsewhere(store: Store, tmp_path: Path, ip: str, new_ip: str) -> tuple[int, int]:
    """A Hikvision camera seen by a scan on port 80, planned, swapped for an Axis camera at
    another address that answers: everything but the proof that the old one is gone."""
    old = plan_devices(["hikvision-ipc"], 1, ip, seed=7)[0]
    new = plan_devices(["axis-ipc"], 1, new_ip, seed=8)[0]
    (tmp_path / "sites.csv").write_text("Code,Region\nS9,North\n", encoding="utf-8")
    (tmp_path / "devices.csv").write_text(
        f"Site,Make,Model,IP,MAC,Type\nS9,Hikvision,DS-2CD2143G2-I,{ip},{old.mac},camera\n", encoding="utf-8"
    )
    app = Phaseout(store, actor="tester")
    app.import_sites(tmp_path / "sites.csv")
    app.import_devices(tmp_path / "devices.csv")
    app.record_results(_scan("hikvision-ipc", ip, 7), targets=[ip], ports=(80,), site="S9")
    # that scan ran days before the work's done date (TODAY), whatever the date the tests run on:
    # from the clock, it fell on the done date itself once the clock passed TODAY + 3 days
    earlier = dt.datetime.combine(TODAY - dt.timedelta(days=3), dt.time(12), tzinfo=dt.UTC)
    with store.engine.begin() as conn:
        conn.execute(text("update observations set observed_at = :t where kind <> 'inventory'"), {"t": earlier})
        conn.execute(text("update scans set started_at = :t, finished_at = :t"), {"t": earlier})
    app.use_packs(["us-ndaa-889"])
    wo, device_id = plan_to_done_order(app, tmp_path, TODAY, new.serial, new.mac)
    app.record_results(_scan("axis-ipc", new_ip, 8), targets=[new_ip], ports=(80,), site="S9")
    return wo, device_id


def test_an_interrupted_or_wrong_port_rescan_never_proves_removal(db_url: str, tmp_path: Path) -> None:
    """Issue 13: a Ctrl-C'd re-scan, or one of other ports, used to verify still-online cameras."""
    ip, new_ip = "127.51.0.1", "127.51.0.2"
    with Store.open(db_url) as store:
        wo, old_id = _done_order_with_new_device_elsewhere(store, tmp_path, ip, new_ip)
        app = Phaseout(store, actor="tester")
        # interrupted before it reached the old camera's address: proves nothing, deletes nothing
        app.record_results([], targets=[ip], ports=(80,), site="S9", interrupted=True)
        assert app.verify().verified == []
        # complete, but of port 9 only: the camera answered on 80, so its silence on 9 says nothing
        app.record_results([], targets=[ip], ports=(9,), site="S9", silent=[ip])
        result = app.verify()
        assert result.verified == [] and any("silent on ports 80" in p["detail"] for p in result.pending), result
        # the same address silent on port 80 in a complete scan: gone, and the verdict names the scan
        record = app.record_results([], targets=[ip], ports=(80,), site="S9", silent=[ip])
        result = app.verify()
        assert result.verified == [wo], result
        with store.engine.connect() as conn:
            line = show(conn, wo)["devices"][0]
            events = list_events(conn, entity="work-order", entity_id=str(wo))
        assert line["verification"] == "passed" and f"scan {record.scan_id}" in line["detail"]
        assert any(e["after"].get("scans") == [record.scan_id] for e in events if e["action"] == "work-order.status")
        # the old camera answers again: the order is re-opened with the line an exception
        app.record_results(_scan("hikvision-ipc", ip, 7), targets=[ip], ports=(80,), site="S9")
        back = app.verify()
        assert [b["device"] for b in back.came_back] == [old_id]
        with store.engine.connect() as conn:
            order = show(conn, wo)
        assert order["status"] == "done" and order["devices"][0]["verification"] == "exception"


def test_a_scan_from_another_vantage_proves_nothing(db_url: str, tmp_path: Path) -> None:
    ip, new_ip = "127.52.0.1", "127.52.0.2"
    with Store.open(db_url) as store:
        _done_order_with_new_device_elsewhere(store, tmp_path, ip, new_ip)
        app = Phaseout(store, actor="tester")
        app.record_results([], targets=[ip], ports=(80,), site="S9", vantage="guest", silent=[ip])
        assert app.verify().verified == []


def test_the_overview_follows_verification_without_clearing_a_cache(db_url: str, tmp_path: Path) -> None:
    """Issue 12: the dashboard's cached overview kept replaced devices active until cleared by
    hand; every writer now changes the store's generation, which keys the cache."""
    from phaseout.queries import dashboard

    ip, new_ip = "127.53.0.1", "127.53.0.2"
    with Store.open(db_url) as store:
        wo, _old = _done_order_with_new_device_elsewhere(store, tmp_path, ip, new_ip)
        with store.engine.connect() as conn:
            before = dashboard.overview(conn)["by_status"]
        app = Phaseout(store, actor="tester")
        app.record_results([], targets=[ip], ports=(80,), site="S9", silent=[ip])
        assert app.verify().verified == [wo]
        with store.engine.connect() as conn:
            after = dashboard.overview(conn)["by_status"]
        assert before != after and "replaced" in str(after), (before, after)
