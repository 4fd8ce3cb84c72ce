"""Verification counted per recorder channel, end to end on loopback: an emulated Hikvision NVR
serves its channel lists, the scan reads them with the credentials given, a work order swaps two
of its cameras, and re-scans after the installer's work decide the verdict (SQLite and
PostgreSQL).  The old cameras still on their channels are not removed; a channel left dark is an
exception; returned as decommissioned, the same channel passes."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from sqlalchemy import select, text

from phaseout.app import Phaseout
from phaseout.discover.digest import Credentials
from phaseout.discover.scanner import HostResult, ScanSettings, scan
from phaseout.emulate.devices import Device, Emulator, plan_devices
from phaseout.store import Store
from phaseout.store.schema import devices
from phaseout.store.work import list_orders, show
from tests.support import needs_ports, store_visit_plan

IP = "127.38.0.1"
SETTINGS = ScanSettings(
    host_deadline=6.0, read_timeout=2.0, ports=(80,), credentials=Credentials("admin", "emulated-only")
)


def _scan(nvr: Device) -> list[HostResult]:
    async def run() -> list[HostResult]:
        async with Emulator([nvr]):
            return await scan([nvr.ip], SETTINGS)

    return asyncio.run(run())


def _channel_ids(store: Store, recorder: int) -> dict[str, tuple[int, str | None]]:
    """channel -> (device id, state) for the devices its recorder lists now (not missing)."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(devices.c.channel, devices.c.id, devices.c.channel_state).where(devices.c.parent_id == recorder)
        ).all()
    return {r.channel: (r.id, r.channel_state) for r in rows if r.channel_state != "missing"}


def _order_for(store: Store, site: str, device_ids: list[int]) -> int:
    """A stored plan with one visit swapping these devices, made into its work order by the
    product's own generator (the planner's choices are tested elsewhere)."""
    now = dt.datetime.now(dt.UTC)
    swaps = [{"device": d, "type": "camera", "old": "hikvision", "ip": None, "sku": "AXIS-P3265"} for d in device_ids]
    with store.engine.begin() as conn:
        plan_id = store_visit_plan(conn, "channels", now, {site: swaps})
    app = Phaseout(store, actor="tester")
    app.generate_work(plan_id)
    with store.engine.connect() as conn:
        wo = int(list_orders(conn, site=site)[0]["id"])
    for status in ("scheduled", "in-progress"):
        app.set_work_status(wo, status)
    return wo


@needs_ports
def test_a_swap_that_leaves_a_channel_dark_is_an_exception(db_url: str, tmp_path: Path) -> None:
    nvr = plan_devices(["hikvision-nvr"], 1, IP, seed=5)[0]
    today = dt.date.today()
    with Store.open(db_url) as store:
        app = Phaseout(store, actor="tester")
        app.use_packs(["us-ndaa-889"])
        app.record_results(_scan(nvr), targets=[IP], ports=(80,), site="S7")
        with store.engine.connect() as conn:
            recorder = conn.execute(select(devices.c.id).where(devices.c.ip == IP)).scalar_one()
        before = _channel_ids(store, recorder)
        assert set(before) == {f"D{i}" for i in range(1, 9)}
        earlier = dt.datetime.now(dt.UTC) - dt.timedelta(days=5)  # that scan ran before the work
        with store.engine.begin() as conn:
            conn.execute(text("update devices set first_seen = :t, last_seen = :t"), {"t": earlier})
            conn.execute(text("update observations set observed_at = :t where kind <> 'inventory'"), {"t": earlier})
            conn.execute(text("update scans set started_at = :t, finished_at = :t"), {"t": earlier})
        d1, d2 = before["D1"][0], before["D2"][0]
        wo = _order_for(store, "S7", [d1, d2])
        with store.engine.connect() as conn:
            assert show(conn, wo)["cameras_before"] == 8
        ret = tmp_path / "return.csv"
        ret.write_text(
            "work_order,device,old_serial,new_serial,new_mac,done_date\n"
            f"{wo},{d1},,ACCC8E0A0001,,{today}\n{wo},{d2},,ACCC8E0A0002,,{today}\n",
            encoding="utf-8",
        )
        assert app.record_return(ret).orders_done == [wo]

        # the installer has not touched the recorder yet: both old cameras still answer on it
        app.record_results(_scan(nvr), targets=[IP], ports=(80,), site="S7")
        result = app.verify()
        assert not result.verified
        said = " | ".join(e["detail"] for e in result.exceptions)
        assert "still answers on ch 1 of NVR" in said and "still answers on ch 2" in said, said

        # ch 1: an Axis camera in place of the Hikvision one; ch 2: unplugged, nothing in its place
        old_d1 = dict(nvr.channels[0])
        nvr.channels[0].update(model="AXIS P3265-LV", serial="ACCC8E0A0001", firmware="10.12.199", name="garden")
        nvr.channels.pop(1)
        app.record_results(_scan(nvr), targets=[IP], ports=(80,), site="S7")
        after = _channel_ids(store, recorder)
        assert "D2" not in after and after["D1"][0] != d1 and after["D1"][1] == "online"
        result = app.verify()
        assert not result.verified
        by_device = {e["device"]: e["detail"] for e in result.exceptions}
        assert "ch 2 of NVR" in by_device[d2] and "is dark after the swap" in by_device[d2], result
        assert d1 not in by_device and d1 not in {p["device"] for p in result.pending}  # ch 1 passes
        with store.engine.connect() as conn:
            lines = {ln["device_id"]: ln for ln in show(conn, wo)["devices"]}
        assert lines[d1]["verification"] == "passed" and "ch 1: kept" in lines[d1]["detail"]
        assert "no longer names it" in lines[d1]["detail"]  # the recorder's list proves the old one gone
        assert lines[d2]["verification"] == "exception"

        # the store decides ch 2 is no longer needed: returned as decommissioned, the order passes
        ret.write_text(
            f"work_order,device,old_serial,new_serial,new_mac,done_date,decommissioned\n{wo},{d2},,,,{today},yes\n",
            encoding="utf-8",
        )
        app.record_return(ret)
        result = app.verify()
        assert result.verified == [wo], (result.exceptions, result.pending)
        with store.engine.connect() as conn:
            order = show(conn, wo)
            status = dict(conn.execute(select(devices.c.id, devices.c.status).where(devices.c.id.in_([d1, d2]))).all())
        line = next(ln for ln in order["devices"] if ln["device_id"] == d2)
        assert line["detail"].startswith("decommissioned") and "decommissioned by the order" in line["detail"]
        assert status == {d1: "replaced", d2: "replaced"}

        # the old Hikvision camera is plugged back into the free channel: it came back
        nvr.channels.insert(1, {**old_d1, "number": 2})
        app.record_results(_scan(nvr), targets=[IP], ports=(80,), site="S7")
        back = app.verify()
        assert [b["device"] for b in back.came_back] == [d1], back
        with store.engine.connect() as conn:
            assert show(conn, wo)["status"] == "done"
