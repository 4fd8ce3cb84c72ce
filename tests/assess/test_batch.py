"""The memoised estate assessment (``assess.batch``) gives exactly what assessing each device on
its own gives: per input (pure) and through ``run_assessment`` over a stored, scanned estate
with waivers, exposure, firmware, vulnerabilities and deadlines (results and stored rows)."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from phaseout.app import Phaseout
from phaseout.app.assessment import run_assessment
from phaseout.assess.batch import AssessmentMemo
from phaseout.assess.device import DeviceAssessment, StoredDevice, assess_device
from phaseout.demo.run import run_demo
from phaseout.policy.evaluate import SiteFacts
from phaseout.policy.packs import available_packs
from phaseout.store import Store
from phaseout.store.schema import assessments
from phaseout.store.waivers import add_waiver

TODAY = dt.date(2026, 11, 29)
PACKS = ["org-template", "uk-cabinet-office-2022", "us-ndaa-889"]
HTTP = "HTTP/1.1 200 OK\r\nServer: App-webs/\r\n\r\n"
KEV = {  # a KEV entry without a curated range: "unknown" for every Dahua-made device
    "CVE-2099-0001": {"cve": "CVE-2099-0001", "vendor": "Dahua", "product": "IP cameras", "name": "test entry"}
}


def _devices() -> list[tuple[StoredDevice, SiteFacts, list[dict[str, Any]], set[str]]]:
    makes = [
        ("hikvision", None, None, "DS-2CD2132F-IS", "camera"),
        ("hikvision", "HiLook", "oem", "IPC-B140H-M", "camera"),
        ("dahua", None, None, "IPC-HDW2431T-AS-S2", "camera"),
        ("dahua", "Lorex", "oem", "DHI-NVR4108HS-8P-4KS2", "recorder"),
        ("axis", None, None, "P3245-LVE", "camera"),
        ("unknown", None, None, None, "unknown"),
    ]
    firmwares = [None, "V5.3.0 build 150513", "V5.4.5 build 170123", "V5.7.3 build 250101", "garbage"]
    ips = [None, "127.30.0.1", "8.8.4.4", "1.1.1.1", "not-an-ip", "10.0.0.7"]
    sites = [
        SiteFacts(),
        SiteFacts("sensitive", None),
        SiteFacts("sensitive", dt.date(2027, 3, 1)),
        SiteFacts("standard", dt.date(2026, 1, 1)),
    ]
    seens: list[list[dict[str, Any]]] = [
        [],
        [
            {"kind": "http", "tls": False, "port": 80, "vantage": "core", "raw": HTTP},
            {"kind": "upnp", "raw": "HTTP/1.1 200 OK\r\nSERVER: Linux UPnP/1.0 DS-2CD2132F-IS\r\n\r\n"},
        ],
        [{"kind": "sadp", "raw": "<HCPlatformEnable>true</HCPlatformEnable>", "vantage": "internet"}],
    ]
    out = []
    for n, (make, fw, ip, site, seen, looked, cameras, conf) in enumerate(
        itertools.product(makes, firmwares, ips, sites, seens, [set(), {"core"}], [0, 20], [0.9, 0.55])
    ):
        vendor, label, relation, model, dtype = make
        device = StoredDevice(n, f"S{n % 7}", ip, fw, vendor, label, relation, model, dtype, conf, cameras)
        out.append((device, site, seen, looked))
    return out


def test_memo_equals_plain_assessment_per_input() -> None:
    packs = [available_packs()[p] for p in PACKS]
    memo = AssessmentMemo(packs, KEV, TODAY)
    inputs = _devices() * 2  # every input twice: the second round is all memo hits for unscanned ones
    for device, site, seen, looked in inputs:
        plain = assess_device(device, site, seen, looked, packs, KEV, TODAY)
        assert memo.assess(device, site, seen, looked) == plain
    unscanned = sum(1 for _, _, seen, _ in inputs if not seen)
    assert memo.hits >= unscanned // 2
    assert memo.hits < unscanned  # not a constant answer: distinct inputs were assessed


def test_memo_never_merges_public_addresses() -> None:
    """A public address is quoted in the finding's evidence: two such devices never share."""
    memo = AssessmentMemo([], {}, TODAY)
    a = StoredDevice(1, "A", "8.8.4.4", None, "axis", None, None, "P3245-LVE", "camera", 0.9)
    b = StoredDevice(2, "A", "8.8.8.8", None, "axis", None, None, "P3245-LVE", "camera", 0.9)
    first, second = memo.assess(a, SiteFacts(), [], set()), memo.assess(b, SiteFacts(), [], set())
    assert first.findings != second.findings and memo.hits == 0
    c = StoredDevice(3, "B", "127.0.0.9", None, "axis", None, None, "P3245-LVE", "camera", 0.9)
    d = StoredDevice(4, "C", "10.1.2.3", None, "axis", None, None, "P3245-LVE", "camera", 0.9)
    memo.assess(c, SiteFacts(), [], set())
    shared = memo.assess(d, SiteFacts(), [], set())
    assert memo.hits == 1 and (shared.device_id, shared.site) == (4, "C")


def _stored(db: str) -> list[tuple[Any, ...]]:
    with Store.open(db) as store, store.engine.connect() as conn:
        rows = conn.execute(select(assessments).order_by(assessments.c.device_id)).all()
    return [tuple(v for k, v in r._mapping.items() if k != "assessed_at") for r in rows]


def _as_dicts(results: list[DeviceAssessment]) -> list[dict[str, Any]]:
    return [a.as_dict() for a in sorted(results, key=lambda a: a.device_id)]


@pytest.mark.slow
def test_run_assessment_equals_the_plain_per_device_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A demo estate (scanned: plain HTTP, UPnP, SADP, vantages), an extra register with the
    same devices on many sites of each kind, public and invalid addresses, old and fixed
    firmware, recorders with cameras, and waivers."""
    db = run_demo(tmp_path, stores=6, seed=11).db
    (tmp_path / "sites.csv").write_text(
        "Code,Name,Sensitive,Next maintenance\n"
        + "".join(f"X{i},Extra {i},{'yes' if i % 3 else 'no'},{'2027-02-01' if i % 2 else ''}\n" for i in range(12)),
        encoding="utf-8",
    )
    rows = ["Site,Make,Model,IP,Firmware,Serial,Name,Recorder"]
    models = [
        ("Hikvision", "DS-2CD2132F-IS", "V5.3.0 build 150513"),
        ("Hikvision", "DS-2CD2132F-IS", "V5.4.5 build 170123"),
        ("HiLook", "IPC-B140H-M", ""),
        ("Dahua", "IPC-HDW2431T-AS-S2", "2.800.0000016.0.R,build:2020-06-05"),
        ("Axis", "P3245-LVE", "10.12.199"),
    ]
    for i in range(240):
        make, model, fw = models[i % len(models)]
        ip = ["127.40.0.{}", "8.8.{}.4", "bad-{}", ""][i % 4].format(i % 250)
        recorder = f"NVR-X{i % 12}" if i % 5 == 0 else ""
        rows.append(f'X{i % 12},{make},{model},{ip},"{fw}",XS{i:05d},Cam {i},{recorder}')
    for s in range(12):
        rows.append(f"X{s},Dahua,DHI-NVR4108HS-8P-4KS2,127.41.0.{s + 1},,XN{s:03d},NVR-X{s},")
    (tmp_path / "extra.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    packs = [available_packs()[p] for p in PACKS[:2]]  # without NDAA's past deadline: some are "due"
    with Store.open(db) as store:
        app = Phaseout(store)
        app.import_sites(tmp_path / "sites.csv")
        app.import_devices(tmp_path / "extra.csv")
        for device_id in (1, 5, 9):
            add_waiver(store.engine, "test", device_id, "lease", "cfo", TODAY.replace(year=2030), "isolated")
        fast = run_assessment(store.engine, packs, TODAY)
    fast_rows = _stored(db)

    def plain(self: AssessmentMemo, device: Any, site: Any, seen: Any, looked: Any) -> DeviceAssessment:
        return assess_device(device, site, seen, looked, self.packs, self.kev, self.today)

    monkeypatch.setattr(AssessmentMemo, "assess", plain)
    with Store.open(db) as store:
        slow = run_assessment(store.engine, packs, TODAY)
    assert _as_dicts(fast) == _as_dicts(slow)
    assert fast_rows == _stored(db)
    assert len({id(a.findings) for a in fast}) < len(fast) // 2  # the memo did share results
    assert len({id(a.findings) for a in slow}) == len(slow)
    kinds = {f["kind"] for a in fast for f in a.findings}
    refs = {f["ref"] for a in fast for f in a.findings}
    assert {"policy", "vulnerability", "exposure"} <= kinds
    assert {"public-address", "old-firmware"} <= refs
    assert {r[-1] for r in fast_rows} >= {"breach", "due", None}  # policy statuses
    assert len({r[-2] for r in fast_rows}) >= 3  # removal deadlines: none, passed, ahead
