"""The demo's watch: a covered camera in a lab "store", replaced, verified by re-scans, then back
on the network; the alert fires.

Everything runs on loopback (emulated devices on 127.77.0.x, ``phaseout.emulate``) and the alert
goes to a file in the demo's folder: no traffic leaves the machine.  The emulated cameras serve
their real ports (80, 554...), so the step needs to bind port 80 on loopback (root, or
``sysctl net.ipv4.ip_unprivileged_port_start=80``); without that the demo says so and skips it.

Two calls, because the camera must be in the estate before the plan is made:
:func:`install_lab_camera` (before assessment) and :func:`camera_comes_back` (after the work
orders)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phaseout.alert.rules import RULES
from phaseout.app import Phaseout, alerts
from phaseout.app.scans import ScanOutcome
from phaseout.discover.scanner import HostResult, ScanSettings, scan
from phaseout.emulate.devices import Device, Emulator, plan_devices
from phaseout.store import Store
from phaseout.store.work import list_orders, show

LAB_SITE = "LAB"
OLD_IP, NEW_IP = "127.77.0.1", "127.77.0.2"
PORTS = (80,)
ALERT = "demo-watch"


@dataclass(slots=True)
class Watch:
    ran: bool = False
    note: str = ""
    work_order: int | None = None
    alerts_file: Path | None = None
    fired: list[dict[str, Any]] = field(default_factory=list)


def can_bind_port_80() -> bool:
    """Whether this process may serve port 80 on the demo's addresses (free, and allowed)."""
    for ip in (OLD_IP, NEW_IP):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the emulator binds
            try:
                s.bind((ip, 80))
            except OSError:
                return False
    return True


def _devices() -> tuple[Device, Device]:
    old = plan_devices(["hikvision-ipc"], 1, OLD_IP, seed=77)[0]
    new = plan_devices(["axis-ipc"], 1, NEW_IP, seed=78)[0]
    return old, new


_SETTINGS = ScanSettings(host_deadline=4.0, read_timeout=1.0, ports=PORTS)


def _probe(device: Device, ip: str) -> list[HostResult]:
    """Probe ``ip`` while ``device`` is emulated there."""

    async def run() -> list[HostResult]:
        async with Emulator([device]):
            return await scan([ip], _SETTINGS)

    return asyncio.run(run())


def install_lab_camera(store: Store, today: dt.date) -> bool:
    """A scan of the lab store finds a Hikvision camera (before the plan, so the plan replaces it).
    The demo's story starts a month ago: the scan is recorded with the time it stands for, so the
    swap recorded today comes after it (verification compares those dates)."""
    if not can_bind_port_80():
        return False
    old, _new = _devices()
    try:
        results = _probe(old, OLD_IP)
    except OSError:  # the address was taken since the check: the demo goes on without its lab
        return False
    then = dt.datetime.combine(today - dt.timedelta(days=30), dt.time(10, 0), dt.UTC)
    outcome = ScanOutcome(results, {r.ip: r for r in results}, False, started=then, ended=then)
    Phaseout(store, actor="demo").record_scan(outcome, targets=[OLD_IP], planned=1, ports=PORTS, site=LAB_SITE)
    return True


def camera_comes_back(store: Store, workdir: Path, today: dt.date) -> Watch:
    """Swap the lab camera for an Axis one, prove it by re-scans, then let the old camera answer
    again: the ``demo-watch`` alert (a file in ``workdir``) receives "a covered device appears"."""
    try:
        return _comes_back(store, workdir, today)
    except OSError as exc:  # an emulated camera could not listen: say so, the demo goes on
        return Watch(alerts_file=workdir / "alerts.jsonl", note=f"skipped: {exc}")


def _comes_back(store: Store, workdir: Path, today: dt.date) -> Watch:
    out = Watch(alerts_file=workdir / "alerts.jsonl")
    if not can_bind_port_80():
        out.note = "skipped: emulated cameras need port 80 on loopback (root, or ip_unprivileged_port_start=80)"
        return out
    assert out.alerts_file is not None
    out.alerts_file.unlink(missing_ok=True)
    app = Phaseout(store, actor="demo")
    alerts.add_alert(store, "demo", ALERT, "file", {"path": str(out.alerts_file)}, [{"rule": r} for r in RULES])
    with store.engine.connect() as conn:
        lab = list_orders(conn, site=LAB_SITE)
        if not lab:
            out.note = "skipped: the plan has no visit to the lab store"
            return out
        order = show(conn, lab[0]["id"])
    wo, device_id = int(order["id"]), int(order["devices"][0]["device_id"])
    old, new = _devices()
    for status in ("scheduled", "in-progress"):
        app.set_work_status(wo, status)
    returned = workdir / "lab-return.csv"
    returned.write_text(
        f"work_order,device,old_serial,new_serial,new_mac,done_date\n{wo},{device_id},,{new.serial},{new.mac},{today}\n",
        encoding="utf-8",
    )
    app.record_return(returned)
    app.record_results(_probe(new, NEW_IP), targets=[NEW_IP], ports=PORTS, site=LAB_SITE)  # the new one answers
    app.scan([OLD_IP], _SETTINGS, site=LAB_SITE)  # the old one is gone: its address is silent
    verified = app.verify()
    if wo not in verified.verified:
        out.note = f"skipped: work order {wo} was not verified ({verified.pending or verified.exceptions})"
        return out
    out.work_order = wo
    # months later, someone plugs the old camera back in: the next scan finds it
    app.record_results(_probe(old, OLD_IP), targets=[OLD_IP], ports=PORTS, site=LAB_SITE)
    alerts.deliver(store, "demo")
    out.ran = True
    out.fired = [json.loads(line) for line in out.alerts_file.read_text(encoding="utf-8").splitlines()]
    return out
