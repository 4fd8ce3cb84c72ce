"""Firmware versions of both makers, and the KEV / CVE feeds read from the real samples; bad
feeds are refused and change nothing."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from phaseout.assess.feeds import read_cve, read_cve_dir, read_kev
from phaseout.assess.firmware import compare, parse_firmware
from phaseout.errors import InputFileError

from ..conftest import SHARED

SAMPLES = SHARED / "research" / "knowledge" / "cve_samples"
needs_samples = pytest.mark.skipif(not SAMPLES.exists(), reason=f"feed samples not found at {SAMPLES}")


@pytest.mark.parametrize(
    ("text", "family", "version", "build"),
    [
        ("V5.5.0 build 170725", "hikvision", (5, 5, 0), dt.date(2017, 7, 25)),
        ("V5.4.0 Build 160530", "hikvision", (5, 4, 0), dt.date(2016, 5, 30)),
        ("V4.62.210 build 230619", "hikvision", (4, 62, 210), dt.date(2023, 6, 19)),
        ("V2.800.0000000.10.R, Build Date: 2019-07-25", "dahua", (2, 800, 10), dt.date(2019, 7, 25)),
        ("2.800.0000016.0.R,build:2020-06-05", "dahua", (2, 800, 0), dt.date(2020, 6, 5)),
        ("V2.620.00AC000.3.R", "dahua", (2, 620, 3), None),
        ("DH_IPC-HX1X2X-Themis_EngSpnFrn_N_V2.400.0000.30.R.20160803", "dahua", (2, 400, 30), dt.date(2016, 8, 3)),
        ("10.12.199", "other", (10, 12, 199), None),
    ],
)
def test_firmware_formats(text: str, family: str, version: tuple[int, ...], build: dt.date | None) -> None:
    fw = parse_firmware(text)
    assert fw is not None and (fw.family, fw.version, fw.build) == (family, version, build)


def test_firmware_custom_code_and_nonsense() -> None:
    assert parse_firmware("V2.620.00AC000.3.R").custom == "00AC000"  # type: ignore[union-attr]
    assert parse_firmware("no version here") is None and parse_firmware(None) is None
    assert parse_firmware("V5.5.0 build 171399").build is None  # type: ignore[union-attr]  # impossible date


def test_compare_version_then_build() -> None:
    a, b, c = (parse_firmware(t) for t in ("V5.4.0 build 160530", "V5.4.0 build 160601", "V5.5.0 build 150101"))
    assert a and b and c
    assert compare(a, b) == -1 and compare(b, a) == 1 and compare(b, c) == -1 and compare(a, a) == 0


@needs_samples
def test_real_kev_catalogue() -> None:
    kev = read_kev(SAMPLES / "kev_excerpt.json")
    assert kev.version == "2026.08.07" and len(kev.entries) == 24
    hik = kev.entries["CVE-2021-36260"]
    assert (hik.vendor, hik.date_added, hik.due_date) == ("Hikvision", dt.date(2022, 1, 10), dt.date(2022, 1, 24))
    assert kev.entries["CVE-2017-7921"].date_added == dt.date(2026, 3, 5)
    assert {"CVE-2021-33044", "CVE-2021-33045"} <= set(kev.entries)


@needs_samples
def test_real_cve_records() -> None:
    records = {r.cve: r for r in read_cve_dir(SAMPLES)}
    assert set(records) == {"CVE-2021-33044", "CVE-2021-36260", "CVE-2022-28173", "CVE-2025-31700"}
    assert (records["CVE-2021-36260"].cvss, records["CVE-2021-36260"].cvss_source) == (9.8, "CISA-ADP")
    assert records["CVE-2021-36260"].kev_date == dt.date(2022, 1, 10)
    assert records["CVE-2021-33044"].cvss is None and records["CVE-2021-33044"].kev_date == dt.date(2024, 8, 21)
    assert records["CVE-2025-31700"].cvss == 8.1 and "Dahua" in records["CVE-2025-31700"].description
    assert records["CVE-2022-28173"].affected


def _write(path: Path, data: object) -> Path:
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"title": "CISA Catalog", "catalogVersion": "1", "vulnerabilities": [{"cveID": "CVE-2021-', "not valid JSON"),
        ({"something": "else"}, "not a CISA KEV catalogue"),
        ({"catalogVersion": "1", "vulnerabilities": [{"cveID": "nope"}]}, "no valid cveID"),
        (
            {"catalogVersion": "1", "vulnerabilities": [{"cveID": "CVE-2021-1234", "dateAdded": "someday"}]},
            "not a date",
        ),
        ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
    ],
)
def test_bad_kev_files(tmp_path: Path, content: object, message: str) -> None:
    with pytest.raises(InputFileError, match=message):
        read_kev(_write(tmp_path / "kev.json", content))


def test_huge_feed_is_refused_without_reading(tmp_path: Path) -> None:
    huge = tmp_path / "kev.json"
    with huge.open("wb") as fh:
        fh.truncate(200 * 1024 * 1024)  # sparse: nothing is read
    with pytest.raises(InputFileError, match="at most"):
        read_kev(huge)


@needs_samples
def test_bad_cve_records(tmp_path: Path) -> None:
    record = json.loads((SAMPLES / "CVE-2025-31700.json").read_text(encoding="utf-8"))
    old = dict(record, dataVersion="4.0")
    with pytest.raises(InputFileError, match=r"phaseout reads 5\.x"):
        read_cve(_write(tmp_path / "CVE-2025-31700.json", old))
    with pytest.raises(InputFileError, match="not a CVE record"):
        read_cve(_write(tmp_path / "CVE-1.json", {"dataType": "SOMETHING"}))


@needs_samples
def test_update_command_changes_nothing_on_a_bad_file(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "data"), "COLUMNS": "200", "PATH": ""}

    def update(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "phaseout", "knowledge", "update", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )

    good = update("--kev", str(SAMPLES / "kev_excerpt.json"), "--cve", str(SAMPLES))
    assert good.returncode == 0 and "24 entries" in good.stdout
    folder = tmp_path / "data" / "phaseout" / "knowledge"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    bad_dir = tmp_path / "cves"
    shutil.copytree(SAMPLES, bad_dir)
    (bad_dir / "CVE-2099-0001.json").write_text('{"dataType": "CVE_RECORD", "dataVersion": "5.1"', encoding="utf-8")
    refused = update("--kev", str(SAMPLES / "kev_excerpt.json"), "--cve", str(bad_dir))
    assert refused.returncode == 3 and "CVE-2099-0001.json" in refused.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
