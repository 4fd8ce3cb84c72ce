"""Read an XLSX/XLSM sheet as numbered rows, streaming, within fixed bounds.

A workbook is a zip of XML parts (ECMA-376 Part 1, SpreadsheetML).  A reader that builds the
sheet as a dense grid can be made to ask for a grid of 17 billion cells by one far cell
reference in a 7 KB file; this one reads the sheet's XML as it inflates and hands each row on as
soon as it ends, so what it holds is one row plus the workbook's shared strings (which it caps).
Every other bound is checked as the bytes arrive, before anything is built from them: the zip's
member count and declared sizes before any part is inflated, the bytes actually inflated (a zip
may lie about its sizes), the row and column of every cell reference, the length of every cell.
A DTD is refused outright: a workbook never needs one, and its entities are how an XML file of a
few kilobytes expands to gigabytes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any
from xml.parsers import expat

from phaseout.errors import InputFileError
from phaseout.ingest.limits import (
    INFLATE_RATIO_FLOOR,
    MAX_CELL_CHARS,
    MAX_COLUMNS,
    MAX_DECOMPRESSED_BYTES,
    MAX_INFLATE_RATIO,
    MAX_SHEET_ROWS,
    MAX_ZIP_MEMBERS,
    SHARED_STRINGS_BASE_BYTES,
    BadRow,
)

Row = list[Any]
_CHUNK = 64 * 1024
_REF = re.compile(r"([A-Z]{1,3})(\d{1,7})")
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"[A-Z]*\d*:?[A-Z]*(\d+)\"")
#: Built-in number formats that show a date or time (ECMA-376 Part 1, 18.8.30 numFmt).
_DATE_FORMAT_IDS = frozenset([*range(14, 23), *range(27, 37), 45, 46, 47, *range(50, 59)])
#: Characters XML cannot hold are written ``_xHHHH_`` (ECMA-376 Part 1, 22.9.2.19 ST_Xstring).
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_REL_SHEET = "/worksheet"
_REL_STRINGS = "/sharedStrings"
_REL_STYLES = "/styles"


def _local(name: str) -> str:
    return name.rpartition(":")[2]


def _column(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text


def _refuse_dtd(*_args: Any) -> None:
    raise InputFileError(
        "the workbook's XML declares a DTD (entities), which no spreadsheet program writes",
        hint="a file built to expand in memory, or a damaged one: save the sheet again from Excel",
    )


class _Inflater:
    """Opens the parts of a workbook, counting every byte they inflate to."""

    def __init__(self, raw: IO[bytes], name: str, file_size: int) -> None:
        self.name = name
        self.file_size = file_size
        _check_directory(raw, name)
        try:
            self.zip = zipfile.ZipFile(raw)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
            raise InputFileError(
                f"cannot read {name} as a spreadsheet: {exc}",
                hint="is the file complete and not password-protected? Save it again as .xlsx or .csv",
            ) from None
        infos = self.zip.infolist()
        declared = sum(i.file_size for i in infos)
        limit = min(MAX_DECOMPRESSED_BYTES, max(INFLATE_RATIO_FLOOR, MAX_INFLATE_RATIO * file_size))
        if declared > limit:
            raise InputFileError(
                f"{name} would inflate to {declared / 1024**2:,.0f} MiB from {file_size / 1024**2:,.1f} MiB "
                f"(the limit is {limit / 1024**2:,.0f} MiB, {MAX_INFLATE_RATIO}x the file)",
                hint="a workbook this repetitive is not an inventory (a zip bomb?); export the sheet as CSV",
            )
        self.limit = limit
        self.inflated = 0
        # Some Windows tools write "xl\\workbook.xml": the same part, by another separator.
        self.names = {i.filename.replace("\\", "/").lstrip("/").lower(): i for i in infos}

    def has(self, part: str) -> bool:
        return part.lower() in self.names

    def chunks(self, part: str) -> Iterator[bytes]:
        info = self.names.get(part.lower())
        if info is None:
            raise InputFileError(f"{self.name} has no part {part!r}", hint="save the workbook again as .xlsx")
        try:
            with self.zip.open(info) as fh:
                while chunk := fh.read(_CHUNK):
                    self.inflated += len(chunk)
                    if self.inflated > self.limit:
                        raise InputFileError(
                            f"{self.name} inflates past {self.limit / 1024**2:,.0f} MiB (in {part})",
                            hint="the zip's sizes are false or the workbook is a zip bomb; export the sheet as CSV",
                        )
                    yield chunk
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError) as exc:
            raise InputFileError(
                f"{self.name} is damaged: {part}: {exc}",
                hint="a part is cut short, encrypted or larger than the zip says; save the workbook again",
            ) from None

    def parse(
        self,
        part: str,
        start: Callable[[str, dict[str, str]], None],
        end: Callable[[str], None] | None = None,
        text: Callable[[str], None] | None = None,
    ) -> Iterator[None]:
        """Feed a part to expat a chunk at a time; yields after each chunk so the caller can
        hand on what the handlers built."""
        parser = expat.ParserCreate()
        parser.buffer_text = True
        parser.buffer_size = _CHUNK
        parser.StartDoctypeDeclHandler = _refuse_dtd
        parser.EntityDeclHandler = _refuse_dtd
        parser.StartElementHandler = start
        if end is not None:
            parser.EndElementHandler = end
        if text is not None:
            parser.CharacterDataHandler = text
        try:
            for chunk in self.chunks(part):
                parser.Parse(chunk, False)
                yield None
            parser.Parse(b"", True)
        except expat.ExpatError as exc:
            raise InputFileError(
                f"{self.name}: {part} is not well-formed XML at line {exc.lineno}, column {exc.offset}: "
                f"{expat.ErrorString(exc.code)}",
                hint="the workbook is damaged; save it again from the spreadsheet program",
            ) from None
        yield None

    def parse_all(self, part: str, start: Callable[[str, dict[str, str]], None], **kw: Any) -> None:
        for _ in self.parse(part, start, **kw):
            pass


def _check_directory(raw: IO[bytes], name: str) -> None:
    """Refuse a zip that claims more parts than a workbook has, from its end record alone,
    before the zip module builds an object for each of them."""
    raw.seek(0, 2)
    size = raw.tell()
    raw.seek(max(0, size - 65_557))
    tail = raw.read()
    raw.seek(0)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        raise InputFileError(
            f"cannot read {name} as a spreadsheet: not a zip file",
            hint="is the file complete and not password-protected? Save it again as .xlsx or .csv",
        )
    entries = struct.unpack_from("<H", tail, at + 10)[0]
    if entries > MAX_ZIP_MEMBERS:
        raise InputFileError(
            f"{name} holds {entries:,} zip members; a workbook has tens (the limit is {MAX_ZIP_MEMBERS:,})",
            hint="this is not a spreadsheet saved by a spreadsheet program",
        )


class _Relations:
    """A part's relationships: id -> (type, target part)."""

    def __init__(self, book: _Inflater, part: str) -> None:
        self.by_id: dict[str, tuple[str, str]] = {}
        base = posixpath.dirname(part.replace("_rels/", "").removesuffix(".rels"))
        rels = part
        if not book.has(rels):
            return

        def start(tag: str, attrs: dict[str, str]) -> None:
            if _local(tag) == "Relationship" and "Id" in attrs and "Target" in attrs:
                target = attrs["Target"]
                path = (
                    target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(base, target))
                )
                self.by_id[attrs["Id"]] = (attrs.get("Type", ""), path)

        book.parse_all(rels, start)

    def first(self, kind: str) -> str | None:
        return next((path for typ, path in self.by_id.values() if typ.endswith(kind)), None)


def _date_styles(book: _Inflater, part: str | None) -> dict[int, str]:
    """Cell style index -> ``date`` or ``duration`` for the styles that show a number as one."""
    if part is None or not book.has(part):
        return {}
    custom: dict[int, str] = {}
    xfs: list[int] = []
    depth = {"cellXfs": False}

    def start(tag: str, attrs: dict[str, str]) -> None:
        name = _local(tag)
        if name == "numFmt":
            with contextlib.suppress(ValueError):
                custom[int(attrs.get("numFmtId", "-1"))] = attrs.get("formatCode", "")
        elif name == "cellXfs":
            depth["cellXfs"] = True
        elif name == "xf" and depth["cellXfs"]:
            try:
                xfs.append(int(attrs.get("numFmtId", "0")))
            except ValueError:
                xfs.append(0)

    def end(tag: str) -> None:
        if _local(tag) == "cellXfs":
            depth["cellXfs"] = False

    book.parse_all(part, start, end=end)

    def kind(fmt_id: int) -> str | None:
        if fmt_id == 46:  # [h]:mm:ss
            return "duration"
        if fmt_id in _DATE_FORMAT_IDS:
            return "date"
        raw = custom.get(fmt_id, "").lower()
        if re.search(r"\[(h+|m+|s+)\]", raw):
            return "duration"
        code = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.', "", raw)
        return "date" if code and code != "general" and any(ch in code for ch in "dmyhs") else None

    return {i: k for i, fmt in enumerate(xfs) if (k := kind(fmt)) is not None}


def _strip_from(pieces: list[str], start: int) -> None:
    """XML keeps the spaces around a text only under ``xml:space="preserve"`` (what Excel writes
    when they matter); without it they are layout, as calamine also reads them."""
    if len(pieces) == start + 1:
        piece = pieces[start]
        if piece and (piece[0].isspace() or piece[-1].isspace()):
            pieces[start] = piece.strip()
    elif len(pieces) > start:
        pieces[start:] = ["".join(pieces[start:]).strip()]


def _shared_strings(book: _Inflater, part: str | None) -> list[str]:
    """The workbook's shared strings, each cut to ``MAX_CELL_CHARS``, within a memory budget of
    ``SHARED_STRINGS_BASE_BYTES`` + 2 x the file size."""
    strings: list[str] = []
    if part is None or not book.has(part):
        return strings
    budget = SHARED_STRINGS_BASE_BYTES + 2 * book.file_size
    state: dict[str, Any] = {"pieces": [], "length": 0, "capture": False, "phonetic": 0, "used": 0}

    def start(tag: str, attrs: dict[str, str]) -> None:
        name = _local(tag)
        if name == "si":
            state["pieces"], state["length"] = [], 0
        elif name == "t" and not state["phonetic"]:
            state["capture"] = True
            state["from"], state["preserve"] = len(state["pieces"]), attrs.get("xml:space") == "preserve"
        elif name == "rPh":
            state["phonetic"] += 1

    def text(data: str) -> None:
        if state["capture"] and state["length"] < MAX_CELL_CHARS:
            piece = data[: MAX_CELL_CHARS - state["length"]]
            state["pieces"].append(piece)
            state["length"] += len(piece)

    def end(tag: str) -> None:
        name = _local(tag)
        if name == "t":
            if state["capture"] and not state["preserve"]:
                _strip_from(state["pieces"], state["from"])
            state["capture"] = False
        elif name == "rPh":
            state["phonetic"] -= 1
        elif name == "si":
            value = _unescape("".join(state["pieces"]))
            state["used"] += len(value) + 64
            if state["used"] > budget:
                raise InputFileError(
                    f"{book.name}'s shared strings need more than {budget / 1024**2:,.0f} MiB "
                    f"({len(strings):,} strings so far)",
                    hint="export the sheet as CSV, which phaseout reads line by line",
                )
            strings.append(value)

    book.parse_all(part, start, end=end, text=text)
    return strings


class _SheetReader:
    """expat handlers that turn a sheet's XML into rows, checking every reference."""

    def __init__(self, name: str, strings: list[str], dates: dict[int, str], epoch: dt.datetime) -> None:
        self.name = name
        self.strings = strings
        self.dates = dates
        self.epoch = epoch
        self.ready: list[tuple[int, Row]] = []
        self.row_no = 0
        self.cells: Row = []
        self.problem: str | None = None
        self.col = 0
        self.kind = "n"
        self.style = -1
        self.ref = ""
        self.pieces: list[str] = []
        self.length = 0
        self.capture = False
        self.phonetic = 0
        self.in_data = False
        self.in_inline = False
        self.text_from = 0
        self.preserve = False
        self.row_text = "0"
        self._names: dict[str, str] = {}  # tag as written -> local name (prefixes vary by tool)
        self._columns: dict[str, int] = {}  # column letters -> number

    def _name(self, tag: str) -> str:
        name = self._names.get(tag)
        if name is None:
            name = self._names[tag] = _local(tag)
        return name

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        name = self._names.get(tag) or self._name(tag)
        if name == "c":
            self._start_cell(attrs)
        elif name == "v":
            self.capture = self.kind != "inlineStr"  # an inline string's text is in <is>, not <v>
        elif name == "t" and self.in_inline and not self.phonetic:
            self.capture = True
            self.text_from, self.preserve = len(self.pieces), attrs.get("xml:space") == "preserve"
        elif name == "is":
            self.in_inline = True
        elif name == "row":
            self._start_row(attrs)
        elif name == "rPh":
            self.phonetic += 1
        elif name == "sheetData":
            self.in_data = True

    def _start_row(self, attrs: dict[str, str]) -> None:
        ref = attrs.get("r")
        number = self.row_no + 1
        if ref is not None:
            if not ref.isdigit() or len(ref) > 7:
                raise InputFileError(f"{self.name}: row reference {ref[:20]!r} is not a row number")
            number = int(ref)
        if number <= self.row_no:
            raise InputFileError(
                f"{self.name}: row {number:,} comes after row {self.row_no:,}",
                hint="rows out of order: the workbook was not written by a spreadsheet program; save it again",
            )
        if number > MAX_SHEET_ROWS:
            raise InputFileError(
                f"{self.name}: row {number:,} is past the last row a sheet can have ({MAX_SHEET_ROWS:,})",
                hint="a far cell reference that no spreadsheet writes; save the sheet again or export it as CSV",
            )
        self.row_no, self.cells, self.problem, self.col = number, [], None, 0
        self.row_text = str(number)

    def _start_cell(self, attrs: dict[str, str]) -> None:
        ref = attrs.get("r")
        if ref is None:
            col = self.col + 1
            ref = f"column {col} of row {self.row_no}"
        else:
            split = len(ref.rstrip("0123456789"))
            col = self._columns.get(ref[:split], 0)
            if not col:
                if _REF.fullmatch(ref) is None:
                    raise InputFileError(
                        f"{self.name}: cell reference {ref[:20]!r} is not a cell (row {self.row_no:,})"
                    )
                col = _column(ref[:split])
                if col <= 16_384:
                    self._columns[ref[:split]] = col
            if ref[split:] != self.row_text:
                raise InputFileError(
                    f"{self.name}: cell {ref[:20]} is inside row {self.row_no:,}",
                    hint="the workbook is damaged or was not written by a spreadsheet program; save it again",
                )
        if col > 16_384:  # Excel's last column, XFD
            raise InputFileError(f"{self.name}: cell reference {ref} is past the last column a sheet can have")
        self.col, self.ref = col, ref
        self.kind = attrs.get("t", "n")
        style = attrs.get("s")
        self.style = int(style) if style is not None and style.isdigit() else -1
        self.pieces, self.length = [], 0

    def text(self, data: str) -> None:
        if self.capture and self.length < MAX_CELL_CHARS:
            piece = data[: MAX_CELL_CHARS - self.length]
            self.pieces.append(piece)
            self.length += len(piece)

    def end(self, tag: str) -> None:
        name = self._names.get(tag) or self._name(tag)
        if name == "t":
            if self.capture and not self.preserve:
                _strip_from(self.pieces, self.text_from)
            self.capture = False
        elif name == "v":
            self.capture = False
        elif name == "is":
            self.in_inline = False
        elif name == "c":
            pieces = self.pieces
            value = self._value(pieces[0] if len(pieces) == 1 else "".join(pieces))
            if value not in ("", None):
                if self.col > MAX_COLUMNS:  # a styled but empty far cell is harmless; a value is not
                    raise InputFileError(
                        f"{self.name}: cell {self.ref} holds a value in column {self.col:,}; "
                        f"phaseout reads at most {MAX_COLUMNS:,} columns",
                        hint="delete the stray cell far to the right, or export only the inventory columns",
                    )
                cells = self.cells
                if len(cells) < self.col:
                    cells.extend([""] * (self.col - len(cells)))
                cells[self.col - 1] = value
        elif name == "row":
            cells = self.cells
            row: Row = BadRow(self.problem, cells) if self.problem else cells
            self.ready.append((self.row_no, row))
        elif name == "rPh":
            self.phonetic -= 1

    def _value(self, text: str) -> Any:
        kind = self.kind
        if kind == "s":
            if not text:
                return None
            try:
                value = self.strings[int(text)]
                if "\x00" in value:
                    self.problem = f"cell {self.ref} contains a NUL character (the file is damaged or not text)"
                return value
            except (ValueError, IndexError):
                self.problem = f"cell {self.ref} refers to shared string {text[:20]!r}, which the workbook lacks"
                return None
        if kind == "e":  # #N/A, #DIV/0!...: no value (as calamine reads it)
            return None
        if kind in ("inlineStr", "str"):
            value = _unescape(text)
            if "\x00" in value:
                self.problem = f"cell {self.ref} contains a NUL character (the file is damaged or not text)"
            return value
        if not text:
            return None
        if kind == "b":
            return text.strip() in ("1", "true")
        if kind == "d":
            return _iso(text)
        try:
            number = float(text)
        except ValueError:
            self.problem = f"cell {self.ref} holds {text[:40]!r} where a number was declared"
            return None
        shown = self.dates.get(self.style)
        if shown == "duration":
            return dt.timedelta(seconds=round(number * 86400))
        if shown == "date" and 0 <= number < 2_958_466:  # up to 9999-12-31
            when = self.epoch + dt.timedelta(seconds=round(number * 86400))
            if number < 1:
                return when.time()
            return when.date() if when.time() == dt.time() else when
        return number


def _iso(text: str) -> Any:
    """An ISO 8601 cell (``t="d"``): a date, a time or a date and time, as written."""
    try:
        if "T" in text or " " in text.strip():
            return dt.datetime.fromisoformat(text)
        if ":" in text:
            return dt.time.fromisoformat(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        return text


def read_xlsx(
    raw: IO[bytes], name: str, file_size: int, sheet: str | None
) -> tuple[str, int, Iterator[tuple[int, Row]]]:
    """(sheet name, estimated rows, rows): the named sheet (case-insensitive) or the first."""
    book = _Inflater(raw, name, file_size)
    root = _Relations(book, "_rels/.rels")
    workbook = root.first("/officeDocument") or "xl/workbook.xml"
    if not book.has(workbook):
        raise InputFileError(
            f"cannot read {name} as a spreadsheet: it has no workbook part",
            hint="is it really an .xlsx file? Save it again as .xlsx or .csv",
        )
    sheets: list[tuple[str, str]] = []
    flags = {"date1904": False}

    def start(tag: str, attrs: dict[str, str]) -> None:
        local = _local(tag)
        if local == "sheet":
            rid = next((v for k, v in attrs.items() if _local(k) == "id"), "")
            sheets.append((attrs.get("name", ""), rid))
        elif local == "workbookPr":
            flags["date1904"] = attrs.get("date1904", "0") in ("1", "true")

    book.parse_all(workbook, start)
    folder, base = posixpath.split(workbook)
    rels = _Relations(book, posixpath.join(folder, "_rels", base + ".rels"))
    if not sheets:
        raise InputFileError(f"{name} has no sheets")
    names = [n for n, _ in sheets]
    if sheet is None:
        chosen = sheets[0]
    else:
        found = next((s for s in sheets if s[0].lower() == sheet.lower()), None)
        if found is None:
            raise InputFileError(f"no sheet named {sheet!r} in {name}", hint=f"sheets: {', '.join(names)}")
        chosen = found
    kind, part = rels.by_id.get(chosen[1], ("", ""))
    if not kind.endswith(_REL_SHEET) or not book.has(part):
        raise InputFileError(
            f"sheet {chosen[0]!r} of {name} is not a worksheet phaseout can read (a chart sheet?)",
            hint=f"choose another with --sheet; sheets: {', '.join(names)}",
        )
    strings = _shared_strings(book, rels.first(_REL_STRINGS))
    dates = _date_styles(book, rels.first(_REL_STYLES))
    epoch = dt.datetime(1904, 1, 1) if flags["date1904"] else dt.datetime(1899, 12, 30)
    estimate = 0
    first = next(book.chunks(part), b"")
    if m := _DIMENSION.search(first):
        estimate = min(int(m.group(1)), MAX_SHEET_ROWS)
    reader = _SheetReader(name, strings, dates, epoch)

    def rows() -> Iterator[tuple[int, Row]]:
        for _ in book.parse(part, reader.start, end=reader.end, text=reader.text):
            if reader.ready:
                yield from reader.ready
                reader.ready.clear()

    return chosen[0], estimate, rows()
