"""Automatic verification of interim mitigations from what scans saw (pure).

Each mitigation gets ``verified``: ``passed`` (a scan shows it done), ``failed`` (a scan shows it
not done) or ``not checked`` (no scan can tell, or none looked), and ``check``: what was seen.

Where a device is reachable from depends on where the scans ran from (``phaseout scan --from
core``): a device that answered a scan from the core network is not isolated; a device whose
address a scan from the core network covered, and which did not answer it, is.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from phaseout.normalize import address_span

ZONE_ORDER = ("internet", "core", "guest", "camera")


Span = tuple[int, int, int]  # (IP version, first address, last address) as integers


def parse_target(target: str) -> Span | None:
    """A scan target as an address span (the one grammar: :func:`phaseout.normalize.address_span`);
    ``None`` for a target that is not one (stored scans are never re-validated)."""
    try:
        span = address_span(target)
    except ValueError:
        return None
    return (span.version, span.first, span.last)


def in_spans(ip: str, spans: Iterable[Span | None]) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    value = int(addr)
    return any(s is not None and s[0] == addr.version and s[1] <= value <= s[2] for s in spans)


def covers(target: str, ip: str) -> bool:
    """Whether a scan target includes ``ip``."""
    return in_spans(ip, [parse_target(target)])


def answered_from(observations: Iterable[dict[str, Any]]) -> set[str]:
    return {v for o in observations if isinstance(v := o.get("vantage"), str)}


def zone_of(observations: Iterable[dict[str, Any]]) -> str | None:
    """The most exposed network the device answered a scan from (None: no scan said)."""
    seen = answered_from(observations)
    return next((z for z in ZONE_ORDER if z in seen), None)


def parse_coverage(coverage: Iterable[tuple[str | None, list[str]]]) -> list[tuple[str, list[Span | None]]]:
    """Stored scans' targets parsed once (an estate has many devices and few scans)."""
    return [(v, [parse_target(t) for t in targets]) for v, targets in coverage if v]


def scanned_from(ip: str | None, coverage: list[tuple[str, list[Span | None]]]) -> set[str]:
    """The networks from which a scan covered the device's address."""
    if not ip:
        return set()
    return {v for v, spans in coverage if in_spans(ip, spans)}


def _reach(zone: str, answered: set[str], looked: set[str]) -> tuple[str, str]:
    if zone in answered:
        return "failed", f"answered a scan from the {zone} network"
    if zone in looked:
        return "passed", f"a scan from the {zone} network covered its address and it did not answer"
    return "not checked", f"no scan from the {zone} network yet (phaseout scan --from {zone})"


def verify_mitigations(
    mitigations: list[dict[str, str]],
    findings: list[dict[str, Any]],
    observations: list[dict[str, Any]],
    looked_from: set[str],
) -> list[dict[str, str]]:
    answered = answered_from(observations)
    refs = {f["ref"]: f for f in findings}
    kinds = {o.get("kind") for o in observations}
    checks = [o for o in observations if o.get("kind") == "credential-check"]
    out = []
    for m in mitigations:
        action = m["action"]
        verdict, check = "not checked", "no scan can tell this"
        if action == "isolate":
            verdict, check = _reach("core", answered, looked_from)
        elif action == "remove-from-internet":
            verdict, check = _reach("internet", answered, looked_from)
        elif action == "rotate-passwords":
            if any(c.get("result") == "accepted" for c in checks):
                verdict, check = "failed", "a default login from the check list was accepted"
            elif checks:
                verdict, check = "passed", "no default login from the check list was accepted"
            else:
                check = "no default-login check ran (phaseout scan --check-default-logins FILE)"
        elif action == "update-firmware":
            vulns = [f for f in findings if f["kind"] == "vulnerability"]
            firmware_seen = any("seen by a scan" in " ".join(f.get("evidence", [])) for f in vulns)
            if not firmware_seen:
                check = "no scan read the firmware version"
            elif any(f["status"] == "affected" for f in vulns):
                verdict, check = "failed", "the firmware a scan read is still in an affected range"
            else:
                verdict, check = "passed", "the firmware a scan read is past every affected range known"
        elif action == "enforce-tls":
            if "http-without-tls" in refs:
                verdict, check = "failed", "a scan found the web interface on plain HTTP only"
            elif "http" in kinds or "tls" in kinds:
                verdict, check = "passed", "a scan found no plain-HTTP-only web interface"
        elif action == "disable-upnp":
            if "upnp" in kinds:
                verdict, check = "failed", "the device answered UPnP"
        elif action == "disable-p2p":
            if "p2p-cloud" in refs:
                verdict, check = "failed", "SADP says the P2P cloud platform is enabled"
            elif "sadp" in kinds:
                verdict, check = "passed", "SADP says the P2P cloud platform is disabled"
        out.append({**m, "verified": verdict, "check": check})
    return out
