"""The per-device assessment and the policy status rules, table-driven on plain data (no store)."""

from __future__ import annotations

import datetime as dt

import pytest

from phaseout.assess.device import StoredDevice, assess_device
from phaseout.policy.evaluate import SiteFacts
from phaseout.policy.packs import available_packs
from phaseout.policy.status import policy_status, removal_deadline

TODAY = dt.date(2026, 12, 1)


def _device(vendor: str, model: str | None, firmware: str | None = None, label: str | None = None) -> StoredDevice:
    return StoredDevice(1, "S1", "127.0.0.9", firmware, vendor, label, "own", model, "camera", 0.95)


@pytest.mark.parametrize(
    ("device", "pack", "expected"),
    [
        (_device("hikvision", "DS-2CD2143G2-I"), "us-ndaa-889", "breach"),
        (_device("dahua", "IPC-HDW2431T-AS-S2", label="lorex"), "us-ndaa-889", "breach"),
        (_device("axis", "P3245-LVE"), "us-ndaa-889", None),
    ],
)
def test_policy_status_of_one_device(device: StoredDevice, pack: str, expected: str | None) -> None:
    found = assess_device(device, SiteFacts(), [], set(), [available_packs()[pack]], None, TODAY)
    assert policy_status(found.findings) == expected


def test_a_scan_read_firmware_wins_over_the_spreadsheets() -> None:
    seen = [{"kind": "inventory", "fields": {}}] * 0
    device = _device("hikvision", "DS-2CD2143G2-I", firmware="V5.5.0 build 170725")
    found = assess_device(device, SiteFacts(), seen, set(), [], None, TODAY)
    assert any(f["kind"] == "vulnerability" for f in found.findings)
    assert found.mitigations and all("verified" in m for m in found.mitigations)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["applies", "breach", "due"], "breach"),
        (["unknown", "due"], "due"),
        (["applies", "unknown"], "unknown"),
        (["applies"], "applies"),
        ([], None),
    ],
)
def test_status_precedence(statuses: list[str], expected: str | None) -> None:
    assert policy_status([{"kind": "policy", "status": s} for s in statuses]) == expected


def test_removal_deadline_is_the_earliest_and_a_breach_without_date_is_today() -> None:
    findings = [
        {"kind": "policy", "action": "remove", "status": "due", "deadline": "2027-06-30"},
        {"kind": "policy", "action": "remove", "status": "due", "deadline": "2027-03-31"},
        {"kind": "policy", "action": "report", "status": "due", "deadline": "2026-12-31"},
    ]
    assert removal_deadline(findings, TODAY) == dt.date(2027, 3, 31)
    assert removal_deadline([{"kind": "policy", "action": "remove", "status": "breach"}], TODAY) == TODAY
    assert removal_deadline([{"kind": "policy", "action": "remove", "status": "applies"}], TODAY) is None
