"""Parse typed cell values (dates, numbers, yes/no, device types) the way people write them.

Each parser takes an already cleaned, non-empty string or a native cell value (a spreadsheet
gives dates and numbers natively) and raises ``ValueError`` with a readable reason.
"""

from __future__ import annotations

import datetime as dt
import re

from phaseout.domain import DeviceType, Sensitivity

_SENSITIVE = {
    "sensitive",
    "yes",
    "y",
    "true",
    "1",
    "high",
    "critical",
    "restricted",
    "secret",
    "official-sensitive",
}
_STANDARD = {"standard", "no", "n", "false", "0", "normal", "low", "medium", "std", "official", "public"}


def parse_sensitivity(value: str) -> Sensitivity:
    key = value.strip().lower()
    if key in _SENSITIVE:
        return Sensitivity.SENSITIVE
    if key in _STANDARD:
        return Sensitivity.STANDARD
    raise ValueError(f"sensitivity {value!r} is neither 'sensitive' nor 'standard' (yes/no also work)")


# Word -> device type.  Checked as whole words of the cell, longest phrase first.
_TYPE_WORDS: dict[str, DeviceType] = {
    "body worn camera": DeviceType.BODY_WORN,
    "body worn": DeviceType.BODY_WORN,
    "bodyworn": DeviceType.BODY_WORN,
    "bwc": DeviceType.BODY_WORN,
    "body cam": DeviceType.BODY_WORN,
    "access control": DeviceType.ACCESS_CONTROL,
    "door reader": DeviceType.ACCESS_CONTROL,
    "card reader": DeviceType.ACCESS_CONTROL,
    "access controller": DeviceType.ACCESS_CONTROL,
    "reader": DeviceType.ACCESS_CONTROL,
    "door station": DeviceType.INTERCOM,
    "intercom": DeviceType.INTERCOM,
    "doorbell": DeviceType.INTERCOM,
    "video door phone": DeviceType.INTERCOM,
    "thermal": DeviceType.THERMAL,
    "nvr": DeviceType.RECORDER,
    "dvr": DeviceType.RECORDER,
    "xvr": DeviceType.RECORDER,
    "recorder": DeviceType.RECORDER,
    "network video recorder": DeviceType.RECORDER,
    "camera": DeviceType.CAMERA,
    "cam": DeviceType.CAMERA,
    "cctv": DeviceType.CAMERA,
    "ipc": DeviceType.CAMERA,
    "ip camera": DeviceType.CAMERA,
    "dome": DeviceType.CAMERA,
    "bullet": DeviceType.CAMERA,
    "turret": DeviceType.CAMERA,
    "ptz": DeviceType.CAMERA,
    "fisheye": DeviceType.CAMERA,
}
_TYPE_PHRASES = sorted(_TYPE_WORDS, key=len, reverse=True)


def parse_device_type(value: str) -> DeviceType:
    """``"NVR 16ch"`` -> recorder, ``"Body-Worn Cam"`` -> body-worn; anything else -> other."""
    words = " " + " ".join("".join(c if c.isalnum() else " " for c in value.lower()).split()) + " "
    for phrase in _TYPE_PHRASES:
        if f" {phrase} " in words:
            return _TYPE_WORDS[phrase]
    try:
        return DeviceType(value.strip().lower())
    except ValueError:
        return DeviceType.OTHER


_DATE_FORMATS = (
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%d/%m/%y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %Y",
    "%B %Y",
    "%Y-%m",
    "%Y/%m/%d",
)
_ISO_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]")


def parse_date(value: object) -> dt.date:
    """Dates as spreadsheets hold them or people type them.  Numeric forms are read day
    first (``03/04/2027`` is 3 April), as UK and EU estates write them; ISO always works."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if _ISO_PREFIX.match(text):
        text = text[:10]
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"not a date: {text!r} (use YYYY-MM-DD, or DD/MM/YYYY)")


def parse_float(value: object, low: float, high: float, what: str) -> float:
    try:
        number = float(str(value).strip().replace(",", ".")) if not isinstance(value, float) else value
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a number") from None
    if not low <= number <= high:
        raise ValueError(f"{what} {number} is outside {low}..{high}")
    return number


def parse_months(value: object) -> int:
    text = str(value).strip().lower()
    for suffix in ("months", "month", "mths", "mth", "mo", "m"):
        if text.endswith(suffix):
            text = text[: -len(suffix)].strip()
            break
    try:
        months = int(float(text))
    except ValueError:
        raise ValueError(f"maintenance cycle {value!r} is not a number of months") from None
    if not 1 <= months <= 120:
        raise ValueError(f"maintenance cycle {months} months is outside 1..120")
    return months
