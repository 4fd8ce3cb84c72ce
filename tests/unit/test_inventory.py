"""Rows -> inventory records: normalisation, row errors, evidence kept."""

from __future__ import annotations

from phaseout.domain import InventoryRecord
from phaseout.errors import RowError
from phaseout.ingest.columns import map_columns
from phaseout.ingest.inventory import parse_inventory

HEADERS = ["Store", "Make", "Model", "MAC", "IP", "Type", "Asset Tag"]


def _parse(rows: list[list[object]], site: str | None = None) -> list[InventoryRecord | RowError]:
    mapping = map_columns(HEADERS, "devices")
    return list(parse_inventory(enumerate(rows, start=2), mapping, site))


def test_normalises_and_keeps_extra_columns() -> None:
    (rec,) = _parse([["12", " Hikvision ", "DS-2CD2143G2-I", "2857.be12.3456", "127.000.0.9", "Dome", "Till 3"]])
    assert isinstance(rec, InventoryRecord)
    assert (rec.site, rec.manufacturer, rec.mac, rec.ip, rec.device_type) == (
        "12",
        "Hikvision",
        "28:57:BE:12:34:56",
        "127.0.0.9",
        "camera",
    )
    assert rec.extra == {"type_as_written": "Dome"}
    assert rec.asset_id == "Till 3"  # "Asset Tag" is the asset-ID key (merged after MAC and serial)
    assert rec.observation_fields()["asset_id"] == "Till 3"


def test_blank_rows_skipped_and_placeholders_dropped() -> None:
    out = _parse([["", "", "", "", "", "", ""], ["12", "N/A", "DS-2CD2143G2-I", "-", "", "", ""]])
    assert len(out) == 1
    rec = out[0]
    assert isinstance(rec, InventoryRecord)
    assert rec.manufacturer is None and rec.mac is None and rec.device_type == "unknown"


def test_row_errors_name_row_column_and_reason() -> None:
    out = _parse(
        [
            ["12", "Hik", "X", "28:57:BE:12:34", "", "", ""],
            ["13", "Hik", "X", "", "999.1.1.1", "", ""],
            ["", "Hik", "X", "", "", "", ""],
            ["14", "", "", "", "", "", ""],
        ]
    )
    errors = [e for e in out if isinstance(e, RowError)]
    assert [(e.row, e.column) for e in errors] == [(2, "MAC"), (3, "IP"), (4, "site"), (5, None)]
    assert "not a MAC" in errors[0].reason
    assert errors[0].values["Model"] == "X"
    assert "no device details" in errors[3].reason


def test_host_column_holding_a_name_becomes_hostname() -> None:
    (rec,) = _parse([["12", "Axis", "P3245-LVE", "", "cam-7.store12.example", "", ""]])
    assert isinstance(rec, InventoryRecord)
    assert rec.ip is None and rec.hostname == "cam-7.store12.example"


def test_default_site_overrides() -> None:
    (rec,) = _parse([["", "Axis", "P3245-LVE", "", "", "", ""]], site="0042")
    assert isinstance(rec, InventoryRecord) and rec.site == "0042"


def test_fields_built_while_parsing_equal_the_record() -> None:
    """The parser keeps the observation fields as it reads; they must equal what the record holds."""
    rows = [
        ["12", " Hikvision ", "DS-2CD2143G2-I", "2857.be12.3456", "cam-1.example", "Dome", "Till 3"],
        ["13", "Axis", "", "", "127.0.0.5", "", ""],
        ["", "Bosch", "NDE", "", "", "", ""],
    ]
    mapping = map_columns(HEADERS, "devices")
    for rec in parse_inventory(enumerate(rows, start=2), mapping, None):
        if isinstance(rec, InventoryRecord):
            built = rec.observation_fields()
            rec.fields = None
            assert built == rec.observation_fields()
    for rec in parse_inventory(enumerate(rows, start=2), mapping, "0042"):
        assert isinstance(rec, InventoryRecord)
        built = rec.observation_fields()
        rec.fields = None
        assert built == rec.observation_fields()


def test_a_row_that_only_says_a_camera_is_there_is_a_device() -> None:
    """Make blank, type given: the unknown the programme must resolve is kept, not rejected."""
    (rec,) = _parse([["14", "", "", "", "", "Dome", ""]])
    assert isinstance(rec, InventoryRecord) and rec.device_type == "camera" and rec.manufacturer is None
