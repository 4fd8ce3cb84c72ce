"""Reachability by vantage point, the opt-in default-login check, and mitigations verified by
re-scan: emulated devices on loopback, stored and assessed."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

from phaseout.app import Phaseout
from phaseout.app.assessment import run_assessment
from phaseout.assess.verify import covers, parse_coverage, scanned_from, verify_mitigations, zone_of
from phaseout.discover.digest import Credentials
from phaseout.discover.scanner import ScanSettings, scan
from phaseout.emulate.devices import Emulator, plan_devices
from phaseout.policy.packs import available_packs
from phaseout.store import Store

CHECK_LIST = (Credentials("admin", "12345"), Credentials("admin", "emulated-only"))


def _scan(base: str, profiles: list[str], **settings: object) -> list:  # type: ignore[type-arg]
    devices = plan_devices(profiles, len(profiles), base)

    async def run() -> list:  # type: ignore[type-arg]
        async with Emulator(devices):
            return await scan(
                [d.ip for d in devices], ScanSettings(host_deadline=4.0, read_timeout=1.0, ports=(80,), **settings)
            )  # type: ignore[arg-type]

    return asyncio.run(run())


def test_default_login_check_records_the_user_name_never_the_password() -> None:
    results = _scan("127.36.0.1", ["hikvision-ipc", "dahua-ipc", "axis-ipc"], default_check=CHECK_LIST)
    by_ip = {r.ip: r for r in results}
    hik = [o for o in by_ip["127.36.0.1"].observations if o["kind"] == "credential-check"]
    assert hik == [
        {
            "kind": "credential-check",
            "port": 80,
            "path": "/ISAPI/System/deviceInfo",
            "result": "accepted",
            "username": "admin",
        }
    ]
    assert "emulated-only" not in json.dumps([r.observations for r in results])
    assert not [o for o in by_ip["127.36.0.3"].observations if o["kind"] == "credential-check"]  # no digest challenge
    none_given = _scan("127.36.1.1", ["hikvision-ipc"])
    assert not [o for r in none_given for o in r.observations if o["kind"] == "credential-check"]  # opt-in only
    refused = _scan("127.36.2.1", ["hikvision-ipc"], default_check=(Credentials("admin", "12345"),))
    check = [o for r in refused for o in r.observations if o["kind"] == "credential-check"]
    assert check and check[0]["result"] == "refused" and check[0]["tried"] == 1


def test_vantage_points_findings_and_verification(tmp_path: Path) -> None:
    db = str(tmp_path / "exposure.db")
    today = dt.date(2026, 11, 29)
    packs = [available_packs()["uk-cabinet-office-2022"], available_packs()["us-ndaa-889"]]
    from_core = _scan("127.37.0.1", ["hikvision-ipc", "dahua-ipc"], default_check=CHECK_LIST)
    with Store.open(db) as store:
        Phaseout(store).record_results(from_core, targets=["127.37.0.0/24"], vantage="core")
        results = {a.device_id: a for a in run_assessment(store.engine, packs, today)}
        assert len(results) == 2
        for a in results.values():
            refs = {f["ref"] for f in a.findings}
            assert "reachable-from-core" in refs
            mitigations = {m["action"]: m for m in a.mitigations}
            assert mitigations["isolate"]["verified"] == "failed"
        hik = next(a for a in results.values() if a.vendor == "hikvision")
        assert "default-credentials" in {f["ref"] for f in hik.findings}
        assert {m["action"]: m["verified"] for m in hik.mitigations}["rotate-passwords"] == "failed"
        # a scan from the camera VLAN replaces only what the camera VLAN saw: core's answers stay
        from_camera = _scan("127.37.0.1", ["hikvision-ipc", "dahua-ipc"])
        Phaseout(store).record_results(from_camera, targets=["127.37.0.0/24"], vantage="camera")
        again = run_assessment(store.engine, packs, today)
        assert all("reachable-from-core" in {f["ref"] for f in a.findings} for a in again)
        # the same scan from core again, now without the Dahua camera answering: isolated
        only_hik = _scan("127.37.0.1", ["hikvision-ipc"], default_check=(Credentials("admin", "12345"),))
        # the Dahua camera's address was probed to the end on the port it answered on: silent
        Phaseout(store).record_results(only_hik, targets=["127.37.0.0/24"], vantage="core", silent=["127.37.0.2"])
        final = {a.vendor: a for a in run_assessment(store.engine, packs, today)}
        dahua = {m["action"]: m for m in final["dahua"].mitigations}
        assert dahua["isolate"]["verified"] == "passed"
        assert "reachable-from-core" not in {f["ref"] for f in final["dahua"].findings}
        hik_now = {m["action"]: m["verified"] for m in final["hikvision"].mitigations}
        assert hik_now["rotate-passwords"] == "passed"  # the check list's login is refused now
        assert hik_now["isolate"] == "failed"


def test_pure_helpers() -> None:
    assert covers("127.37.0.0/24", "127.37.0.9") and not covers("127.37.0.0/24", "127.38.0.9")
    assert covers("127.37.0.1-50", "127.37.0.50") and not covers("127.37.0.1-50", "127.37.0.51")
    assert covers("127.37.0.7", "127.37.0.7") and not covers("garbage", "127.37.0.7")
    assert zone_of([{"vantage": "camera"}, {"vantage": "core"}]) == "core" and zone_of([]) is None
    coverage = parse_coverage([("core", ["127.37.0.0/24"]), (None, ["127.37.0.0/24"])])
    assert scanned_from("127.37.0.9", coverage) == {"core"}
    m = [{"action": "block-outbound", "what": "", "verify": ""}, {"action": "enforce-tls", "what": "", "verify": ""}]
    out = verify_mitigations(m, [{"kind": "exposure", "ref": "http-without-tls"}], [{"kind": "http"}], set())
    assert [x["verified"] for x in out] == ["not checked", "failed"]
