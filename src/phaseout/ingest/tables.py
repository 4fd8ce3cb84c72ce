"""Read a spreadsheet file as numbered rows of cells, whatever its format and encoding.

CSV: UTF-8 (with or without BOM), else cp1252 (what Excel on Windows writes); the
delimiter (comma, semicolon, tab or pipe) is chosen from the first lines.  XLSX/XLSM/XLS/ODS:
through python-calamine (a Rust reader, ~10x faster than openpyxl on large sheets).
Row numbers are 1-based and match what a user sees in Excel.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phaseout.errors import InputFileError

SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
DELIMITERS = (",", ";", "\t", "|")
#: Largest file accepted (a million-row asset register is ~150 MB as CSV).
MAX_FILE_BYTES = 2 * 1024**3
#: Longest cell kept; longer values are cut (a pasted log in a notes cell must not bloat the db).
MAX_CELL_CHARS = 2000

Row = list[Any]


@dataclass(slots=True)
class Table:
    """A readable sheet: its rows (an iterator, read once), an estimate of how many there are
    (for the progress bar), and what identifies the source."""

    name: str
    sheet: str | None
    checksum: str
    total_rows: int
    rows: Iterator[tuple[int, Row]]
    encoding: str | None = None
    delimiter: str | None = None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding name): UTF-8 with BOM, UTF-8, UTF-16 with BOM, else cp1252."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        # cp1252 leaves five bytes undefined; replace them rather than refuse the file.
        return data.decode("cp1252", errors="replace"), "cp1252"


def sniff_delimiter(sample_lines: list[str]) -> str:
    """The delimiter that splits most of the first lines into the same, largest number of
    fields.  Title rows above a header have few delimiters, so the most common count among
    lines that have any is what counts."""
    best, best_score = ",", (0, 0)
    for delim in DELIMITERS:
        counts: dict[int, int] = {}
        for line in sample_lines:
            n = line.count(delim)
            if n:
                counts[n] = counts.get(n, 0) + 1
        if not counts:
            continue
        fields, lines = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        score = (lines, fields)
        if score > best_score:
            best, best_score = delim, score
    return best


def _csv_rows(text: str, delimiter: str) -> Iterator[tuple[int, Row]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for number, row in enumerate(reader, start=1):
            if row and max(map(len, row)) > MAX_CELL_CHARS:
                row = [c[:MAX_CELL_CHARS] for c in row]
            yield number, row
    except csv.Error as exc:
        raise InputFileError(
            f"CSV parse error near line {reader.line_num}: {exc}",
            hint="check for an unbalanced quote character on that line",
        ) from exc


def read_csv(path: Path, data: bytes) -> Table:
    text, encoding = decode_text(data)
    if "\x00" in text[:4096]:
        raise InputFileError(f"{path.name} looks binary, not CSV", hint="export the sheet as CSV or XLSX")
    sample = [ln for ln in text[:65536].splitlines()[:30] if ln.strip()]
    delimiter = "\t" if path.suffix.lower() == ".tsv" else sniff_delimiter(sample)
    csv.field_size_limit(max(MAX_CELL_CHARS * 64, 131072))
    return Table(
        name=path.name,
        sheet=None,
        checksum=_sha256(data),
        total_rows=text.count("\n") + (0 if text.endswith("\n") else 1),
        rows=_csv_rows(text, delimiter),
        encoding=encoding,
        delimiter=delimiter,
    )


def _sheet_rows(sheet: Any) -> Iterator[tuple[int, Row]]:
    for number, row in enumerate(sheet.iter_rows(), start=1):
        yield (
            number,
            [c[:MAX_CELL_CHARS] if isinstance(c, str) and len(c) > MAX_CELL_CHARS else c for c in row],
        )


def read_workbook(path: Path, data: bytes, sheet: str | None) -> Table:
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine raises its own error types per format
        raise InputFileError(
            f"cannot read {path.name} as a spreadsheet: {exc}",
            hint="is the file complete and not password-protected? Save it again as .xlsx or .csv",
        ) from exc
    names = list(book.sheet_names)
    if not names:
        raise InputFileError(f"{path.name} has no sheets")
    if sheet is None:
        chosen = book.get_sheet_by_index(0)
    else:
        match = next((n for n in names if n.lower() == sheet.lower()), None)
        if match is None:
            raise InputFileError(f"no sheet named {sheet!r} in {path.name}", hint=f"sheets: {', '.join(names)}")
        chosen = book.get_sheet_by_name(match)
    return Table(
        name=path.name,
        sheet=chosen.name,
        checksum=_sha256(data),
        total_rows=int(chosen.total_height),
        rows=_sheet_rows(chosen),
    )


def open_table(path: Path | str, sheet: str | None = None) -> Table:
    """Open a CSV or spreadsheet file; raises :class:`InputFileError` with advice."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputFileError(f"no such file: {path}", hint="check the path") from None
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror}") from exc
    if path.is_dir():
        raise InputFileError(f"{path} is a folder, not a file")
    if size > MAX_FILE_BYTES:
        raise InputFileError(f"{path.name} is {size / 1024**3:.1f} GiB; the limit is 2 GiB", hint="split the file")
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix in SPREADSHEET_SUFFIXES or data[:4] == b"PK\x03\x04" or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return read_workbook(path, data, sheet)
    if sheet is not None:
        raise InputFileError("--sheet applies to spreadsheet files, not CSV", hint="drop --sheet")
    if suffix in CSV_SUFFIXES or not suffix:
        return read_csv(path, data)
    raise InputFileError(
        f"unknown file type {suffix!r} for {path.name}",
        hint="phaseout reads .csv, .tsv, .txt, .xlsx, .xlsm, .xls and .ods",
    )
