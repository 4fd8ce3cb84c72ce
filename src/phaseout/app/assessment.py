"""Assess every stored device: policy findings for the packs in use, known vulnerabilities,
exposure, an explainable risk score and interim mitigations; stored in ``assessments`` (one row
per device, replaced whole in one transaction on each run)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select

from phaseout.assess.exposure import exposure_findings
from phaseout.assess.risk import device_risk, mitigations_for
from phaseout.assess.store_feeds import load_saved_kev
from phaseout.assess.verify import parse_coverage, scanned_from, verify_mitigations, zone_of
from phaseout.assess.vulnerabilities import findings_for
from phaseout.identify.facts import gather
from phaseout.policy.evaluate import DeviceFacts, SiteFacts, evaluate
from phaseout.policy.packs import PolicyPack
from phaseout.store.generation import bump
from phaseout.store.identification import network_observations
from phaseout.store.scans import scan_coverage
from phaseout.store.schema import assessments, devices, sites

BATCH = 5_000


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


def assess_devices(conn: Connection, packs: list[PolicyPack], today: dt.date) -> Iterator[DeviceAssessment]:
    cameras: dict[Any, Any] = dict(
        conn.execute(
            select(devices.c.parent_id, func.count())
            .where(devices.c.parent_id.is_not(None))
            .group_by(devices.c.parent_id)
        ).all()
    )
    scans = network_observations(conn)
    coverage = parse_coverage(scan_coverage(conn))
    kev = load_saved_kev()
    query = (
        select(
            devices.c.id,
            devices.c.ip,
            devices.c.firmware,
            devices.c.vendor,
            devices.c.label,
            devices.c.relation,
            devices.c.id_model,
            devices.c.id_type,
            devices.c.confidence,
            sites.c.code,
            sites.c.sensitivity,
            sites.c.next_maintenance,
        )
        .select_from(devices.outerjoin(sites, devices.c.site_id == sites.c.id))  # scans find siteless devices
        .where(devices.c.status == "active")
        .order_by(devices.c.id)
    )
    site_facts: dict[tuple[str, Any], SiteFacts] = {}
    for row in conn.execute(query.execution_options(yield_per=BATCH)):
        vendor = row.vendor or "unknown"
        sensitivity = row.sensitivity or "standard"
        site = site_facts.setdefault((sensitivity, row.next_maintenance), SiteFacts(sensitivity, row.next_maintenance))
        seen = scans.get(row.id, [])
        zone = zone_of(seen)
        device = DeviceFacts(vendor, row.label, row.relation, row.id_type or "unknown", zone, row.confidence or 0.0)
        # firmware a scan read is fresher than the spreadsheet's: an upgrade shows at the next scan
        scanned = _first(gather(seen).firmware) if seen else None
        firmware = scanned or row.firmware
        found: list[dict[str, Any]] = [f.as_dict() for f in evaluate(device, site, packs, today)]
        vulns = [f.as_dict() for f in findings_for(vendor, row.id_model, firmware, row.label, kev)]
        if scanned:
            for v in vulns:
                v["evidence"] = [*v.get("evidence", []), f"firmware {scanned} seen by a scan"]
        found += vulns
        found += [f.as_dict() for f in exposure_findings(row.ip, firmware, seen, today)]
        risk, parts = device_risk(found, device.device_type, int(cameras.get(row.id, 0)), sensitivity == "sensitive")
        yield DeviceAssessment(
            row.id,
            row.code or "",
            vendor,
            row.label,
            row.id_model,
            risk,
            found,
            [p.as_dict() for p in parts],
            verify_mitigations(mitigations_for(found, vendor), found, seen, scanned_from(row.ip, coverage)),
        )


def _first(pairs: list[tuple[str, str]]) -> str | None:
    """The first value of a facts list of (kind, value) pairs."""
    return pairs[0][1] if pairs else None


def policy_status(findings: list[dict[str, Any]]) -> str | None:
    """The most pressing status among the policy findings (None: no pack covers the device)."""
    found = {f["status"] for f in findings if f.get("kind") == "policy"}
    return next((s for s in ("breach", "due", "unknown", "applies") if s in found), None)


def removal_deadline(findings: list[dict[str, Any]], today: dt.date) -> dt.date | None:
    """The earliest date by which a policy finding says the device must go (a breach with no
    date is due today)."""
    dates = []
    for f in findings:
        if f.get("kind") != "policy" or f.get("action") != "remove" or f.get("status") not in ("due", "breach"):
            continue
        deadline = f.get("deadline")
        dates.append(dt.date.fromisoformat(deadline) if deadline else today)
    return min(dates) if dates else None


def run_assessment(engine: Engine, packs: list[PolicyPack], today: dt.date) -> list[DeviceAssessment]:
    """Assess every active device and replace the stored assessments in one transaction."""
    now = dt.datetime.now(dt.UTC)
    pack_ids = json.dumps([p.id for p in packs])
    with engine.begin() as conn:
        results = list(assess_devices(conn, packs, today))
        conn.execute(delete(assessments))
        rows = [
            {
                "device_id": a.device_id,
                "risk": a.risk,
                "findings": json.dumps(a.findings),
                "risk_parts": json.dumps(a.risk_parts),
                "mitigations": json.dumps(a.mitigations),
                "packs": pack_ids,
                "assessed_at": now,
                "deadline": removal_deadline(a.findings, today),
                "policy_status": policy_status(a.findings),
            }
            for a in results
        ]
        for start in range(0, len(rows), BATCH):
            conn.execute(assessments.insert(), rows[start : start + BATCH])
        bump(conn)
    return results
