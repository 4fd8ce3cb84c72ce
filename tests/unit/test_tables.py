"""Reading files: encodings, delimiters, title rows, workbooks, and refusal of bad files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import xlsxwriter

from phaseout.errors import InputFileError
from phaseout.ingest.prepare import open_mapped
from phaseout.ingest.tables import open_table, sniff_delimiter

ROWS = [
    ["Site", "Make", "Model", "MAC"],
    ["0001", "Hikvision", "DS-2CD2143G2-I", "28:57:BE:00:00:01"],
    ["0002", "Bosch", "NDE-5503-AL", "00:04:63:00:00:02"],
]


def _csv(rows: list[list[str]], delim: str) -> str:
    return "\r\n".join(delim.join(r) for r in rows) + "\r\n"


@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_csv_dialects(tmp_path: Path, delim: str, encoding: str) -> None:
    rows = [*ROWS, ["0003", "Société Générale Caméras", "X1", ""]]
    path = tmp_path / "inv.csv"
    path.write_bytes(_csv(rows, delim).encode(encoding))
    table = open_table(path)
    assert table.delimiter == delim
    got = [r for _, r in table.rows]
    assert got[0] == ROWS[0]
    assert got[3][1] == "Société Générale Caméras"  # cp1252 accents survive


def test_cp1252_detected(tmp_path: Path) -> None:
    path = tmp_path / "win.csv"
    path.write_bytes("Site;Make\r\n1;Caméra €\r\n".encode("cp1252"))
    table = open_table(path)
    assert table.encoding == "cp1252"
    assert list(table.rows)[1][1] == ["1", "Caméra €"]


def test_title_rows_do_not_confuse_delimiter() -> None:
    lines = ["CCTV register", "Exported 01/11/2026", "", "a;b;c;d", "1;2;3;4", "5;6;7;8"]
    assert sniff_delimiter([ln for ln in lines if ln]) == ";"


def test_header_below_title_rows(tmp_path: Path) -> None:
    path = tmp_path / "titled.csv"
    path.write_text("Asset register,,,\nNorth region,,,\n,,,\n" + _csv(ROWS, ","), encoding="utf-8")
    mapped = open_mapped(path, "devices")
    assert mapped.mapping.header_row == 4
    assert mapped.mapping.fields == {"site": 0, "manufacturer": 1, "model": 2, "mac": 3}
    assert [n for n, _ in mapped.data_rows] == [5, 6]


def test_xlsx_first_sheet_and_named_sheet(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    book = xlsxwriter.Workbook(str(path))
    other = book.add_worksheet("Notes")
    other.write(0, 0, "nothing here")
    cams = book.add_worksheet("Cameras")
    cams.write(0, 0, "Title row")
    for r, row in enumerate(ROWS, start=2):
        for c, v in enumerate(row):
            cams.write_string(r, c, v)
    cams.write_datetime(5, 0, dt.datetime(2027, 3, 1))
    book.close()
    assert open_table(path).sheet == "Notes"
    mapped = open_mapped(path, "devices", sheet="cameras")
    assert mapped.table.sheet == "Cameras"
    assert mapped.mapping.header_row == 3
    rows = list(mapped.data_rows)
    assert rows[0] == (4, ["0001", "Hikvision", "DS-2CD2143G2-I", "28:57:BE:00:00:01"])
    with pytest.raises(InputFileError, match="no sheet named"):
        open_table(path, sheet="Missing")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "no such file"),
        ("empty.csv", b"", "empty"),
        ("data.pdf", b"%PDF-1.4", "unknown file type"),
        ("broken.xlsx", b"PK\x03\x04 not really a zip", "cannot read"),
        ("noheader.csv", b"1,2,3\n4,5,6\n", "no header row"),
    ],
)
def test_bad_files_get_clear_errors(tmp_path: Path, name: str, content: bytes | None, message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputFileError, match=message) as info:
        open_mapped(path, "devices")
    assert info.value.exit_code == 3


def test_long_cells_are_capped(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text("Site,Model\n1," + "A" * 100_000 + "\n", encoding="utf-8")
    rows = list(open_table(path).rows)
    assert len(rows[1][1][1]) == 2000
