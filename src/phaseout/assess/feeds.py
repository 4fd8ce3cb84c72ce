"""Read the vulnerability feeds a user downloads: the CISA KEV catalogue (JSON or CSV), CVE
records (CVE JSON 5.x, as in CVEProject/cvelistV5) and NVD CVE API 2.0 records, whose CPE
configurations give machine-readable firmware ranges (:class:`FirmwareRange`).  Offline,
size-capped and validated: a truncated file, another schema or a hostile one (huge, deeply
nested) gets a clear error, and nothing is loaded from a batch in which any file fails.

What other modules use (pure, plain data): ``read_kev`` (both shapes) -> ``KevCatalog``;
``read_nvd`` / ``nvd_record`` -> ``NvdCve`` with ``ranges``; ``FirmwareRange.contains(version)``
(True / False / None when the version cannot be compared); ``parse_cpe``; ``version_key``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
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
    """The CISA KEV catalogue, JSON (``known_exploited_vulnerabilities.json``) or CSV
    (``known_exploited_vulnerabilities.csv``): the shape is recognised from the content."""
    try:
        with path.open("rb") as fh:
            head = fh.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror}") from exc
    if head.startswith(b"cveID") or head.startswith(b'"cveID"'):
        return read_kev_csv(path)
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


KEV_CSV_COLUMNS = ("cveID", "vendorProject", "product", "vulnerabilityName", "dateAdded", "requiredAction", "dueDate")


def read_kev_csv(path: Path) -> KevCatalog:
    """The KEV catalogue's CSV form.  It carries no catalogue version, so the version is
    ``csv:`` + the newest ``dateAdded`` (what a user compares to know which copy is newer)."""
    try:
        size = path.stat().st_size
        if size > MAX_KEV_BYTES:
            raise InputFileError(f"{path.name} is {size:,} bytes; a KEV catalogue is at most {MAX_KEV_BYTES:,}")
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError(f"{path.name} is not UTF-8 text: not the CISA KEV CSV") from None
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror}") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in KEV_CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InputFileError(f"{path.name} is not the CISA KEV CSV (no column {', '.join(missing)})")
    entries: dict[str, KevEntry] = {}
    try:
        for row in reader:
            where = f"{path.name} line {reader.line_num}"
            cve = (row.get("cveID") or "").strip()
            if not _CVE_ID.match(cve):
                raise InputFileError(f"{where}: {cve!r} is not a CVE id")
            due = (row.get("dueDate") or "").strip()
            entries[cve] = KevEntry(
                cve=cve,
                vendor=(row.get("vendorProject") or "").strip(),
                product=(row.get("product") or "").strip(),
                name=(row.get("vulnerabilityName") or "").strip(),
                date_added=_date(row.get("dateAdded"), where),
                due_date=_date(due, where) if due else None,
                ransomware=(row.get("knownRansomwareCampaignUse") or "Unknown").strip(),
                required_action=(row.get("requiredAction") or "").strip(),
            )
    except csv.Error as exc:
        raise InputFileError(f"{path.name} line {reader.line_num}: {exc}: truncated?") from None
    if not entries:
        raise InputFileError(f"{path.name}: the KEV CSV has no rows")
    newest = max(e.date_added for e in entries.values())
    return KevCatalog(f"csv:{newest.isoformat()}", "", entries)


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


# ---------------------------------------------------------------- NVD CVE API 2.0

MAX_NVD_BYTES = 256 * 1024 * 1024  # an API page of 2,000 records is ~100 MB at most
_CPE_SPLIT = re.compile(r"(?<!\\):")


@dataclass(frozen=True, slots=True)
class Cpe:
    """A CPE 2.3 formatted string, split into its fields with the escapes undone
    (``ds-2cd2026g2-iu\\/sl_firmware`` -> ``ds-2cd2026g2-iu/sl_firmware``)."""

    part: str  # o (firmware/OS), h (hardware), a (application)
    vendor: str
    product: str
    version: str  # "*" any, "-" not applicable

    @property
    def any_version(self) -> bool:
        return self.version in ("*", "-", "")


def parse_cpe(text: str) -> Cpe | None:
    """``cpe:2.3:o:hikvision:ds-2cd2143g2-i_firmware:*:...`` -> :class:`Cpe`; None if not one."""
    fields = _CPE_SPLIT.split(text.strip())
    if len(fields) < 6 or fields[0] != "cpe" or fields[1] != "2.3":
        return None
    return Cpe(fields[2], _unescape(fields[3]), _unescape(fields[4]), _unescape(fields[5]))


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def version_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key for firmware version strings as NVD and devices write them: numeric parts
    compare as numbers, others as lower-case text, a leading ``V``/``v`` is ignored
    (``V2.800.0000000.25.R`` < ``2.820.0000000.5.r.210705``)."""
    parts = re.findall(r"\d+|[A-Za-z]+", text.strip().lstrip("Vv"))
    return tuple((0, int(p)) if p.isdigit() else (1, p.lower()) for p in parts)


@dataclass(frozen=True, slots=True)
class FirmwareRange:
    """One ``cpeMatch`` of an NVD configuration: which versions of which product it names.

    ``running_on`` lists the hardware the firmware must run on when the configuration is an
    AND of firmware and hardware (NVD's usual shape for cameras and recorders)."""

    criteria: str
    cpe: Cpe
    vulnerable: bool
    start_including: str | None = None
    start_excluding: str | None = None
    end_including: str | None = None
    end_excluding: str | None = None
    running_on: tuple[str, ...] = ()

    @property
    def bounded(self) -> bool:
        """True when the range names versions (an exact one or a bound); False for "every version"."""
        return not self.cpe.any_version or any(
            (self.start_including, self.start_excluding, self.end_including, self.end_excluding)
        )

    def contains(self, version: str | None) -> bool | None:
        """Whether ``version`` falls in the range; None when it cannot be told (no version)."""
        if not version or not version_key(version):
            return None
        key = version_key(version)
        if not self.cpe.any_version:
            return key == version_key(self.cpe.version)
        if self.start_including and key < version_key(self.start_including):
            return False
        if self.start_excluding and key <= version_key(self.start_excluding):
            return False
        if self.end_including and key > version_key(self.end_including):
            return False
        return not (self.end_excluding and key >= version_key(self.end_excluding))


@dataclass(frozen=True, slots=True)
class NvdCve:
    cve: str
    published: str
    last_modified: str
    status: str
    description: str
    cvss: float | None
    cvss_source: str
    kev_date: dt.date | None
    kev_due: dt.date | None
    weaknesses: tuple[str, ...]
    ranges: tuple[FirmwareRange, ...]
    source: str  # file and position, shown with every decision that uses the record

    def ranges_for(self, vendor: str, product: str | None = None) -> list[FirmwareRange]:
        """The vulnerable ranges of one vendor (and product, if given), case-blind."""
        v, p = vendor.lower(), product.lower() if product else None
        return [r for r in self.ranges if r.vulnerable and r.cpe.vendor == v and (p is None or r.cpe.product == p)]


def _nvd_ranges(configurations: Any, where: str) -> tuple[FirmwareRange, ...]:
    out: list[FirmwareRange] = []
    for config in configurations if isinstance(configurations, list) else []:
        if not isinstance(config, dict):
            continue
        nodes = [n for n in config.get("nodes") or [] if isinstance(n, dict) and not n.get("negate")]
        matches = [m for n in nodes for m in n.get("cpeMatch") or [] if isinstance(m, dict)]
        platforms = tuple(
            str(m.get("criteria")) for m in matches if not m.get("vulnerable") and config.get("operator") == "AND"
        )
        for m in matches:
            criteria = str(m.get("criteria", ""))
            cpe = parse_cpe(criteria)
            if cpe is None:
                raise InputFileError(f"{where}: {criteria[:80]!r} is not a CPE 2.3 name")
            if not m.get("vulnerable"):
                continue
            out.append(
                FirmwareRange(
                    criteria,
                    cpe,
                    True,
                    m.get("versionStartIncluding"),
                    m.get("versionStartExcluding"),
                    m.get("versionEndIncluding"),
                    m.get("versionEndExcluding"),
                    platforms,
                )
            )
    return tuple(out)


def _nvd_cvss(metrics: Any) -> tuple[float | None, str]:
    best: tuple[float | None, str] = (None, "")
    if not isinstance(metrics, dict):
        return best
    for key in ("cvssMetricV40", "cvssMetricV31", "cvssMetricV30"):
        for metric in metrics.get(key) or []:
            score = (metric.get("cvssData") or {}).get("baseScore") if isinstance(metric, dict) else None
            if isinstance(score, (int, float)) and (best[0] is None or score > best[0]):
                best = (float(score), str(metric.get("source", "")))
        if best[0] is not None:
            return best
    return best


def nvd_record(obj: Any, where: str) -> NvdCve:
    """One NVD API 2.0 ``cve`` object (pure)."""
    if not isinstance(obj, dict):
        raise InputFileError(f"{where}: not a CVE object")
    cve = str(obj.get("id", ""))
    if not _CVE_ID.match(cve):
        raise InputFileError(f"{where}: id {cve!r} is not a CVE id")
    description = next(
        (
            str(d.get("value", ""))
            for d in obj.get("descriptions") or []
            if isinstance(d, dict) and d.get("lang") == "en"
        ),
        "",
    )
    cvss, cvss_source = _nvd_cvss(obj.get("metrics"))
    weaknesses = tuple(
        str(d.get("value"))
        for w in obj.get("weaknesses") or []
        if isinstance(w, dict)
        for d in w.get("description") or []
        if isinstance(d, dict) and d.get("value")
    )
    added, due = obj.get("cisaExploitAdd"), obj.get("cisaActionDue")
    return NvdCve(
        cve=cve,
        published=str(obj.get("published", "")),
        last_modified=str(obj.get("lastModified", "")),
        status=str(obj.get("vulnStatus", "")),
        description=description[:2000],
        cvss=cvss,
        cvss_source=cvss_source,
        kev_date=_date(added, f"{where} cisaExploitAdd") if added else None,
        kev_due=_date(due, f"{where} cisaActionDue") if due else None,
        weaknesses=tuple(dict.fromkeys(weaknesses)),
        ranges=_nvd_ranges(obj.get("configurations"), where),
        source=where,
    )


def read_nvd(path: Path) -> list[NvdCve]:
    """An NVD CVE API 2.0 response (``{"format": "NVD_CVE", "vulnerabilities": [{"cve": ...}]}``)
    or one ``cve`` object as NVD serves it.  Any bad record fails the whole file."""
    data = _load_json(path, MAX_NVD_BYTES, "NVD CVE API 2.0 file")
    if isinstance(data, dict) and isinstance(data.get("vulnerabilities"), list):
        if str(data.get("version", "2.0")) != "2.0":
            raise InputFileError(f"{path.name} is NVD API {data.get('version')}; phaseout reads 2.0")
        return [
            nvd_record((item or {}).get("cve") if isinstance(item, dict) else None, f"{path.name} item {i}")
            for i, item in enumerate(data["vulnerabilities"], 1)
        ]
    if isinstance(data, dict) and "id" in data and ("configurations" in data or "descriptions" in data):
        return [nvd_record(data, path.name)]
    raise InputFileError(
        f"{path.name} is not an NVD CVE API 2.0 file (no vulnerabilities list or cve object)",
        hint="download with https://services.nvd.nist.gov/rest/json/cves/2.0?cveId=CVE-...",
    )
