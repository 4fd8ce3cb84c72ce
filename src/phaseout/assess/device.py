"""One device's assessment (pure): policy findings, known vulnerabilities, exposure, an
explainable risk score and interim mitigations with what a scan verified of them.

The application reads the plain facts from the store and calls :func:`assess_device` per
device; nothing here touches the database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from phaseout.assess.exposure import exposure_findings
from phaseout.assess.risk import device_risk, mitigations_for
from phaseout.assess.verify import verify_mitigations, zone_of
from phaseout.assess.vulnerabilities import findings_for
from phaseout.identify.facts import gather
from phaseout.policy.evaluate import DeviceFacts, SiteFacts, evaluate
from phaseout.policy.packs import PolicyPack


@dataclass(frozen=True, slots=True)
class StoredDevice:
    """What the assessment reads of a stored device."""

    device_id: int
    site: str
    ip: str | None
    firmware: str | None
    vendor: str
    label: str | None
    relation: str | None
    model: str | None
    device_type: str
    confidence: float
    cameras_behind: int = 0


@dataclass(frozen=True, slots=True)
class DeviceAssessment:
    device_id: int
    site: str
    vendor: str
    brand: str | None
    model: str | None
    risk: float
    findings: list[dict[str, Any]]
    risk_parts: list[dict[str, Any]]
    mitigations: list[dict[str, str]]  # each with verified: passed | failed | not checked, and check

    def as_dict(self) -> dict[str, Any]:
        """The ``phaseout assess --format jsonl`` line."""
        return {
            "device": self.device_id,
            "site": self.site,
            "vendor": self.vendor,
            "brand": self.brand,
            "model": self.model,
            "risk": self.risk,
            "findings": self.findings,
            "risk_parts": self.risk_parts,
            "mitigations": self.mitigations,
        }


def _first(pairs: list[tuple[str, str]]) -> str | None:
    return pairs[0][1] if pairs else None


def assess_device(
    device: StoredDevice,
    site: SiteFacts,
    seen: list[dict[str, Any]],
    looked_from: set[str],
    packs: list[PolicyPack],
    kev: Any,
    today: dt.date,
) -> DeviceAssessment:
    """``seen``: the device's network observations (scan answers); ``looked_from``: the
    vantages from which a scan covered its address."""
    facts = DeviceFacts(
        device.vendor, device.label, device.relation, device.device_type, zone_of(seen), device.confidence
    )
    # firmware a scan read is fresher than the spreadsheet's: an upgrade shows at the next scan
    scanned = _first(gather(seen).firmware) if seen else None
    firmware = scanned or device.firmware
    found: list[dict[str, Any]] = [f.as_dict() for f in evaluate(facts, site, packs, today)]
    vulns = [f.as_dict() for f in findings_for(device.vendor, device.model, firmware, device.label, kev)]
    if scanned:
        for v in vulns:
            v["evidence"] = [*v.get("evidence", []), f"firmware {scanned} seen by a scan"]
    found += vulns
    found += [f.as_dict() for f in exposure_findings(device.ip, firmware, seen, today)]
    risk, parts = device_risk(found, facts.device_type, device.cameras_behind, site.sensitivity == "sensitive")
    return DeviceAssessment(
        device.device_id,
        device.site,
        device.vendor,
        device.label,
        device.model,
        risk,
        found,
        [p.as_dict() for p in parts],
        verify_mitigations(mitigations_for(found, device.vendor), found, seen, looked_from),
    )
