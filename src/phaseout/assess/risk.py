"""An explainable risk score per device and per site, and interim mitigations (pure).

Points, each traceable to a finding:
- policy: breach 40 (critical) / 25 (high) / 10 (other); due 10; unknown 5;
- vulnerability: affected = CVSS x 3 (5 when no score), + 25 when known exploited (KEV);
  unknown status = a third of that; fixed = 0;
- exposure: public address 30, reachable from the internet 30, default login accepted 30,
  reachable from the core network 20, from the guest network 15, P2P cloud 15, plain HTTP 8,
  UPnP 8, old firmware 5;
then a role factor (a recorder holds every camera behind it: x (1 + cameras/16), at most x 3)
and a site factor (sensitive sites x 1.5).  The site's risk is the sum over its devices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

POLICY_POINTS = {("breach", "critical"): 40, ("breach", "high"): 25, "breach": 10, "due": 10, "unknown": 5}
EXPOSURE_POINTS = {
    "public-address": 30,
    "reachable-from-internet": 30,
    "default-credentials": 30,
    "reachable-from-core": 20,
    "reachable-from-guest": 15,
    "p2p-cloud": 15,
    "http-without-tls": 8,
    "upnp": 8,
    "old-firmware": 5,
}
KEV_POINTS = 25
SENSITIVE_FACTOR = 1.5


@dataclass(frozen=True, slots=True)
class RiskPart:
    points: float
    reason: str
    ref: str

    def as_dict(self) -> dict[str, Any]:
        return {"points": round(self.points, 1), "reason": self.reason, "ref": self.ref}


def finding_points(f: dict[str, Any]) -> float:
    kind, status, severity = f["kind"], f["status"], f["severity"]
    if kind == "policy":
        return float(POLICY_POINTS.get((status, severity), POLICY_POINTS.get(status, 0)))
    if kind == "vulnerability":
        base = (f.get("cvss") or 5 / 3) * 3 + (KEV_POINTS if f.get("kev") else 0)
        return base if status == "affected" else base / 3 if status == "unknown" else 0.0
    if kind == "exposure":
        return float(EXPOSURE_POINTS.get(f["ref"], 5))
    return 0.0


def device_risk(
    findings: list[dict[str, Any]], device_type: str, cameras_behind: int, sensitive: bool
) -> tuple[float, list[RiskPart]]:
    parts = [
        RiskPart(p, f"{f['kind']} {f['ref']}: {f['status']}", f["ref"])
        for f in findings
        if (p := finding_points(f)) > 0
    ]
    base = sum(p.points for p in parts)
    factor = 1.0
    if device_type == "recorder" and cameras_behind:
        factor = min(3.0, 1 + cameras_behind / 16)
        parts.append(
            RiskPart(base * (factor - 1), f"recorder holding {cameras_behind} cameras (x{factor:.2f})", "role")
        )
    if sensitive:
        extra = base * factor * (SENSITIVE_FACTOR - 1)
        parts.append(RiskPart(extra, f"sensitive site (x{SENSITIVE_FACTOR})", "site"))
    return round(sum(p.points for p in parts), 1), parts


# Interim mitigations until the device is replaced: what to do, and how to verify it.
MITIGATIONS = {
    "isolate": (
        "Move the device to an isolated camera VLAN with no route to core networks.",
        "From a core-network host, the device's address does not answer (a scan from that network finds no open port).",
    ),
    "block-outbound": (
        "Block the device's outbound internet traffic at the firewall.",
        "Firewall logs show no allowed outbound flows from the device; P2P status reads offline.",
    ),
    "disable-p2p": (
        "Disable Hik-Connect / EZVIZ / Dahua P2P cloud service on the device.",
        "SADP / device configuration shows the cloud platform disabled (a re-scan can check SADP).",
    ),
    "disable-upnp": ("Disable UPnP on the device (and on the router).", "The device no longer answers UPnP / SSDP."),
    "update-firmware": (
        "Update to the latest firmware from the maker's advisory.",
        "A re-scan or inventory shows a firmware version past the affected range.",
    ),
    "enforce-tls": ("Turn on HTTPS only; disable plain HTTP.", "Port 80 no longer serves the login page."),
    "rotate-passwords": (
        "Rotate the device's passwords; remove default and shared accounts.",
        "Login with the previous credentials fails (checked only with the owner's consent).",
    ),
    "remove-from-internet": (
        "Remove any internet exposure (port forwards, public address).",
        "An external scan of the public address finds no open camera port.",
    ),
}


def mitigations_for(findings: list[dict[str, Any]], vendor: str) -> list[dict[str, str]]:
    wanted: list[str] = []
    refs = {f["ref"] for f in findings}
    kinds = {(f["kind"], f["status"]) for f in findings}
    if "public-address" in refs or "reachable-from-internet" in refs:
        wanted.append("remove-from-internet")
    if "reachable-from-core" in refs or "reachable-from-guest" in refs:
        wanted.append("isolate")
    if ("policy", "breach") in kinds or ("policy", "due") in kinds or ("policy", "unknown") in kinds:
        wanted += ["isolate", "block-outbound"]
    if "p2p-cloud" in refs or vendor in ("hikvision", "dahua"):
        wanted.append("disable-p2p")
    if "upnp" in refs:
        wanted.append("disable-upnp")
    if any(f["kind"] == "vulnerability" and f["status"] in ("affected", "unknown") for f in findings):
        wanted.append("update-firmware")
    if "http-without-tls" in refs:
        wanted.append("enforce-tls")
    if vendor in ("hikvision", "dahua") or "default-credentials" in refs:
        wanted.append("rotate-passwords")
    return [
        {"action": key, "what": MITIGATIONS[key][0], "verify": MITIGATIONS[key][1]} for key in dict.fromkeys(wanted)
    ]
