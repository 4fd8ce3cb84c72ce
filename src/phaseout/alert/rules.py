"""Alert rules as data (pure): what the store saw after an import, a scan or the passing of a
date, in, and the *occurrences* that deserve an alert, out.

Each occurrence carries a **dedupe key** (rule + device + occurrence): an occurrence whose key
was already recorded for an alert never fires again, so evaluating the same batch twice (a
process killed after evaluating, a catch-up run) cannot send anything twice, while a real
second occurrence (a device replaced again and back again, a device exposed again after a
scan found it closed) has a key of its own.

The rules know nothing of the database: :mod:`phaseout.app.alerts` gathers the :class:`Facts`
and writes what fires.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from phaseout.track.verify import came_back

#: Makers a "covered device appears" rule watches when no policy pack in use names any.
DEFAULT_MAKERS = ("hikvision", "dahua")
#: Zones a "device exposed" rule watches by default (``policy.packs.ZONES``).
DEFAULT_ZONES = ("internet", "guest")
EXPOSURE_ZONES = ("internet", "guest", "core")


@dataclass(frozen=True, slots=True)
class Device:
    """What an alert says about a device."""

    id: int
    site: str | None = None
    ip: str | None = None
    vendor: str | None = None
    label: str | None = None
    model: str | None = None
    device_type: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) is not None}

    def name(self) -> str:
        what = " ".join(x for x in (self.label or self.vendor, self.model) if x) or "device"
        where = ", ".join(x for x in (f"site {self.site}" if self.site else None, self.ip) if x)
        return f"#{self.id} {what}" + (f" ({where})" if where else "")


@dataclass(frozen=True, slots=True)
class Answered:
    """A device verified as replaced that answered in the batch (see ``track.verify.came_back``)."""

    device: Device
    replaced_at: dt.datetime | None
    answered_at: dt.datetime | None
    work_order: int | None


@dataclass(frozen=True, slots=True)
class Reached:
    """A device that answered a scan run from ``zone`` (``phaseout scan --from``).
    ``rearmed_by``: the newest earlier scan from that zone that found its address silent (0:
    none) — a device closed off and exposed again is a new occurrence."""

    device: Device
    zone: str
    scan_id: int
    rearmed_by: int = 0
    ports: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class DeadlineLeft:
    """Active devices whose earliest removal deadline (``assessments.deadline``) is ``deadline``."""

    deadline: dt.date
    devices: int
    sites: int
    examples: tuple[Device, ...] = ()


@dataclass(slots=True)
class Facts:
    """Everything the rules read, gathered once per evaluation."""

    today: dt.date
    source: str = ""  # "import cameras.csv", "scan 10.0.0.0/24", "deadlines"
    batch: int | None = None  # the import or scan batch the facts come from
    covered: tuple[str, ...] = ()  # makers covered by the packs in use
    appeared: list[Device] = field(default_factory=list)  # devices the batch created
    touched: list[Device] = field(default_factory=list)  # new or updated by the batch (addresses)
    answered: list[Answered] = field(default_factory=list)
    reached: list[Reached] = field(default_factory=list)
    deadlines: list[DeadlineLeft] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One thing an alert fires for.  ``text`` makes the one-line summary when it is shown: an
    import can bring tens of thousands of occurrences, of which a message lists 200."""

    rule: str
    key: str  # dedupe key: rule + device + occurrence
    severity: str  # syslog severity name: critical | error | warning | notice
    event: str  # new | came-back | reachable | public-address | deadline
    text: str  # the summary; for "new" (the bulk case) only where it came from, made into one when shown
    device: Device | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    #: the key the store records instead of ``key``, when a whole group can only ever fire together:
    #: a device is new in exactly one batch, so "new in batch N" dedupes all of them in one row
    group: str | None = None

    @property
    def stored_key(self) -> str:
        return self.group or self.key

    @property
    def summary(self) -> str:
        if self.event == "new" and self.device is not None:
            d = self.device
            sold = f", sold as {d.label}" if d.label and d.label.lower() != (d.vendor or "").lower() else ""
            return f"a covered device appeared: {d.name()}, made by {d.vendor}{sold} ({self.text})"
        return self.text

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "event": self.event, "summary": self.summary}
        if self.device is not None:
            out["device"] = self.device.as_dict()
        out.update(self.detail)
        return out


Evaluate = Callable[[Mapping[str, Any], Facts], list[Occurrence]]


@dataclass(frozen=True, slots=True)
class Rule:
    """One kind of alert: its id, what it means, its parameters and their defaults."""

    id: str
    title: str
    description: str
    params: Mapping[str, tuple[str, ...]]  # name -> default values
    choices: Mapping[str, tuple[str, ...] | None]  # name -> allowed values (None: any)
    evaluate: Evaluate


_PRIVATE_PREFIXES = ("10.", "192.168.", "127.", "169.254.", "fe80:", "fc", "fd", "::1")


def is_public(ip: str | None) -> bool:
    """A globally routable address (the cheap prefixes first: most estates are private)."""
    if not ip or ip.startswith(_PRIVATE_PREFIXES):
        return False
    try:
        return ipaddress.ip_address(ip).is_global
    except ValueError:
        return False


def _covered_device_appears(params: Mapping[str, Any], facts: Facts) -> list[Occurrence]:
    makers = set(params.get("makers") or facts.covered or DEFAULT_MAKERS)
    out = []
    group = f"new-in-batch:{facts.batch}" if facts.batch is not None else None
    for d in facts.appeared:
        if d.vendor in makers:
            out.append(
                Occurrence("covered-device-appears", f"new:{d.id}", "warning", "new", facts.source, d, group=group)
            )
    for b in facts.answered:
        if came_back(b.replaced_at, b.answered_at):
            d = b.device
            assert b.replaced_at is not None and b.answered_at is not None
            out.append(
                Occurrence(
                    "covered-device-appears",
                    f"came-back:{d.id}:{b.work_order or 0}:{b.replaced_at.isoformat()}",
                    "warning",
                    "came-back",
                    (
                        f"a replaced device is back on the network: {d.name()} answered on "
                        f"{b.answered_at.date()} after its replacement was verified"
                        + (f" (work order {b.work_order})" if b.work_order else "")
                    ),
                    d,
                    {"replaced_at": b.replaced_at.isoformat(), "answered_at": b.answered_at.isoformat()}
                    | ({"work_order": b.work_order} if b.work_order else {}),
                )
            )
    return out


def _device_exposed(params: Mapping[str, Any], facts: Facts) -> list[Occurrence]:
    zones = set(params.get("zones") or DEFAULT_ZONES)
    out = []
    for r in facts.reached:
        if r.zone in zones:
            ports = f" on port(s) {', '.join(map(str, r.ports))}" if r.ports else ""
            out.append(
                Occurrence(
                    "device-exposed",
                    f"reachable:{r.device.id}:{r.zone}:{r.rearmed_by}",
                    "critical" if r.zone == "internet" else "error",
                    "reachable",
                    (
                        f"a device is reachable from the {r.zone} network: {r.device.name()} answered scan "
                        f"{r.scan_id}{ports}"
                    ),
                    r.device,
                    {"zone": r.zone, "scan": r.scan_id, "ports": list(r.ports)},
                )
            )
    if "internet" in zones:
        for d in facts.touched:
            if is_public(d.ip):
                out.append(
                    Occurrence(
                        "device-exposed",
                        f"public-address:{d.id}:{d.ip}",
                        "critical",
                        "public-address",
                        (f"a device has a public address and may be reachable from the internet: {d.name()}"),
                        d,
                        {"zone": "internet"},
                    )
                )
    return out


def _deadline_passed(params: Mapping[str, Any], facts: Facts) -> list[Occurrence]:
    out = []
    for left in facts.deadlines:
        if left.deadline < facts.today and left.devices > 0:
            out.append(
                Occurrence(
                    "deadline-passed",
                    f"deadline:{left.deadline.isoformat()}",
                    "error",
                    "deadline",
                    (
                        f"the removal deadline {left.deadline} has passed with {left.devices:,} covered device(s) "
                        f"left at {left.sites:,} site(s)"
                    ),
                    None,
                    {
                        "deadline": left.deadline.isoformat(),
                        "devices": left.devices,
                        "sites": left.sites,
                        "examples": [d.as_dict() for d in left.examples],
                    },
                )
            )
    return out


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "covered-device-appears",
            "A covered device appears",
            "A device made by a covered maker (the packs in use; any label) is new in an import or a scan, "
            "or a device verified as replaced answers a scan again.",
            {"makers": ()},
            {"makers": None},
            _covered_device_appears,
        ),
        Rule(
            "device-exposed",
            "A device became reachable from the internet or the guest network",
            "A device answered a scan run from one of the zones (phaseout scan --from internet|guest|core), "
            "or, for the internet zone, an import or scan gave it a public address.",
            {"zones": DEFAULT_ZONES},
            {"zones": EXPOSURE_ZONES},
            _device_exposed,
        ),
        Rule(
            "deadline-passed",
            "A deadline passes with covered devices left",
            "A removal deadline of a policy pack in use (each device's earliest, from the last assessment) "
            "is in the past and active devices still carry it.",
            {},
            {},
            _deadline_passed,
        ),
    )
}


def check_rule(rule_id: str, params: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """A rule entry as stored (``{"rule": id, param: [values]}``); ``ValueError`` naming what
    is allowed for an unknown rule, parameter or value."""
    rule = RULES.get(rule_id)
    if rule is None:
        raise ValueError(f"no alert rule {rule_id!r} (rules: {', '.join(RULES)})")
    entry: dict[str, Any] = {"rule": rule_id}
    for name, values in (params or {}).items():
        if name not in rule.params:
            raise ValueError(f"rule {rule_id} has no parameter {name!r}")
        clean = tuple(dict.fromkeys(str(v).strip().lower() for v in values if str(v).strip()))
        allowed = rule.choices.get(name)
        bad = [v for v in clean if allowed is not None and v not in allowed]
        if bad:
            raise ValueError(f"rule {rule_id}: {name} {', '.join(bad)} unknown (one of: {', '.join(allowed or ())})")
        if clean:
            entry[name] = list(clean)
    return entry


def evaluate(entries: Iterable[Mapping[str, Any]], facts: Facts) -> list[Occurrence]:
    """Every occurrence the rule entries find in ``facts``, duplicates (same key) dropped."""
    seen: set[str] = set()
    out = []
    for entry in entries:
        rule = RULES.get(str(entry.get("rule")))
        if rule is None:
            continue  # a rule removed from a later version: nothing to evaluate
        for occ in rule.evaluate(entry, facts):
            if occ.key not in seen:
                seen.add(occ.key)
                out.append(occ)
    return out
