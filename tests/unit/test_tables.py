"""Reading files: encodings, delimiters, title rows, workbooks, and refusal of bad files."""

from __future__ import annotations

import datetime as dt
import os
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


def test_repeated_headers_keep_each_column(tmp_path: Path) -> None:
    """Before: three "Notes" columns kept only the last one's value, shown under the first's name
    by --dry-run; the middle one was lost."""
    from phaseout.ingest.inventory import parse_inventory
    from tests.hardening.bombs import repeated_header_csv

    mapped = open_mapped(repeated_header_csv(tmp_path / "rep.csv"), "devices")
    assert [h for h, _ in mapped.mapping.describe()][-3:] == ["Notes", "Notes (2)", "Notes (3)"]
    assert mapped.mapping.fields["description"] == 4
    record = next(iter(parse_inventory(mapped.data_rows, mapped.mapping)))
    assert record.description == "first"  # type: ignore[union-attr]
    assert record.extra == {"Notes (2)": "second", "Notes (3)": "third"}  # type: ignore[union-attr]


def test_multi_line_cells_are_kept_and_stray_quotes_are_bad_rows(tmp_path: Path) -> None:
    from phaseout.ingest.limits import BadRow

    path = tmp_path / "q.csv"
    path.write_text(
        "Site,Make,Model,Notes\r\n"
        '0001,Hikvision,DS-2CD2143G2-I,"car park\r\nnorth side"\r\n'  # a real two-line cell
        '0002,"Hikvision,DS-2CD2143G2-I,gate\r\n'  # a quote that never closes on its line
        '0003,Hikvision,DS-2CD2143G2-I,"door"\r\n'
        '0004,Hikvision,"DS-2CD2143G2-I,lobby\r\n'
        '0005,Dahua,IPC-HDW2431T,"yard"\r\n',
        encoding="utf-8",
    )
    mapped = open_mapped(path, "devices")
    rows = list(mapped.data_rows)
    good = {n: r for n, r in rows if not isinstance(r, BadRow)}
    bad = {n: r.reason for n, r in rows if isinstance(r, BadRow)}
    assert good[2][3] == "car park\r\nnorth side"
    assert set(bad) == {4, 6}
    assert "quote" in bad[4]
    assert good[5] == ["0003", "Hikvision", "DS-2CD2143G2-I", "door"]  # read again after the bad row
    assert good[7] == ["0005", "Dahua", "IPC-HDW2431T", "yard"]


def test_utf16_without_bom_and_cyrillic_code_page(tmp_path: Path) -> None:
    text = "Site;Make;Model\r\n1;Хиквижн;DS-2CD2143G2-I\r\n2;Дахуа;IPC-HDW2431T\r\n"
    wide = tmp_path / "wide.csv"
    wide.write_bytes(text.encode("utf-16-le"))
    table = open_table(wide)
    assert table.encoding == "utf-16-le"
    assert list(table.rows)[1][1][1] == "Хиквижн"
    legacy = tmp_path / "cyr.csv"
    legacy.write_bytes((text * 20).encode("cp1251"))
    table = open_table(legacy)
    assert table.encoding == "cp1251"
    assert list(table.rows)[2][1][1] == "Дахуа"


def test_xlsx_reader_agrees_with_calamine(tmp_path: Path) -> None:
    """The streaming XLSX reader gives what python-calamine gives for the same cells (dates as
    dates, numbers as floats, booleans), with Excel's own row numbers even when the sheet does
    not start at A1."""
    from python_calamine import CalamineWorkbook

    path = tmp_path / "kinds.xlsx"
    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet("Data")
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    ws.write_string(2, 1, "Site")
    ws.write_string(2, 2, "Model")
    ws.write_number(3, 1, 12)
    ws.write_string(3, 2, "DS-2CD2143G2-I\r\nsecond line")
    ws.write_datetime(4, 1, dt.datetime(2027, 3, 1), day)
    ws.write_datetime(4, 2, dt.datetime(2027, 3, 1, 10, 30), stamp)
    ws.write_boolean(5, 1, True)
    ws.write_number(5, 2, 3.5)
    ws.write_formula(6, 1, "=1+1", None, 2)
    book.close()
    ours = [(n, r) for n, r in open_table(path).rows]
    theirs = list(CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).iter_rows())
    assert [n for n, _ in ours] == [3, 4, 5, 6, 7]  # Excel's row numbers

    def trim(row: list[object]) -> list[object]:
        while row and row[-1] == "":
            row = row[:-1]
        return row

    # calamine 0.9 pads the rows above the first cell and starts at the first used column (B)
    assert [trim(r[1:]) for _, r in ours] == [trim(list(r)) for r in theirs[2:]]


def test_only_regular_files(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(InputFileError, match="not a regular file"):
        open_table(fifo)
    with pytest.raises(InputFileError, match="not a regular file"):
        open_table("/dev/zero")


def test_readers_that_do_not_know_bad_rows_stop_at_one(tmp_path: Path) -> None:
    """The catalogue and the installer's return read tables directly: a row that cannot be split
    safely stops them with its number instead of reaching them as a blank row (skipped silently)."""
    from tests.hardening.bombs import unbalanced_quote_csv

    table = open_table(unbalanced_quote_csv(tmp_path / "q.csv", rows=5))
    with pytest.raises(InputFileError, match="row 2: a quoted field") as info:
        list(table.rows)
    assert info.value.exit_code == 3
