"""The KEV catalogue in CSV form and NVD CVE API 2.0 records with their firmware ranges,
read from real published files (tests/data/feeds/SOURCES.md)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from phaseout.assess.feeds import parse_cpe, read_kev, read_nvd, version_key
from phaseout.errors import InputFileError

FEEDS = Path(__file__).resolve().parents[1] / "data" / "feeds"


def test_kev_csv_real_rows() -> None:
    kev = read_kev(FEEDS / "kev_excerpt_hikvision_dahua.csv")
    assert set(kev.entries) == {"CVE-2021-33044", "CVE-2021-33045", "CVE-2021-36260"}
    hik = kev.entries["CVE-2021-36260"]
    assert (hik.vendor, hik.date_added, hik.due_date) == ("Hikvision", dt.date(2022, 1, 10), dt.date(2022, 1, 24))
    assert kev.version == "csv:2024-08-21"


def test_kev_json_and_csv_agree(tmp_path: Path) -> None:
    """The same rows as the catalogue's JSON form give the same entries."""
    csv_kev = read_kev(FEEDS / "kev_excerpt_hikvision_dahua.csv")
    vulns = [
        {
            "cveID": e.cve,
            "vendorProject": e.vendor,
            "product": e.product,
            "vulnerabilityName": e.name,
            "dateAdded": e.date_added.isoformat(),
            "requiredAction": e.required_action,
            "dueDate": e.due_date.isoformat() if e.due_date else "",
            "knownRansomwareCampaignUse": e.ransomware,
        }
        for e in csv_kev.entries.values()
    ]
    path = tmp_path / "kev.json"
    path.write_text(json.dumps({"catalogVersion": "x", "dateReleased": "y", "vulnerabilities": vulns}))
    assert read_kev(path).entries == csv_kev.entries


def test_kev_csv_refuses_other_csv_and_truncation(tmp_path: Path) -> None:
    other = tmp_path / "kev.csv"
    other.write_text("cveID,vendor\nCVE-2021-36260,Hikvision\n")
    with pytest.raises(InputFileError, match="not the CISA KEV CSV"):
        read_kev(other)
    text = (FEEDS / "kev_excerpt_hikvision_dahua.csv").read_text()
    cut = tmp_path / "cut.csv"
    cut.write_text(text[: text.index("CVE-2021-36260") + 30])
    with pytest.raises(InputFileError):
        read_kev(cut)


def test_nvd_record_and_firmware_ranges() -> None:
    (rec,) = read_nvd(FEEDS / "nvd_CVE-2021-33044_excerpt.json")
    assert rec.cve == "CVE-2021-33044" and rec.cvss == 9.8 and rec.cvss_source == "nvd@nist.gov"
    assert rec.kev_date == dt.date(2024, 8, 21) and rec.weaknesses == ("CWE-287",)
    assert len(rec.ranges) == 3 and all(r.vulnerable and r.bounded for r in rec.ranges)
    hx3 = rec.ranges_for("dahuasecurity", "ipc-hx3xxx_firmware")[0]
    assert hx3.end_excluding == "2.800.0000000.29.r.210630"
    assert hx3.running_on == ("cpe:2.3:h:dahuasecurity:ipc-hx3xxx:-:*:*:*:*:*:*:*",)
    assert hx3.contains("V2.800.0000000.25.R") is True  # a device's own firmware string
    assert hx3.contains("2.800.0000000.29.R.210630") is False
    assert hx3.contains("") is None
    sd = rec.ranges_for("dahuasecurity", "tpc-sd2221_firmware")[0]
    assert sd.end_including and sd.contains(sd.end_including) is True


def test_nvd_api_response_shape(tmp_path: Path) -> None:
    obj = json.loads((FEEDS / "nvd_CVE-2021-33044_excerpt.json").read_text())
    page = {"resultsPerPage": 1, "startIndex": 0, "totalResults": 1, "format": "NVD_CVE", "version": "2.0"}
    path = tmp_path / "page.json"
    path.write_text(json.dumps(page | {"vulnerabilities": [{"cve": obj}]}))
    (rec,) = read_nvd(path)
    assert rec.cve == "CVE-2021-33044" and rec.source == "page.json item 1"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(page | {"vulnerabilities": [{"cve": obj | {"id": "nope"}}]}))
    with pytest.raises(InputFileError, match="not a CVE id"):
        read_nvd(bad)


def test_cpe_and_versions() -> None:
    cpe = parse_cpe(r"cpe:2.3:o:hikvision:ds-2cd2026g2-iu\/sl_firmware:-:*:*:*:*:*:*:*")
    assert cpe is not None and cpe.product == "ds-2cd2026g2-iu/sl_firmware" and cpe.any_version
    assert parse_cpe("not a cpe") is None
    assert version_key("V5.5.0 build 170725") < version_key("V5.5.52") < version_key("5.6.0")
