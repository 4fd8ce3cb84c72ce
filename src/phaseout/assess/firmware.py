"""Firmware version strings of both makers -> comparable versions.

Hikvision writes ``V5.5.0 build 170725`` (version, then the build date as yymmdd).  Dahua writes
``V2.800.0000000.10.R, Build Date: 2019-07-25`` or ``2.800.0000016.0.R,build:2020-06-05``: major
and minor version, a customer / OEM code (``0000000`` Dahua, ``00AC000`` Amcrest...), a build
number and a release letter, then the build date; package names such as
``DH_IPC-HX1X2X-Themis_Eng_P_V2.400.0000.30.R.20160803`` carry the date as yyyymmdd.  Vulnerability
advisories give ranges in these terms (Hikvision: version and build ranges; Dahua: "build time
before June 2021"), so both parts are kept.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_HIK = re.compile(r"V?(?P<version>\d+(?:\.\d+){1,3})\s*build\s*(?P<build>\d{6})\b", re.IGNORECASE)
_DAHUA = re.compile(
    r"V?(?P<major>\d)\.(?P<minor>\d{3})\.(?P<custom>[0-9A-Z]{4,7})\.(?P<n>\d{1,3})\.(?P<rel>[A-Z])"
    r"(?:[.,\s]*(?:build(?:\s*date)?\s*[:=]?\s*)?(?P<date>\d{4}-\d{2}-\d{2}|\d{8}))?",
    re.IGNORECASE,
)
_PLAIN = re.compile(r"V?(?P<version>\d+(?:\.\d+){1,3})")


@dataclass(frozen=True, slots=True)
class Firmware:
    raw: str
    family: str  # hikvision | dahua | other
    version: tuple[int, ...]  # comparable numeric version
    build: dt.date | None = None
    custom: str = ""  # Dahua customer / OEM code

    def __str__(self) -> str:
        text = ".".join(map(str, self.version))
        return f"{text} build {self.build.isoformat()}" if self.build else text


def _yymmdd(text: str) -> dt.date | None:
    try:
        return dt.date(2000 + int(text[:2]), int(text[2:4]), int(text[4:6]))
    except ValueError:
        return None


def _iso_or_compact(text: str) -> dt.date | None:
    try:
        if "-" in text:
            return dt.date.fromisoformat(text)
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def parse_firmware(text: str | None) -> Firmware | None:
    """The version and build date in a firmware string, or ``None`` when there is no version."""
    if not text:
        return None
    raw = " ".join(str(text).split())[:200]
    m = _DAHUA.search(raw)
    if m:
        date = _iso_or_compact(m.group("date")) if m.group("date") else None
        return Firmware(
            raw,
            "dahua",
            (int(m.group("major")), int(m.group("minor")), int(m.group("n"))),
            date,
            m.group("custom").upper(),
        )
    m = _HIK.search(raw)
    if m:
        return Firmware(
            raw, "hikvision", tuple(int(p) for p in m.group("version").split(".")), _yymmdd(m.group("build"))
        )
    m = _PLAIN.search(raw)
    if m:
        return Firmware(raw, "other", tuple(int(p) for p in m.group("version").split(".")))
    return None


def compare(a: Firmware, b: Firmware) -> int:
    """-1, 0 or 1: version first, then build date (a missing date compares equal)."""
    if a.version != b.version:
        return -1 if a.version < b.version else 1
    if a.build and b.build and a.build != b.build:
        return -1 if a.build < b.build else 1
    return 0


def compare_versions(a: Firmware, b: Firmware) -> int:
    """-1, 0 or 1 on the version numbers alone (the build date is judged separately)."""
    return -1 if a.version < b.version else 1 if a.version > b.version else 0
