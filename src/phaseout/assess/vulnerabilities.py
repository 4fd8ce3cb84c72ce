"""Known vulnerabilities of the covered makers -> findings for one device (pure).

The curated table (``data/vulnerabilities.toml``) gives, per CVE, the models it affects and the
firmware range or build-date cutoff.  Matching follows the identification: the device's vendor is
the maker of its hardware and firmware, so an Amcrest or Lorex unit on Dahua firmware is checked
against Dahua's entries, and the evidence says so.  The status of a finding:

- ``affected``: the model is in a listed family and the firmware is inside the affected range
  (or built before the cutoff);
- ``fixed``: the model is listed and the firmware is past the range;
- ``unknown``: the model is listed but the firmware (or its build date) is not known, or the
  advisory gives no usable range (the reason says which).
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from phaseout.assess.findings import finding_dict
from phaseout.assess.firmware import Firmware, compare, compare_versions, parse_firmware
from phaseout.errors import KnowledgeError
from phaseout.identify.models import normalize_model


@dataclass(frozen=True, slots=True)
class AffectedRange:
    models: re.Pattern[str]
    first: Firmware | None = None
    last: Firmware | None = None
    before: Firmware | None = None  # exclusive upper bound ("lessThan" in CVE records)
    built_before: dt.date | None = None
    fixed_from: dt.date | None = None  # with built_before: builds in between are unknown
    fixed_version: Firmware | None = None  # a build from fixed_from is fixed only at this version or later
    basis: str = ""  # why the dates are what they are (the advisory or portal they come from)
    unknown: str = ""
    examples: tuple[str, ...] = ()
    counter: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Vulnerability:
    cve: str
    maker: str
    summary: str
    sources: tuple[str, ...]
    ranges: tuple[AffectedRange, ...]
    cvss: float | None = None
    cvss_source: str = ""
    kev_added: dt.date | None = None
    kev_due: dt.date | None = None
    labels: tuple[str, ...] = ()  # when set: only devices sold under these labels (an OEM's own flaw)
    decide: tuple[dict[str, Any], ...] = field(default=())


@dataclass(frozen=True, slots=True)
class VulnerabilityFinding:
    kind: str
    ref: str
    severity: str
    status: str  # affected | fixed | unknown
    detail: str
    evidence: tuple[str, ...]
    kev: bool
    cvss: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return finding_dict(self)


def severity_of(cvss: float | None, kev: bool) -> str:
    """CVSS bands, raised to critical when the flaw is known to be exploited."""
    if kev:
        return "critical"
    if cvss is None:
        return "medium"
    return "critical" if cvss >= 9 else "high" if cvss >= 7 else "medium" if cvss >= 4 else "low"


def _firmware(text: str, where: str) -> Firmware:
    fw = parse_firmware(text)
    if fw is None:
        raise KnowledgeError(f"{where}: {text!r} is not a firmware version")
    return fw


@cache
def load_vulnerabilities() -> tuple[Vulnerability, ...]:
    text = resources.files("phaseout.assess").joinpath("data/vulnerabilities.toml").read_text("utf-8")
    out = []
    for v in tomllib.loads(text)["vulnerability"]:
        where = f"vulnerabilities.toml {v['cve']}"
        ranges = []
        for r in v["ranges"]:
            ranges.append(
                AffectedRange(
                    models=re.compile(r["models"]),
                    first=_firmware(r["from"], where) if "from" in r else None,
                    last=_firmware(r["to"], where) if "to" in r else None,
                    before=_firmware(r["before"], where) if "before" in r else None,
                    built_before=r.get("built_before"),
                    fixed_from=r.get("fixed_from"),
                    fixed_version=_firmware(r["fixed_version"], where) if "fixed_version" in r else None,
                    basis=r.get("basis", ""),
                    unknown=r.get("unknown", ""),
                    examples=tuple(r.get("examples", ())),
                    counter=tuple(r.get("counter", ())),
                )
            )
        out.append(
            Vulnerability(
                cve=v["cve"],
                maker=v["maker"],
                summary=v["summary"],
                sources=tuple(v["sources"]),
                ranges=tuple(ranges),
                cvss=v.get("cvss"),
                cvss_source=v.get("cvss_source", ""),
                kev_added=v.get("kev_added"),
                kev_due=v.get("kev_due"),
                labels=tuple(x.lower() for x in v.get("labels", ())),
                decide=tuple(v.get("decide", ())),
            )
        )
    return tuple(out)


def check(
    vuln: Vulnerability, vendor: str, model: str | None, firmware: str | None, label: str | None = None
) -> VulnerabilityFinding | None:
    """The finding for one device and one vulnerability, or ``None`` when it does not apply."""
    if vendor != vuln.maker or not model:
        return None
    if vuln.labels and (label or "").lower() not in vuln.labels:
        return None
    norm = normalize_model(model)
    rng = next((r for r in vuln.ranges if r.models.fullmatch(norm)), None)
    if rng is None:
        return None
    kev = vuln.kev_added is not None
    evidence = [
        f"made by {vendor}"
        + (f", sold as {label}" if label and label.lower() != vendor else "")
        + f"; model {norm} is in the families the advisory lists"
    ]
    if kev:
        evidence.append(
            f"CISA KEV: known exploited, added {vuln.kev_added}" + (f", due {vuln.kev_due}" if vuln.kev_due else "")
        )
    evidence.append("; ".join(vuln.sources))
    severity = severity_of(vuln.cvss, kev)

    def finding(status: str, reason: str) -> VulnerabilityFinding:
        return VulnerabilityFinding(
            "vulnerability", vuln.cve, severity, status, f"{vuln.summary} {reason}", (*evidence,), kev, vuln.cvss
        )

    if rng.unknown:
        return finding("unknown", f"Cannot decide: {rng.unknown}.")
    fw = parse_firmware(firmware)
    if fw is None:
        return finding("unknown", "The firmware version is not known: collect it (scan or inventory).")
    if rng.built_before is not None:
        return _by_build_date(rng, rng.built_before, fw, finding)
    if rng.before is not None:
        if compare(fw, rng.before) < 0:
            return finding("affected", f"Firmware {fw} is older than the fix ({rng.before}).")
        return finding("fixed", f"Firmware {fw} has the fix ({rng.before} or later).")
    if rng.first is not None and compare(fw, rng.first) < 0:
        return None  # older than the first affected release: this flaw does not apply
    if rng.last is not None and compare(fw, rng.last) > 0:
        return finding("fixed", f"Firmware {fw} is past the affected range (up to {rng.last}).")
    return finding("affected", f"Firmware {fw} is inside the affected range ({rng.first} to {rng.last}).")


def _by_build_date(
    rng: AffectedRange,
    built_before: dt.date,
    fw: Firmware,
    finding: Callable[[str, str], VulnerabilityFinding],
) -> VulnerabilityFinding:
    """A build-date decision: affected before ``built_before``; fixed from ``fixed_from`` (at
    ``fixed_version`` or later), or from ``built_before`` when no later date is given; unknown in
    between, or when the firmware carries no build date."""
    basis = f" ({rng.basis})" if rng.basis else ""
    fixed_from = rng.fixed_from or built_before
    if fw.build is None:
        return finding(
            "unknown",
            f"Affected if built before {built_before}; firmware {fw.raw!r} carries no build date.",
        )
    if fw.build < built_before:
        return finding("affected", f"Firmware built {fw.build}, before the fix could exist ({built_before}).")
    if fw.build >= fixed_from and (rng.fixed_version is None or compare_versions(fw, rng.fixed_version) >= 0):
        return finding("fixed", f"Firmware built {fw.build}, on or after the fixed build ({fixed_from}){basis}.")
    if fw.build >= fixed_from:
        return finding(
            "unknown",
            f"Firmware built {fw.build} but version {fw} is older than the fixed release {rng.fixed_version}{basis}.",
        )
    return finding(
        "unknown",
        f"Firmware built {fw.build}, between the report ({built_before}) and the first build known to be "
        f"fixed ({fixed_from}){basis}: check the advisory for this model.",
    )


def findings_for(
    vendor: str,
    model: str | None,
    firmware: str | None,
    label: str | None = None,
    kev: dict[str, dict[str, Any]] | None = None,
) -> list[VulnerabilityFinding]:
    """Every curated vulnerability that concerns a device, then the KEV entries (from a catalogue
    the user loaded) that name its maker or its label but have no curated range: those are
    ``unknown`` until the advisory's models and firmware are added to the table."""
    found = [f for v in load_vulnerabilities() if (f := check(v, vendor, model, firmware, label))]
    if kev:
        curated = {v.cve for v in load_vulnerabilities()}
        for entry in kev.values():
            if entry["cve"] not in curated and (finding := kev_only(entry, vendor, label)) is not None:
                found.append(finding)
    return found


def kev_only(entry: dict[str, Any], vendor: str, label: str | None) -> VulnerabilityFinding | None:
    """A KEV entry without a curated range.  It concerns a device when its vendor field names the
    device's maker (an entry for "Dahua" reaches Lorex and Amcrest units too: the OEM chain) or
    names the device's label (an entry for "Amcrest" reaches Amcrest units, not all of Dahua's)."""
    from phaseout.knowledge import load_knowledge

    k = load_knowledge()
    hit = k.match_name(str(entry.get("vendor", "")))
    if hit is None or hit.maker != vendor:
        return None
    if hit.brand and k.brands[hit.brand].relation != "own":
        if not label or k.match_name(label) != hit:
            return None
        chain = f"the entry names {entry['vendor']}, this device's label, made by {vendor}"
    else:
        sold_as = f" (sold as {label})" if label and label.lower() != vendor else ""
        chain = f"the entry names {entry['vendor']}, the maker of this device{sold_as}"
    due = entry.get("due_date")
    evidence = (
        chain,
        f"CISA KEV: {entry.get('name', '')}, added {entry.get('date_added')}" + (f", due {due}" if due else ""),
        f"required action: {entry.get('required_action', '')}",
    )
    detail = (
        f"Known exploited flaw in {entry.get('vendor')} {entry.get('product')}; phaseout has no model and "
        "firmware range for it yet: check the advisory."
    )
    return VulnerabilityFinding("vulnerability", entry["cve"], "critical", "unknown", detail, evidence, True)
