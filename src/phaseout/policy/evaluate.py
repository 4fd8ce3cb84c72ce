"""Which policy rules a device breaks (pure).

A rule applies to a device when the device's maker (the identified vendor, so an OEM-labelled
unit counts) is among the rule's or pack's makers, the rule is in effect, and the site, device
type and network zone are in its scope.  The status says how it applies:

- ``breach``: a removal or disconnection whose deadline has passed (or has none);
- ``due``: a removal with a deadline still ahead (the finding carries the date);
- ``applies``: a rule about buying or deploying: the installed device breaks nothing by being
  there, but must not be bought again or moved to such a site (its replacement is constrained);
- ``unknown``: the rule needs a fact phaseout does not have yet (the device's network zone, the
  site's next maintenance date).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from phaseout.assess.findings import finding_dict
from phaseout.policy.packs import NEXT_MAINTENANCE, PolicyPack, PolicyRule

SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    vendor: str
    brand: str | None = None
    relation: str | None = None
    device_type: str = "unknown"
    zone: str | None = None  # network zone, when discovery or the user says
    confidence: float = 0.0


@dataclass(frozen=True, slots=True)
class SiteFacts:
    sensitivity: str = "standard"
    next_maintenance: dt.date | None = None


@dataclass(frozen=True, slots=True)
class PolicyFinding:
    kind: str
    ref: str
    pack: str
    severity: str
    status: str  # breach | due | applies | unknown
    action: str
    deadline: dt.date | None
    detail: str
    evidence: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return finding_dict(self)


def _covered_by(device: DeviceFacts) -> str:
    label = (
        f" sold as {device.brand} ({device.relation})" if device.brand and device.relation not in (None, "own") else ""
    )
    return f"made by {device.vendor}{label}, identification confidence {device.confidence:.2f}"


def _rule_finding(
    pack: PolicyPack, rule: PolicyRule, device: DeviceFacts, site: SiteFacts, today: dt.date
) -> PolicyFinding | None:
    makers = rule.makers or pack.makers
    if device.vendor not in makers or rule.effective > today:
        return None
    if rule.sensitivity and site.sensitivity not in rule.sensitivity:
        return None
    if rule.device_types and device.device_type not in rule.device_types:
        return None
    evidence = [_covered_by(device), f"{pack.name}, version {pack.version}: {rule.source}"]
    status, deadline = "applies", None
    if rule.zones and (device.zone or "unknown") == "unknown":
        status = "unknown"
        evidence.append(f"applies on network zones {', '.join(rule.zones)}; this device's zone is not known")
    elif rule.zones and device.zone not in rule.zones:
        return None
    elif rule.action in ("remove", "disconnect-core"):
        if rule.deadline == NEXT_MAINTENANCE:
            deadline = site.next_maintenance
            if deadline is None:
                status = "unknown"
                evidence.append("due by the site's next maintenance visit, which is not recorded")
        elif isinstance(rule.deadline, dt.date):
            deadline = rule.deadline
        if status != "unknown":
            status = "due" if deadline is not None and deadline >= today else "breach"
    return PolicyFinding(
        "policy", rule.ref, pack.id, rule.severity, status, rule.action, deadline, rule.summary, tuple(evidence)
    )


def evaluate(device: DeviceFacts, site: SiteFacts, packs: list[PolicyPack], today: dt.date) -> list[PolicyFinding]:
    """Every rule of the packs in use that applies to the device, most severe first."""
    found = [f for pack in packs for rule in pack.rules if (f := _rule_finding(pack, rule, device, site, today))]
    order = {"breach": 0, "due": 1, "unknown": 2, "applies": 3}
    return sorted(found, key=lambda f: (order[f.status], -SEVERITY_RANK[f.severity], f.deadline or dt.date.max))
