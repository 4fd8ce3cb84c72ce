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

from phaseout.discover.scanner import ScanSettings, scan
from phaseout.emulate.devices import Emulator, plan_devices
from phaseout.errors import DataError, UsageError
from phaseout.plan.estate import PlanSettings
from phaseout.plan.solve import solve
from phaseout.policy.packs import available_packs
from phaseout.store import Store
from phaseout.store.assessment import run_assessment
from phaseout.store.audit import list_events
from phaseout.store.imports import import_devices, import_sites
from phaseout.store.planning import plan_stored_estate, save_plan
from phaseout.store.policies import set_packs_in_use
from phaseout.store.scans import record_scan
from phaseout.store.waivers import add_waiver, list_waivers
from phaseout.store.work import generate, list_orders, record_return, set_status, show, unblock, verify
from phaseout.track.workflow import check_transition

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
        import_sites(store, tmp_path / "sites.csv")
        import_devices(store, tmp_path / "devices.csv")
        set_packs_in_use(store.engine, ["us-ndaa-889"], actor="tester")
        run_assessment(store.engine, [available_packs()["us-ndaa-889"]], TODAY)
        estate, _ = plan_stored_estate(store.engine, None, PlanSettings(start=dt.date(2027, 1, 1)), TODAY)
        save_plan(store.engine, "baseline", estate, solve(estate.problem), actor="tester")
        plan_id, made = generate(store.engine, "tester")
        assert made == 1
        with pytest.raises(UsageError, match="already has work orders"):
            generate(store.engine, "tester", plan_id)
        with store.engine.connect() as conn:
            order = list_orders(conn)[0]
        wo, device_id = order["id"], None
        with store.engine.connect() as conn:
            device_id = show(conn, wo)["devices"][0]["device_id"]
        with pytest.raises(UsageError, match="only by evidence"):
            set_status(store.engine, "tester", wo, "verified")
        set_status(store.engine, "tester", wo, "blocked", "store closed")
        unblock(store.engine, "tester", wo)
        set_status(store.engine, "tester", wo, "scheduled")
        set_status(store.engine, "tester", wo, "in-progress")
        # a return with a wrong old serial changes nothing
        bad = tmp_path / "bad.csv"
        bad.write_text(
            f"work_order,device,old_serial,new_serial,new_mac,done_date\n{wo},{device_id},WRONG,{new.serial},{new.mac},{TODAY}\n",
            encoding="utf-8",
        )
        with pytest.raises(DataError, match="nothing was changed"):
            record_return(store.engine, "installer", bad)
        good = tmp_path / "return.csv"
        good.write_text(
            f"work_order,device,old_serial,new_serial,new_mac,done_date\n{wo},{device_id},,{new.serial},{new.mac},{TODAY}\n",
            encoding="utf-8",
        )
        assert record_return(store.engine, "installer", good).orders_done == [wo]
        covered = {"hikvision", "dahua"}
        pending = verify(store.engine, "tester", covered)
        assert not pending.verified and pending.pending  # no re-scan yet: never a silent pass
        # the installer swapped the Hikvision camera for an Axis one at the same address
        record_scan(store.engine, _scan("axis-ipc", ip, 8), targets=[f"{ip}/32"], probed=1, site="S1")
        # (the scan's date is today, the return's done date too)
        done = verify(store.engine, "tester", covered)
        assert done.verified == [wo], (done.exceptions, done.pending)
        with store.engine.connect() as conn:
            assert show(conn, wo)["status"] == "verified"
            status = conn.execute(text("select status from devices where id = :i"), {"i": device_id}).scalar()
            assert status == "replaced"
            actions = [e["action"] for e in list_events(conn, entity="work-order", entity_id=str(wo))]
        assert actions[0] == "work-order.status" and "work-order.create" in actions
        # the old camera turns up again elsewhere (same MAC and serial): flagged
        record_scan(store.engine, _scan("hikvision-ipc", "127.47.0.2", 7), targets=["127.47.0.2/32"], probed=1)
        back = verify(store.engine, "tester", covered)
        assert [b["device"] for b in back.came_back] == [device_id]


def test_a_relabelled_covered_replacement_is_an_exception(db_url: str, tmp_path: Path) -> None:
    ip = "127.48.0.1"
    old = plan_devices(["dahua-ipc"], 1, ip, seed=7)[0]
    new = plan_devices(["annke-ipc"], 1, ip, seed=9)[0]  # an Annke camera is a Hikvision
    (tmp_path / "devices.csv").write_text(
        f"Site,Make,Model,IP,MAC,Serial\nS2,Dahua,IPC-HDW2431T-AS-S2,{ip},{old.mac},{old.serial}\n", encoding="utf-8"
    )
    with Store.open(db_url) as store:
        import_devices(store, tmp_path / "devices.csv")
        set_packs_in_use(store.engine, ["us-ndaa-889"])
        run_assessment(store.engine, [available_packs()["us-ndaa-889"]], TODAY)
        estate, _ = plan_stored_estate(store.engine, None, PlanSettings(start=dt.date(2027, 1, 1)), TODAY)
        save_plan(store.engine, "b", estate, solve(estate.problem))
        generate(store.engine, "t")
        with store.engine.connect() as conn:
            wo = list_orders(conn)[0]["id"]
            device_id = show(conn, wo)["devices"][0]["device_id"]
        for status in ("scheduled", "in-progress"):
            set_status(store.engine, "t", wo, status)
        (tmp_path / "r.csv").write_text(
            f"work_order,device,old_serial,new_serial,new_mac,done_date\n{wo},{device_id},,{new.serial},{new.mac},{TODAY}\n",
            encoding="utf-8",
        )
        record_return(store.engine, "installer", tmp_path / "r.csv")
        record_scan(store.engine, _scan("annke-ipc", ip, 9), targets=[f"{ip}/32"], probed=1, site="S2")
        result = verify(store.engine, "t", {"hikvision", "dahua"})
        assert not result.verified
        assert any("covered by a policy pack" in e["detail"] for e in result.exceptions), result


def test_waivers_and_the_audit_trail_cannot_be_edited(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("Site,Make,Model,IP\nS3,Hikvision,DS-2CD2143G2-I,127.49.0.1\n", encoding="utf-8")
    with Store.open(db_url) as store:
        import_devices(store, tmp_path / "d.csv")
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
