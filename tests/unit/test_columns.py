"""Column mapping from the header names estates teams use."""

from __future__ import annotations

import pytest

from phaseout.errors import UsageError
from phaseout.ingest.columns import find_header, map_columns


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Make", "manufacturer"),
        ("Manufacturer", "manufacturer"),
        ("Vendor", "manufacturer"),
        ("Brand", "brand"),
        ("Model", "model"),
        ("Model No.", "model"),
        ("Part Number", "model"),
        ("Camera Model", "model"),
        ("MAC", "mac"),
        ("MAC Address", "mac"),
        ("Physical Address", "mac"),
        ("Camera MAC address", "mac"),
        ("IP", "ip"),
        ("IP Address", "ip"),
        ("Host", "ip"),
        ("Serial", "serial"),
        ("S/N", "serial"),
        ("Serial No", "serial"),
        ("Serial Number", "serial"),
        ("Site", "site"),
        ("Store", "site"),
        ("Store No", "site"),
        ("Location", "site"),
        ("Building", "site"),
        ("Firmware", "firmware"),
        ("Version", "firmware"),
        ("FW", "firmware"),
        ("Description", "description"),
        ("Notes", "description"),
        ("Camera Name", "description"),
        ("Device Type", "device_type"),
        ("Recorder", "parent"),
    ],
)
def test_single_header(header: str, field: str) -> None:
    mapping = map_columns([header, "Unrelated"], "devices")
    assert mapping.fields == {field: 0}
    assert mapping.extra == {"Unrelated": 1}


def test_best_column_wins_and_loser_is_kept_as_evidence() -> None:
    mapping = map_columns(["Store No", "Location", "Make", "Model", "Notes"], "devices")
    assert mapping.fields["site"] == 0  # "store no" ranks above "location"
    assert mapping.extra == {"Location": 1}
    assert mapping.fields["description"] == 4


def test_overrides_and_ignore() -> None:
    mapping = map_columns(["Cam Make", "Ref", "Model"], "devices", {"cam make": "manufacturer", "Model": "-"})
    assert mapping.fields == {"manufacturer": 0}
    assert "Model" not in mapping.extra


@pytest.mark.parametrize(
    ("override", "message"), [({"Nope": "model"}, "not in the header"), ({"Ref": "colour"}, "unknown field")]
)
def test_bad_overrides(override: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        map_columns(["Make", "Ref"], "devices", override)


def test_header_found_below_title_and_needs_two_fields() -> None:
    rows = [(1, ["Camera list for Store 12"]), (2, []), (3, ["Make", "Model", "MAC"]), (4, ["Hik", "DS-2", ""])]
    assert find_header(rows, "devices")[0] == 3


def test_site_sheet_mapping() -> None:
    mapping = map_columns(
        [
            "Store No",
            "Store Name",
            "Region",
            "Lat",
            "Long",
            "Sensitive?",
            "Next Maintenance",
            "Maintenance Cycle (months)",
            "Format",
        ],
        "sites",
    )
    assert mapping.fields == {
        "code": 0,
        "name": 1,
        "region": 2,
        "latitude": 3,
        "longitude": 4,
        "sensitivity": 5,
        "next_maintenance": 6,
        "maintenance_cycle_months": 7,
        "site_type": 8,
    }
