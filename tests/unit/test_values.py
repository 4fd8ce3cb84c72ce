from __future__ import annotations

import datetime as dt

import pytest

from phaseout.domain import DeviceType, Sensitivity
from phaseout.ingest.values import parse_date, parse_device_type, parse_months, parse_sensitivity


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Camera", "camera"),
        ("IP Camera", "camera"),
        ("Dome", "camera"),
        ("NVR 16ch", "recorder"),
        ("DVR", "recorder"),
        ("Body-Worn Cam", "body-worn"),
        ("BWC", "body-worn"),
        ("Door Reader", "access-control"),
        ("Access Control", "access-control"),
        ("Door Station", "intercom"),
        ("Intercom", "intercom"),
        ("Thermal", "thermal"),
        ("Fridge", "other"),
    ],
)
def test_device_types(text: str, expected: str) -> None:
    assert parse_device_type(text) == DeviceType(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes", "sensitive"),
        ("sensitive", "sensitive"),
        ("No", "standard"),
        ("standard", "standard"),
        ("TRUE", "sensitive"),
    ],
)
def test_sensitivity(text: str, expected: str) -> None:
    assert parse_sensitivity(text) == Sensitivity(expected)


def test_sensitivity_rejects_other_words() -> None:
    with pytest.raises(ValueError, match="neither"):
        parse_sensitivity("maybe")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2027-03-04", dt.date(2027, 3, 4)),
        ("04/03/2027", dt.date(2027, 3, 4)),
        ("4 Mar 2027", dt.date(2027, 3, 4)),
        ("2027-03-04T10:00:00", dt.date(2027, 3, 4)),
        (dt.datetime(2027, 3, 4, 9), dt.date(2027, 3, 4)),
        (dt.date(2027, 3, 4), dt.date(2027, 3, 4)),
        ("Mar 2027", dt.date(2027, 3, 1)),
    ],
)
def test_dates_day_first(value: object, expected: dt.date) -> None:
    assert parse_date(value) == expected


def test_bad_date() -> None:
    with pytest.raises(ValueError, match="not a date"):
        parse_date("next spring")


@pytest.mark.parametrize(("value", "expected"), [("12", 12), ("6 months", 6), (12.0, 12), ("3m", 3)])
def test_months(value: object, expected: int) -> None:
    assert parse_months(value) == expected


@pytest.mark.parametrize("value", ["0", "200", "often"])
def test_bad_months(value: str) -> None:
    with pytest.raises(ValueError):
        parse_months(value)
