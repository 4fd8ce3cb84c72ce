"""Hostile import files, generated small on disk (never committed as binaries).

Each maker writes one file that attacks one resource of the importer: memory through a far
cell reference, through one huge cell or through millions of repeated rows; the parser through
an unbalanced quote or a DTD.  The workbooks are written by hand from the Office Open XML parts
(ECMA-376 Part 1, SpreadsheetML: [Content_Types].xml, workbook.xml, worksheets/sheetN.xml,
sharedStrings.xml), since a writing library would refuse to produce most of them.  Used by the
tests in this folder and by ``bench/import_memory.py``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Cameras" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/></Relationships>'
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)
HEADER = ("Site", "Make", "Model", "MAC")


def _cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def _row(number: int, values: tuple[str, ...]) -> str:
    cells = "".join(_cell(f"{chr(65 + i)}{number}", v) for i, v in enumerate(values))
    return f'<row r="{number}">{cells}</row>'


def _write(path: Path, sheet_parts: list[bytes] | bytes, doctype: str = "", level: int = 9) -> Path:
    """A workbook whose one sheet's XML is the concatenation of ``sheet_parts`` (written in
    pieces, deflated, so a multi-gigabyte sheet never sits in memory)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _ROOT_RELS)
        z.writestr("xl/workbook.xml", _WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            head = _SHEET_HEAD
            if doctype:
                head = head.replace("?>", "?>" + doctype, 1)
            fh.write(head.encode())
            fh.write(b"<sheetData>")
            for part in [sheet_parts] if isinstance(sheet_parts, bytes) else sheet_parts:
                fh.write(part)
            fh.write(b"</sheetData></worksheet>")
    return path


def normal_xlsx(path: Path, rows: int = 3) -> Path:
    """A plain, valid inventory: header and ``rows`` Hikvision cameras."""
    body = [_row(1, HEADER).encode()]
    body += [_row(i + 2, (f"{i % 50 + 1:04d}", "Hikvision", "DS-2CD2143G2-I", _mac(i))).encode() for i in range(rows)]
    return _write(path, body)


def _mac(i: int) -> str:
    return f"28:57:BE:{i >> 16 & 255:02X}:{i >> 8 & 255:02X}:{i & 255:02X}"


def far_cell_xlsx(path: Path) -> Path:
    """A valid header and row, then one cell at XFD1048576, the last cell Excel allows: a reader
    that builds the sheet as a dense grid asks for 17 billion cells."""
    body = _row(1, HEADER) + _row(2, ("0001", "Hikvision", "DS-2CD2143G2-I", _mac(1)))
    body += '<row r="1048576">' + _cell("XFD1048576", "x") + "</row>"
    return _write(path, body.encode())


def huge_cell_xlsx(path: Path, cell_bytes: int = 1024**3, level: int = 9) -> Path:
    """One cell holding ``cell_bytes`` of text (1 GiB by default; ~1 MB on disk)."""
    chunk = b"A" * (1024 * 1024)
    parts = [_row(1, HEADER).encode(), b'<row r="2">', b'<c r="A2" t="inlineStr"><is><t>']

    def filler() -> list[bytes]:
        return [chunk] * (cell_bytes // len(chunk))

    parts += filler()
    parts += [b"</t></is></c>", b"</row>"]
    return _write(path, parts, level=level)


def many_rows_xlsx(path: Path, rows: int = 6_700_000, level: int = 9) -> Path:
    """Millions of identical device rows (cell references may be left out: ECMA-376 makes ``r``
    optional) compress to a few megabytes."""
    row = (
        "<row>"
        + "".join(
            f'<c t="inlineStr"><is><t>{v}</t></is></c>'
            for v in ("0001", "Hikvision", "DS-2CD2143G2-I", "28:57:BE:00:00:01")
        )
        + "</row>"
    ).encode()
    block = row * 10_000
    parts = [_row(1, HEADER).encode()] + [block] * (rows // 10_000) + [row * (rows % 10_000)]
    return _write(path, parts, level=level)


def entity_xlsx(path: Path, depth: int = 9) -> Path:
    """The "billion laughs": a DTD whose entities expand tenfold per level, used in a cell."""
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{"".join(f"&lol{i - 1};" for _ in range(10))}">' for i in range(1, depth + 1)
    )
    doctype = f"<!DOCTYPE worksheet [{entities}]>"
    body = _row(1, HEADER) + f'<row r="2"><c r="A2" t="inlineStr"><is><t>&lol{depth};</t></is></c></row>'
    return _write(path, body.encode(), doctype=doctype)


def declared_size_lie_xlsx(path: Path, rows: int = 100_000) -> Path:
    """A sheet whose zip headers say it inflates to 1,000 bytes while it inflates to megabytes:
    a reader that trusts the declared size is misled about what it is about to hold."""
    normal = path.with_suffix(".tmp")
    with zipfile.ZipFile(normal, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, text in (
            ("[Content_Types].xml", _CONTENT_TYPES),
            ("_rels/.rels", _ROOT_RELS),
            ("xl/workbook.xml", _WORKBOOK),
            ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
        ):
            z.writestr(name, text)
        rows_xml = "".join(_row(i + 2, ("0001", "Hikvision", "DS-2CD2143G2-I", _mac(i))) for i in range(rows))
        z.writestr(
            "xl/worksheets/sheet1.xml",
            _SHEET_HEAD + "<sheetData>" + _row(1, HEADER) + rows_xml + "</sheetData></worksheet>",
        )
        info = z.getinfo("xl/worksheets/sheet1.xml")
    data = bytearray(normal.read_bytes())
    normal.unlink()
    lie = (1000).to_bytes(4, "little")
    data[info.header_offset + 22 : info.header_offset + 26] = lie  # local file header

    for start in _central_entries(bytes(data)):
        if bytes(data[start + 46 : start + 46 + 24]) == b"xl/worksheets/sheet1.xml":
            data[start + 24 : start + 28] = lie  # central directory

    path.write_bytes(bytes(data))
    return path


def _central_entries(data: bytes) -> list[int]:
    out, at = [], data.find(b"PK\x01\x02")
    while at != -1:
        out.append(at)
        at = data.find(b"PK\x01\x02", at + 4)
    return out


def unbalanced_quote_csv(path: Path, rows: int = 200) -> Path:
    """One opening quote that never closes, in the first data row, then ``rows`` good rows."""
    lines = ["Site,Make,Model,MAC", '0001,"Hikvision,DS-2CD2143G2-I,28:57:BE:00:00:00']
    lines += [f"{i % 50 + 1:04d},Hikvision,DS-2CD2143G2-I,{_mac(i + 1)}" for i in range(rows)]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


def large_csv(path: Path, rows: int) -> Path:
    """A plain inventory CSV of ``rows`` devices (the memory baseline of a normal import)."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("Site,Make,Model,MAC,Notes\r\n")
        for i in range(rows):
            fh.write(f"{i % 500 + 1:04d},Hikvision,DS-2CD2143G2-I,{_mac(i)},Camera {i % 120 + 1} on the car park\r\n")
    return path


def wrong_width_csv(path: Path) -> Path:
    """A row with one delimiter too many, and one with a delimiter missing, among good rows."""
    path.write_text(
        "Site,Make,Model,MAC\r\n"
        "0001,Hikvision,DS-2CD2143G2-I,28:57:BE:00:00:01\r\n"
        "0002,Hikvision,DS-2CD2143G2-I,28:57:BE:00:00:02,extra\r\n"
        "0003,Hikvision DS-2CD2143G2-I,28:57:BE:00:00:03\r\n"
        "0004,Hikvision,DS-2CD2143G2-I,28:57:BE:00:00:04\r\n",
        encoding="utf-8",
    )
    return path


def odd_utf16_csv(path: Path) -> Path:
    """UTF-16 with its byte-order mark, one byte short (a file cut in the middle of a character)."""
    text = "Site,Make,Model,MAC\r\n0001,Hikvision,DS-2CD2143G2-I,28:57:BE:00:00:01\r\n"
    path.write_bytes(text.encode("utf-16")[:-1])
    return path


def mixed_encoding_csv(path: Path) -> Path:
    """A UTF-8 export with lines appended later by a cp1252 tool (both with accents)."""
    utf8 = "Site,Make,Model,Notes\r\n0001,Hikvision,DS-2CD2143G2-I,Caméra entrée\r\n".encode()
    legacy = "0002,Hikvision,DS-2CD2143G2-I,Caméra réserve\r\n".encode("cp1252")
    path.write_bytes(utf8 + legacy)
    return path


def nul_byte_csv(path: Path) -> Path:
    """A NUL byte in a cell far enough down that a look at the first kilobytes misses it."""
    lines = ["Site,Make,Model,MAC"] + [f"{i % 50 + 1:04d},Hikvision,DS-2CD2143G2-I,{_mac(i)}" for i in range(200)]
    lines.append("0009,Hik\x00vision,DS-2CD2143G2-I,28:57:BE:00:10:00")
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


def huge_cell_csv(path: Path, cell_bytes: int = 64 * 1024**2) -> Path:
    """One line holding a ``cell_bytes`` cell, between good rows."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("Site,Make,Model,MAC,Notes\r\n0001,Hikvision,DS-2CD2143G2-I,28:57:BE:00:00:01,ok\r\n")
        fh.write("0002,Hikvision,DS-2CD2143G2-I,28:57:BE:00:00:02,")
        for _ in range(cell_bytes // (1024 * 1024)):
            fh.write("A" * 1024 * 1024)
        fh.write("\r\n0003,Hikvision,DS-2CD2143G2-I,28:57:BE:00:00:03,ok\r\n")
    return path


def repeated_header_csv(path: Path) -> Path:
    """Three columns with the same header: each keeps its own values."""
    path.write_text(
        "Site,Make,Model,MAC,Notes,Notes,Notes\r\n"
        "0001,Hikvision,DS-2CD2143G2-I,28:57:BE:00:00:01,first,second,third\r\n",
        encoding="utf-8",
    )
    return path


def nul_escape_xlsx(path: Path) -> Path:
    """A cell holding ``_x0000_``, the escape SpreadsheetML uses for a character XML cannot hold:
    a NUL, which PostgreSQL refuses in text."""
    body = _row(1, HEADER) + _row(2, ("0001", "Hik_x0000_vision", "DS-2CD2143G2-I", _mac(1)))
    return _write(path, body.encode())
