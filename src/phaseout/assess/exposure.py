"""Exposure findings from what is known about a device (pure).

Its inventory view (address, firmware) and its stored scan answers: plain HTTP, SADP, UPnP,
from which network it answered (``phaseout scan --from``), and whether a default login from the
user's opt-in check list was accepted.  Each finding says what was seen."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from phaseout.assess.findings import finding_dict
from phaseout.assess.firmware import parse_firmware

#: Firmware built longer ago than this is flagged as old.
OLD_FIRMWARE_DAYS = 3 * 365


@dataclass(frozen=True, slots=True)
class ExposureFinding:
    kind: str
    ref: str
    severity: str
    status: str
    detail: str
    evidence: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return finding_dict(self)


def _finding(ref: str, severity: str, detail: str, *evidence: str) -> ExposureFinding:
    return ExposureFinding("exposure", ref, severity, "exposed", detail, evidence)


#: Text prefixes of address blocks that are never global (10/8, 127/8, 192.168/16): whatever
#: follows, such a text is a non-global address or no address at all, and both give None.
_PRIVATE_PREFIXES = ("10.", "127.", "192.168.")


def public_address(ip: str | None) -> str | None:
    """``ip`` when it is a valid global (internet-routable) address, else None.  The only thing
    about the address the findings read (``assess.batch`` keys its memo on it)."""
    if not ip or ip.startswith(_PRIVATE_PREFIXES):  # the usual estate, without parsing each address
        return None
    try:
        return ip if ipaddress.ip_address(ip).is_global else None
    except ValueError:
        return None


def exposure_findings(
    ip: str | None, firmware: str | None, observations: list[dict[str, Any]], today: dt.date
) -> list[ExposureFinding]:
    out: list[ExposureFinding] = []
    if public_address(ip):
        out.append(
            _finding(
                "public-address",
                "critical",
                "The device has a public IP address: it may be reachable from the internet.",
                f"address {ip}",
            )
        )
    fw = parse_firmware(firmware)
    if fw is not None and fw.build is not None and (today - fw.build).days > OLD_FIRMWARE_DAYS:
        years = (today - fw.build).days / 365
        out.append(
            _finding(
                "old-firmware", "medium", f"Firmware built {fw.build}, {years:.1f} years ago.", f"firmware {fw.raw}"
            )
        )
    plain_http = any(o.get("kind") == "http" and o.get("tls") is False for o in observations)
    any_tls = any(o.get("kind") == "tls" or (o.get("kind") == "http" and o.get("tls")) for o in observations)
    if plain_http and not any_tls:
        out.append(
            _finding(
                "http-without-tls",
                "medium",
                "The web interface answers over plain HTTP only: passwords cross the network readable.",
                "HTTP answer without TLS",
            )
        )
    for o in observations:
        value = o.get("raw")
        raw = value if isinstance(value, str) else ""
        if o.get("kind") == "sadp" and re.search(r"<HCPlatformEnable>\s*true", raw, re.IGNORECASE):
            out.append(
                _finding(
                    "p2p-cloud",
                    "high",
                    "Hik-Connect (P2P cloud) is enabled: the device keeps a connection to the maker's cloud.",
                    "SADP HCPlatformEnable=true",
                )
            )
            break
    reachable = {
        "internet": ("critical", "The device answered a scan run from the internet."),
        "core": ("high", "The device answered a scan run from the core network: it is not kept off core networks."),
        "guest": ("high", "The device answered a scan run from the guest network."),
    }
    seen_from = {v for o in observations if isinstance(v := o.get("vantage"), str)}
    for zone, (severity, detail) in reachable.items():
        if zone in seen_from:
            ports = sorted({str(o.get("port")) for o in observations if o.get("vantage") == zone and o.get("port")})
            out.append(
                _finding(
                    f"reachable-from-{zone}",
                    severity,
                    detail,
                    f"scan from {zone} answered" + (f" on port(s) {', '.join(ports)}" if ports else ""),
                )
            )
    accepted = [o for o in observations if o.get("kind") == "credential-check" and o.get("result") == "accepted"]
    if accepted:
        out.append(
            _finding(
                "default-credentials",
                "critical",
                "A default login from the user's check list was accepted: anyone can log in.",
                f"user name {accepted[0].get('username')!r} accepted on {accepted[0].get('path')}",
            )
        )
    if any(o.get("kind") == "upnp" for o in observations):
        out.append(
            _finding(
                "upnp", "medium", "The device answers UPnP: it may open ports on the router by itself.", "UPnP answer"
            )
        )
    return out
