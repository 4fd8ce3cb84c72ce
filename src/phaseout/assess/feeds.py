"""Read the vulnerability feeds a user downloads: the CISA KEV catalogue (JSON) and CVE records
(CVE JSON 5.x, as in CVEProject/cvelistV5).  Offline, size-capped and validated: a truncated
file, another schema or a hostile one (huge, deeply nested) gets a clear error, and nothing is
loaded from a batch in which any file fails.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phaseout.errors import InputFileError

MAX_KEV_BYTES = 64 * 1024 * 1024  # the full catalogue is ~1.5 MB
MAX_CVE_BYTES = 4 * 1024 * 1024  # one record is a few kB
_CVE_ID = re.compile(r"^CVE-\d{4}-\d{4,}$")


@dataclass(frozen=True, slots=True)
class KevEntry:
    cve: str
    vendor: str
    product: str
    name: str
    date_added: dt.date
    due_date: dt.date | None
    ransomware: str
    required_action: str


@dataclass(frozen=True, slots=True)
class KevCatalog:
    version: str
    released: str
    entries: dict[str, KevEntry] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CveRecord:
    cve: str
    state: str
    published: str
    description: str
    cvss: float | None  # highest CVSS v3.x base score in the CNA or ADP containers
    cvss_source: str
    kev_date: dt.date | None  # CISA-ADP "kev" metric, when the record carries one
    affected: tuple[dict[str, Any], ...]  # as the record gives them


def _load_json(path: Path, limit: int, what: str) -> Any:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror}") from exc
    if size > limit:
        raise InputFileError(
            f"{path.name} is {size:,} bytes; a {what} is at most {limit:,}", hint=f"is this really a {what}?"
        )
    try:
        return json.loads(path.read_bytes())
    except RecursionError:
        raise InputFileError(f"{path.name} is nested too deeply to be a {what}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(
            f"{path.name} is not valid JSON ({exc}): truncated or not a {what}?", hint="download the file again"
        ) from None


def _date(value: Any, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise InputFileError(f"{where}: {value!r} is not a date") from None


def read_kev(path: Path) -> KevCatalog:
    """The CISA KEV catalogue in its JSON form (``known_exploited_vulnerabilities.json``)."""
    data = _load_json(path, MAX_KEV_BYTES, "KEV catalogue")
    if not isinstance(data, dict) or not isinstance(data.get("vulnerabilities"), list) or "catalogVersion" not in data:
        raise InputFileError(
            f"{path.name} is not a CISA KEV catalogue (no catalogVersion / vulnerabilities list)",
            hint="use the JSON catalogue from CISA, known_exploited_vulnerabilities.json",
        )
    entries: dict[str, KevEntry] = {}
    for i, item in enumerate(data["vulnerabilities"]):
        where = f"{path.name} entry {i + 1}"
        if not isinstance(item, dict) or not _CVE_ID.match(str(item.get("cveID", ""))):
            raise InputFileError(f"{where}: no valid cveID")
        due = item.get("dueDate")
        entries[item["cveID"]] = KevEntry(
            cve=item["cveID"],
            vendor=str(item.get("vendorProject", "")),
            product=str(item.get("product", "")),
            name=str(item.get("vulnerabilityName", "")),
            date_added=_date(item.get("dateAdded"), where),
            due_date=_date(due, where) if due else None,
            ransomware=str(item.get("knownRansomwareCampaignUse", "Unknown")),
            required_action=str(item.get("requiredAction", "")),
        )
    return KevCatalog(str(data["catalogVersion"]), str(data.get("dateReleased", "")), entries)


def _cvss(container: dict[str, Any]) -> float | None:
    best: float | None = None
    for metric in container.get("metrics", []) or []:
        if not isinstance(metric, dict):
            continue
        for key in ("cvssV3_1", "cvssV3_0"):
            score = (metric.get(key) or {}).get("baseScore") if isinstance(metric.get(key), dict) else None
            if isinstance(score, (int, float)) and (best is None or score > best):
                best = float(score)
    return best


def _kev_date(container: dict[str, Any]) -> dt.date | None:
    for metric in container.get("metrics", []) or []:
        other = metric.get("other") if isinstance(metric, dict) else None
        if isinstance(other, dict) and other.get("type") == "kev":
            added = (other.get("content") or {}).get("dateAdded")
            if added:
                return _date(added, "kev metric")
    return None


def read_cve(path: Path) -> CveRecord:
    """One CVE JSON 5.x record."""
    data = _load_json(path, MAX_CVE_BYTES, "CVE record")
    if not isinstance(data, dict) or data.get("dataType") != "CVE_RECORD":
        raise InputFileError(f"{path.name} is not a CVE record (dataType must be CVE_RECORD)")
    version = str(data.get("dataVersion", ""))
    if not version.startswith("5."):
        raise InputFileError(
            f"{path.name} is CVE JSON {version or '?'}; phaseout reads 5.x",
            hint="take the record from the CVE List in JSON 5 format",
        )
    meta = data.get("cveMetadata") or {}
    cve = str(meta.get("cveId", ""))
    if not _CVE_ID.match(cve):
        raise InputFileError(f"{path.name}: cveMetadata.cveId {cve!r} is not a CVE id")
    containers = data.get("containers") or {}
    cna = containers.get("cna") or {}
    adps = [a for a in containers.get("adp", []) or [] if isinstance(a, dict)]
    description = next(
        (
            d.get("value", "")
            for d in cna.get("descriptions", []) or []
            if isinstance(d, dict) and str(d.get("lang", "")).startswith("en")
        ),
        "",
    )
    score, source = _cvss(cna), "CNA"
    for adp in adps:
        adp_score = _cvss(adp)
        if adp_score is not None and (score is None or adp_score > score):
            score, source = adp_score, str((adp.get("providerMetadata") or {}).get("shortName", "ADP"))
    kev = next((d for adp in adps if (d := _kev_date(adp))), None)
    affected = tuple(a for a in cna.get("affected", []) or [] if isinstance(a, dict))
    return CveRecord(
        cve,
        str(meta.get("state", "")),
        str(meta.get("datePublished", "")),
        str(description)[:2000],
        score,
        source if score is not None else "",
        kev,
        affected,
    )


def read_cve_dir(folder: Path) -> list[CveRecord]:
    """Every ``CVE-*.json`` below ``folder``; one bad record fails the whole batch."""
    if not folder.is_dir():
        raise InputFileError(f"{folder} is not a folder of CVE records")
    records = [read_cve(path) for path in sorted(folder.rglob("CVE-*.json"))]
    if not records:
        raise InputFileError(f"no CVE-*.json records in {folder}")
    return records
