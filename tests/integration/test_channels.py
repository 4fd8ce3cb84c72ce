"""Cameras behind recorders, on loopback: emulated NVRs and DVRs serve real-shaped channel lists;
the scanner reads them only with the credentials given, stores each channel as a device under its
recorder, re-scans in place, marks a camera that went away, survives hostile lists, and never
connects anywhere a recorder's list points."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from phaseout.app import Phaseout
from phaseout.discover import scanner
from phaseout.discover.digest import Credentials
from phaseout.discover.scanner import HostResult, ScanSettings, scan
from phaseout.emulate.devices import Device, Emulator, plan_devices
from phaseout.identify import Identifier
from phaseout.store import Store
from phaseout.store.schema import devices as devices_t
from tests.support import needs_ports

CREDS = Credentials("admin", "emulated-only")  # the emulated devices' account (profiles' http.*)
RECORDERS = ["hikvision-nvr", "hikvision-dvr", "dahua-nvr", "lorex-nvr"]
SETTINGS = ScanSettings(host_deadline=6.0, read_timeout=2.0, ports=(80, 554, 8000, 37777), credentials=CREDS)


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every host the scanner opens a connection to, in order."""
    seen: list[str] = []
    real = asyncio.open_connection

    async def spy(host: str, port: int, **kw):  # type: ignore[no-untyped-def]
        seen.append(host)
        return await real(host, port, **kw)

    monkeypatch.setattr(scanner.asyncio, "open_connection", spy)
    yield seen


def _scan(devices: list[Device], settings: ScanSettings = SETTINGS, extra: list[Device] | None = None):  # type: ignore[no-untyped-def]
    async def run() -> tuple[list[HostResult], dict[str, int]]:
        async with Emulator(devices + (extra or [])) as emulator:
            results = await scan([d.ip for d in devices], settings)
            return results, dict(emulator.hits)

    return asyncio.run(run())


@needs_ports
def test_every_channel_found_identified_and_nothing_outside_scope(connections: list[str]) -> None:
    devices = plan_devices(RECORDERS, len(RECORDERS), "127.31.0.1")
    # a camera that really answers, on a loopback address outside the scanned hosts: one
    # recorder's list points at it; nothing may ever connect to it
    canary = plan_devices(["hikvision-ipc"], 1, "127.31.9.9")
    devices[0].channels[0]["address"] = canary[0].ip
    results, hits = _scan(devices, extra=canary)
    identifier = Identifier()
    by_ip = {r.ip: r for r in results}
    assert set(connections) <= {d.ip for d in devices} and canary[0].ip not in hits
    for device in devices:
        result = by_ip[device.ip]
        want = {(f"{'A' if c['analog'] else 'D'}{c['number']}") for c in device.channels}
        assert {c.key for c in result.channels} == want, device.profile.name
        assert result.channel_kinds, device.profile.name
        for spec, found in zip(device.channels, result.channels, strict=True):
            row = scanner.channel_dict(found, identifier)
            if spec["analog"]:
                assert found.address is None and found.analog
                continue
            assert found.address == spec["address"] and found.model in (spec["model"], None)
            truth = spec["truth"]
            assert row["vendor"] == ("unknown" if truth == "other" else truth), (device.profile.name, row)
    nvr = by_ip[devices[0].ip]
    assert [c.online for c in nvr.channels if c.key == "D4"] == [False]  # offline, as the status said
    dvr = by_ip[devices[1].ip]
    assert [c.online for c in dvr.channels] == [True] * 7 + [False]  # analogue input 8 dark
    amcrest = next(c for c in by_ip[devices[2].ip].channels if c.model == "IP4M-1041B")
    assert scanner.channel_dict(amcrest, identifier)["brand"] == "Amcrest"


@needs_ports
def test_no_credentials_no_channel_requests() -> None:
    devices = plan_devices(["hikvision-nvr", "dahua-nvr"], 2, "127.32.0.1")
    results, _ = _scan(devices, dataclasses.replace(SETTINGS, credentials=None))
    assert all(not r.channels and not r.channel_kinds for r in results)
    wrong = dataclasses.replace(SETTINGS, credentials=Credentials("admin", "not-the-password"))
    results, _ = _scan(devices, wrong)
    assert all(not r.channels for r in results)


def _children(store: Store, parent: int) -> dict[str, tuple]:  # type: ignore[type-arg]
    cols = (devices_t.c.channel, devices_t.c.ip, devices_t.c.model, devices_t.c.channel_state, devices_t.c.vendor)
    with store.engine.connect() as conn:
        return {r[0]: tuple(r[1:]) for r in conn.execute(select(*cols).where(devices_t.c.parent_id == parent))}


def _recorder_id(store: Store, ip: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(devices_t.c.id).where(devices_t.c.ip == ip)).scalar_one())


@needs_ports
def test_channels_stored_under_their_recorder_rescan_in_place_and_missing_marked(db_url: str) -> None:
    devices = plan_devices(["hikvision-nvr", "hikvision-dvr", "dahua-nvr"], 3, "127.33.0.1")
    targets = ["127.33.0.1-3"]
    with Store.open(db_url) as store:
        # a camera the spreadsheet already knows, with its own model text: linked, never overwritten
        known = devices[0].channels[1]
        with store.engine.begin() as conn:
            import datetime as dt

            now = dt.datetime.now(dt.UTC)
            conn.execute(
                devices_t.insert().values(
                    serial=known["serial"], model="from the spreadsheet", first_seen=now, last_seen=now
                )
            )
        results, _ = _scan(devices)
        Phaseout(store).record_results(results, targets=targets)
        nvr, dvr, dahua = (_recorder_id(store, d.ip) for d in devices)
        first = _children(store, nvr)
        assert set(first) == {f"D{i}" for i in range(1, 9)}
        assert first["D2"][1] == "from the spreadsheet"  # linked to its recorder, its model kept
        assert first["D1"][0] == devices[0].channels[0]["address"] and first["D1"][3] == "hikvision"
        assert first["D4"][2] == "offline" and first["D1"][2] == "online"
        analogue = _children(store, dvr)
        assert set(analogue) == {f"A{i}" for i in range(1, 9)} and all(v[0] is None for v in analogue.values())
        assert analogue["A8"][2] == "offline"
        assert len(_children(store, dahua)) == 6
        total = store.counts()["devices"]

        results, _ = _scan(devices)  # the same again: nothing new
        Phaseout(store).record_results(results, targets=targets)
        assert store.counts()["devices"] == total and _children(store, nvr) == first

        gone = devices[0].channels.pop(4)  # a camera unplugged from the NVR
        results, _ = _scan(devices)
        Phaseout(store).record_results(results, targets=targets)
        after = _children(store, nvr)
        assert store.counts()["devices"] == total
        assert after[f"D{gone['number']}"][2] == "missing"
        assert all(v[2] != "missing" for k, v in after.items() if k != f"D{gone['number']}")


@needs_ports
@pytest.mark.parametrize("quirk", ["huge", "truncated", "self", "bad-ids"])
def test_hostile_channel_lists_are_capped_and_reported(quirk: str, connections: list[str]) -> None:
    devices = plan_devices(["hikvision-nvr", "dahua-nvr"], 2, "127.34.0.1")
    for device in devices:
        device.profile = dataclasses.replace(device.profile, channels={**device.profile.channels, "quirk": quirk})
    results, _ = _scan(devices)
    assert set(connections) <= {d.ip for d in devices}
    for result in results:
        assert len(result.channels) <= scanner.ch.MAX_CHANNELS
        assert any(e.startswith("channels: ") for e in result.errors), (quirk, result.errors)
        assert result.ip not in {c.address for c in result.channels}
        if quirk in ("huge", "truncated", "bad-ids"):
            assert "ip" not in result.channel_kinds  # a damaged list never marks cameras missing


@needs_ports
def test_scan_command_with_credentials_stores_the_recorder_tree(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``phaseout scan --credentials`` against ``phaseout emulate``: the channels come out in the
    JSON lines and are stored under their recorders; without credentials, none."""
    import json
    import os
    import subprocess

    from tests.support import PHASEOUT, emulate_process

    db = tmp_path / "tree.db"
    creds = tmp_path / "creds.toml"
    creds.write_text('username = "admin"\npassword = "emulated-only"\n', encoding="utf-8")
    env = {**os.environ, "COLUMNS": "200", "PHASEOUT_DB": str(db)}
    base = [*PHASEOUT, "scan", "127.35.0.1-2", "--scope", "127.35.0.0/16", "-f", "jsonl", "--host-deadline", "10"]
    with emulate_process("hikvision-nvr,hikvision-dvr", 2, "127.35.0.1", env):
        plain = subprocess.run([*base, "--no-store"], capture_output=True, text=True, timeout=90, env=env)
        proc = subprocess.run([*base, "--credentials", str(creds)], capture_output=True, text=True, timeout=90, env=env)
    assert plain.returncode == 0 and proc.returncode == 0, proc.stderr
    assert all("channels" not in json.loads(x) for x in plain.stdout.splitlines())
    rows = {r["ip"]: r for r in map(json.loads, proc.stdout.splitlines())}
    nvr, dvr = rows["127.35.0.1"], rows["127.35.0.2"]
    assert [c["channel"] for c in nvr["channels"]] == [f"D{i}" for i in range(1, 9)]
    assert [c["channel"] for c in dvr["channels"]] == [f"A{i}" for i in range(1, 9)]
    assert "emulated-only" not in proc.stdout
    with Store.open(str(db)) as store:
        assert store.counts()["devices"] == 2 + 16
        assert len(_children(store, _recorder_id(store, "127.35.0.1"))) == 8
