"""Read a spreadsheet file as numbered rows of cells, whatever its format and encoding.

Everything streams, within the caps in :mod:`phaseout.ingest.limits`, so no file can make an
import hold more than a few hundred megabytes whatever it claims or contains (issue 13).
Only regular files are opened: a device such as ``/dev/zero`` or a FIFO never ends.

CSV: :mod:`phaseout.ingest.csv_stream` (encoding decided in one pass, then line by line; a row
it cannot split safely is a bad row with its number).  XLSX/XLSM: :mod:`phaseout.ingest.xlsx_stream`
(the sheet's XML read as it inflates).  XLS/XLSB/ODS: python-calamine, after the file-size and
zip checks.  Row numbers are 1-based and match what a user sees in Excel.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from phaseout.errors import InputFileError
from phaseout.ingest.csv_stream import DELIMITERS, CsvRecords, detect_encoding, open_text, sniff_delimiter
from phaseout.ingest.limits import MAX_CELL_CHARS, MAX_COLUMNS, MAX_FILE_BYTES, MAX_SHEET_ROWS, BadRow
from phaseout.ingest.xlsx_stream import read_xlsx

__all__ = ["DELIMITERS", "MAX_CELL_CHARS", "MAX_FILE_BYTES", "BadRow", "Row", "Table", "open_table", "sniff_delimiter"]

SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
XLSX_SUFFIXES = {".xlsx", ".xlsm"}
CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
#: calamine builds a whole sheet in memory: formats read through it are capped lower.
MAX_CALAMINE_BYTES = 64 * 1024**2

Row = list[Any]


@dataclass(slots=True)
class Table:
    """A readable sheet: its rows (an iterator, read once), an estimate of how many there are
    (for the progress bar), and what identifies the source.  ``expect_width`` tells a CSV
    reader the header's field count, so a row with another count is reported as bad."""

    name: str
    sheet: str | None
    checksum: str
    total_rows: int
    rows: Iterator[tuple[int, Row]]
    encoding: str | None = None
    delimiter: str | None = None
    expect_width: Callable[[int], None] | None = None


def _sha256(raw: IO[bytes]) -> str:
    digest = hashlib.sha256()
    raw.seek(0)
    while chunk := raw.read(1024 * 1024):
        digest.update(chunk)
    raw.seek(0)
    return digest.hexdigest()


def read_csv(path: Path, raw: IO[bytes], suffix: str) -> Table:
    encoding = detect_encoding(raw, path.name)
    raw.seek(0)
    text = open_text(raw, encoding)
    sample: list[str] = []
    for _ in range(30):
        line = text.readline(65536)
        if not line:
            break
        if line.strip():
            sample.append(line)
    if "\x00" in "".join(sample)[:4096]:
        raise InputFileError(f"{path.name} looks binary, not CSV", hint="export the sheet as CSV or XLSX")
    text.detach()  # keep the file open: closing this wrapper would close it
    raw.seek(0)
    text = open_text(raw, encoding)
    delimiter = "\t" if suffix == ".tsv" else sniff_delimiter(sample)
    records = CsvRecords(text, path.name, delimiter)

    def set_width(width: int) -> None:
        records.width = width

    return Table(
        name=path.name,
        sheet=None,
        checksum="",
        total_rows=encoding.lines,
        rows=iter(records),
        encoding=encoding.name,
        delimiter=delimiter,
        expect_width=set_width,
    )


def _calamine_rows(path: Path, sheet: Any) -> Iterator[tuple[int, Row]]:
    try:
        for number, row in enumerate(sheet.iter_rows(), start=1):
            if len(row) > MAX_COLUMNS:
                raise InputFileError(
                    f"{path.name}: row {number:,} reaches column {len(row):,}; phaseout reads at most {MAX_COLUMNS:,}",
                    hint="delete the stray cells far to the right, or save the sheet as .xlsx or CSV",
                )
            cells = [c[:MAX_CELL_CHARS] if isinstance(c, str) and len(c) > MAX_CELL_CHARS else c for c in row]
            if any(isinstance(c, str) and "\x00" in c for c in cells):
                yield number, BadRow("contains a NUL character (the file is damaged or not text)", cells)
                continue
            yield number, cells
    except InputFileError:
        raise
    except Exception as exc:  # calamine raises its own error types per format
        raise InputFileError(f"cannot read {path.name}: {exc}", hint="save it again as .xlsx or .csv") from None


def read_workbook(path: Path, raw: IO[bytes], size: int, sheet: str | None) -> Table:
    """XLS, XLSB and ODS through python-calamine, which holds the whole sheet: these formats are
    capped at ``MAX_CALAMINE_BYTES`` and an ODS zip gets the same inflation checks as XLSX."""
    from python_calamine import CalamineWorkbook

    if size > MAX_CALAMINE_BYTES:
        raise InputFileError(
            f"{path.name} is {size / 1024**2:,.0f} MiB; {path.suffix or 'this format'} files are read whole, "
            f"up to {MAX_CALAMINE_BYTES / 1024**2:,.0f} MiB",
            hint="save the sheet as .xlsx or CSV, which phaseout reads as a stream",
        )
    head = raw.read(4)
    raw.seek(0)
    if head == b"PK\x03\x04":
        from phaseout.ingest.xlsx_stream import _Inflater

        book = _Inflater(raw, path.name, size)
        for part in list(book.names):
            for _ in book.chunks(part):  # inflate every part once, counting, before calamine does
                pass
        raw.seek(0)
    data = raw.read()
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        names = list(workbook.sheet_names)
        if not names:
            raise InputFileError(f"{path.name} has no sheets")
        if sheet is None:
            chosen = workbook.get_sheet_by_index(0)
        else:
            match = next((n for n in names if n.lower() == sheet.lower()), None)
            if match is None:
                raise InputFileError(f"no sheet named {sheet!r} in {path.name}", hint=f"sheets: {', '.join(names)}")
            chosen = workbook.get_sheet_by_name(match)
    except InputFileError:
        raise
    except Exception as exc:  # calamine raises its own error types per format
        raise InputFileError(
            f"cannot read {path.name} as a spreadsheet: {exc}",
            hint="is the file complete and not password-protected? Save it again as .xlsx or .csv",
        ) from None
    return Table(
        name=path.name,
        sheet=chosen.name,
        checksum="",
        total_rows=min(int(chosen.total_height), MAX_SHEET_ROWS),
        rows=_calamine_rows(path, chosen),
    )


def _open_regular(path: Path) -> tuple[IO[bytes], int]:
    """The file, opened without blocking, if it is a regular file: a FIFO, a device such as
    ``/dev/zero`` or a socket is refused before a byte is read (it may never end)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise InputFileError(f"no such file: {path}", hint="check the path") from None
    except IsADirectoryError:
        raise InputFileError(f"{path} is a folder, not a file") from None
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror}") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        what = "a folder" if stat.S_ISDIR(info.st_mode) else "a device, pipe or socket"
        raise InputFileError(f"{path} is {what}, not a regular file", hint="save the data to a file and import that")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb"), info.st_size


def _rows_closing(raw: IO[bytes], rows: Iterator[tuple[int, Row]]) -> Iterator[tuple[int, Row]]:
    try:
        yield from rows
    finally:
        raw.close()


def open_table(path: Path | str, sheet: str | None = None, *, bad_rows: str = "raise") -> Table:
    """Open a CSV or spreadsheet file; raises :class:`InputFileError` with advice.

    A row the reader cannot split safely (see :class:`BadRow`) is yielded as a ``BadRow`` when
    ``bad_rows="yield"`` (the importers report it with the other bad rows); otherwise reading
    stops there with an :class:`InputFileError` naming the row, so a caller that does not know
    about bad rows can never skip one silently."""
    path = Path(path)
    raw, size = _open_regular(path)
    try:
        if size > MAX_FILE_BYTES:
            raise InputFileError(
                f"{path.name} is {size / 1024**3:.1f} GiB; the limit is {MAX_FILE_BYTES / 1024**3:.0f} GiB",
                hint="split the file",
            )
        checksum = _sha256(raw)
        head = raw.read(8)
        raw.seek(0)
        suffix = path.suffix.lower()
        table: Table
        if suffix in XLSX_SUFFIXES or (
            head[:4] == b"PK\x03\x04" and suffix not in SPREADSHEET_SUFFIXES and _is_xlsx(raw)
        ):
            name, estimate, rows = read_xlsx(raw, path.name, size, sheet)
            table = Table(name=path.name, sheet=name, checksum="", total_rows=estimate, rows=rows)
        elif suffix in SPREADSHEET_SUFFIXES or head[:4] == b"PK\x03\x04" or head == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
            table = read_workbook(path, raw, size, sheet)
        elif sheet is not None:
            raise InputFileError("--sheet applies to spreadsheet files, not CSV", hint="drop --sheet")
        elif suffix in CSV_SUFFIXES or not suffix:
            table = read_csv(path, raw, suffix)
        else:
            raise InputFileError(
                f"unknown file type {suffix!r} for {path.name}",
                hint="phaseout reads .csv, .tsv, .txt, .xlsx, .xlsm, .xls and .ods",
            )
    except BaseException:
        raw.close()
        raise
    table.checksum = checksum
    table.rows = _rows_closing(raw, table.rows if bad_rows == "yield" else _stop_at_bad(table.name, table.rows))
    return table


def _stop_at_bad(name: str, rows: Iterator[tuple[int, Row]]) -> Iterator[tuple[int, Row]]:
    for number, cells in rows:
        if isinstance(cells, BadRow):
            raise InputFileError(f"{name}, row {number:,}: {cells.reason}", hint="fix that row and try again")
        yield number, cells


def _is_xlsx(raw: IO[bytes]) -> bool:
    from phaseout.ingest.xlsx_stream import _check_directory

    try:
        _check_directory(raw, "")
        with zipfile.ZipFile(raw) as z:
            names = {n.lower() for n in z.namelist()[:MAX_COLUMNS]}
    except (InputFileError, zipfile.BadZipFile, OSError, ValueError):
        return False
    finally:
        raw.seek(0)
    return "xl/workbook.xml" in names
