"""Read a CSV file as numbered records, streaming, and never swallow rows silently.

Memory stays flat whatever the file: the encoding is decided in one pass over fixed-size
chunks, then lines are read one at a time (each capped at ``MAX_LINE_CHARS``) and split by the
standard ``csv`` module.  A record that the splitter cannot trust -- a quoted field that runs
past the end of its line and changes the row's field count, or reaches the end of the file, a
field count that differs from the header's, a NUL byte -- becomes a :class:`BadRow` with its
line number, and the lines it had swallowed are read again as rows of their own.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from phaseout.errors import InputFileError
from phaseout.ingest.limits import (
    MAX_BAD_ROWS,
    MAX_CELL_CHARS,
    MAX_LINE_CHARS,
    MAX_RECORD_LINES,
    MAX_ROWS,
    BadRow,
)

DELIMITERS = (",", ";", "\t", "|")
_CHUNK = 1024 * 1024
#: Single-byte code pages a legacy CSV may be in; cp1252 (Excel on Windows, Western Europe)
#: unless the text reads clearly better in another one.
_LEGACY = ("cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1257", "koi8_r", "shift_jis", "gb18030", "big5")
_OTHER_SCRIPTS = frozenset({"cp1251", "koi8_r", "cp1253", "shift_jis", "gb18030", "big5"})

Row = list[Any]


@dataclass(slots=True)
class Encoding:
    """What the bytes are, and how many lines there are (for the progress bar)."""

    name: str
    lines: int
    errors: str = "strict"


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 saved without a byte-order mark: every other byte of ASCII text is zero."""
    pairs = len(head) // 2
    if pairs < 8:
        return None
    even_zero = head[0 : pairs * 2 : 2].count(0)
    odd_zero = head[1 : pairs * 2 : 2].count(0)
    if odd_zero > 0.6 * pairs and even_zero == 0:
        return "utf-16-le"
    if even_zero > 0.6 * pairs and odd_zero == 0:
        return "utf-16-be"
    return None


def _line_of(data: bytes, offset: int, lines_before: int) -> int:
    return lines_before + data.count(b"\n", 0, offset) + 1


def _check_wide(stream: IO[bytes], name: str, encoding: str) -> Encoding:
    """Decode a UTF-16 file once, strictly, to find an odd byte count or a broken surrogate."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    lines = offset = 0
    while chunk := stream.read(_CHUNK):
        try:
            lines += decoder.decode(chunk).count("\n")
        except UnicodeDecodeError as exc:
            raise InputFileError(
                f"{name} is not valid {encoding.upper()}: {exc.reason} at byte {offset + exc.start:,} "
                f"(near line {lines + 1:,})",
                hint="save the file again as UTF-8 CSV",
            ) from None
        offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"{name} ends in the middle of a UTF-16 character (an odd number of bytes: {offset:,})",
            hint="the file is cut short or not UTF-16; save it again as UTF-8 CSV",
        ) from exc
    return Encoding(encoding, lines)


def _classify_lines(stream: IO[bytes], name: str) -> tuple[int, int | None, int | None, bytes]:
    """(line count, first non-ASCII line that is UTF-8, first line that is not, a sample of
    the non-UTF-8 lines).  Works in fixed-size chunks: a line longer than a chunk is judged by
    its pieces."""
    lines = 0
    utf8_line: int | None = None
    other_line: int | None = None
    sample = bytearray()
    carry = b""
    while True:
        chunk = stream.read(_CHUNK)
        data = carry + chunk
        if chunk:
            cut = data.rfind(b"\n") + 1
            if cut == 0 and len(data) < 4 * _CHUNK:
                carry = data
                continue
            complete, carry = (data[:cut], data[cut:]) if cut else (data, b"")
        else:
            complete, carry = data, b""
        if not complete.isascii():
            for i, line in enumerate(complete.split(b"\n")):
                if line.isascii():
                    continue
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    if other_line is None:
                        other_line = lines + i + 1
                    if len(sample) < 65536:
                        sample += line + b"\n"
                else:
                    if utf8_line is None:
                        utf8_line = lines + i + 1
        lines += complete.count(b"\n")
        if not chunk:
            break
    return lines, utf8_line, other_line, bytes(sample)


def _legacy_code_page(sample: bytes) -> str:
    """cp1252 (what Excel on Windows writes in Western Europe) unless charset-normalizer finds the
    text is in another script's code page (Cyrillic, Greek, CJK exports).  Among the Latin code
    pages it cannot tell cp1252 from cp1250 on short text, so a Latin guess means cp1252."""
    from charset_normalizer import from_bytes

    best = from_bytes(sample, cp_isolation=list(_LEGACY)).best()
    if best is not None and best.encoding in _OTHER_SCRIPTS and best.chaos < 0.2:
        return str(best.encoding)
    return "cp1252"


def detect_encoding(stream: IO[bytes], name: str) -> Encoding:
    """Read the whole file once, in chunks, and say how to decode it -- or refuse it when it is
    binary, broken UTF-16, or a mix of UTF-8 and another encoding (which no single choice can
    read without garbling part of it)."""
    head = stream.read(65536)
    stream.seek(0)
    if head.startswith(codecs.BOM_UTF8):
        stream.seek(3)
        found = _classify_lines(stream, name)
        if found[2] is not None:
            raise InputFileError(
                f"{name} starts as UTF-8 but line {found[2]:,} is not UTF-8",
                hint="the file mixes encodings; open it in a text editor and save it again as UTF-8",
            )
        return Encoding("utf-8-sig", found[0])
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _check_wide(stream, name, "utf-16")
    wide = _utf16_without_bom(head)
    if wide is not None:
        return _check_wide(stream, name, wide)
    if b"\x00" in head[:4096]:
        raise InputFileError(f"{name} looks binary, not CSV", hint="export the sheet as CSV or XLSX")
    lines, utf8_line, other_line, sample = _classify_lines(stream, name)
    if other_line is None:
        return Encoding("utf-8", lines)
    if utf8_line is not None:
        raise InputFileError(
            f"{name} mixes encodings: line {utf8_line:,} is UTF-8 but line {other_line:,} is not",
            hint="whichever is chosen garbles the other; open the file in a text editor and save it again as UTF-8",
        )
    # cp1252 leaves five bytes undefined; replace them rather than refuse the file.
    return Encoding(_legacy_code_page(sample), lines, errors="replace")


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


class _TooLong(Exception):
    """A quoted field has spanned more lines than a cell plausibly holds."""


class _Lines:
    """Physical lines for ``csv.reader``, each numbered, with the lines of the record being
    read kept (``taken``) so a bad record's swallowed lines can be read again.  Lines too long
    to read or holding a NUL are noted in ``flagged`` (line -> reason) for the record reader."""

    def __init__(self, text: IO[str], name: str) -> None:
        self.text = text
        self.name = name
        self.number = 0  # of the last line read from the file
        self.again: deque[tuple[int, str]] = deque()
        self.taken: list[tuple[int, str]] = []
        self.flagged: dict[int, str] = {}

    def feed(self) -> Iterator[str]:
        """The lines, for one ``csv.reader`` (a generator: cheaper per line than ``__next__``)."""
        readline = self.text.readline
        taken = self.taken
        again = self.again
        limit = MAX_LINE_CHARS + 1
        while True:
            if again:
                number, line = again.popleft()
            else:
                try:
                    line = readline(limit)
                except UnicodeDecodeError as exc:
                    raise InputFileError(
                        f"{self.name}: undecodable bytes near line {self.number + 1:,} ({exc.reason})",
                        hint="the file changed while it was read, or mixes encodings; save it again as UTF-8",
                    ) from None
                if not line:
                    return
                self.number = number = self.number + 1
                if len(line) >= limit and not line.endswith(("\n", "\r")):
                    line = self._skip_long(number, line)
                elif "\x00" in line:
                    self.flagged[number] = "contains a NUL character (the file is damaged or not text)"
            taken.append((number, line))
            if len(taken) > MAX_RECORD_LINES:
                raise _TooLong
            yield line

    def _skip_long(self, number: int, line: str) -> str:
        """Read past the rest of an over-long line in bounded pieces; a blank line stands in."""
        length = len(line)
        more = ""
        while (more := self.text.readline(MAX_LINE_CHARS)) and not more.endswith(("\n", "\r")):
            length += len(more)
        length += len(more)
        self.flagged[number] = f"line {number:,} is {length:,} characters long; the limit is {MAX_LINE_CHARS:,}"
        return "\n"

    def put_back(self, lines: list[tuple[int, str]]) -> None:
        self.again.extendleft(reversed(lines))


class CsvRecords:
    """Numbered CSV records (number = the record's first line).  ``width`` is the header's field
    count once it is known (set by the caller); until then a multi-line record is judged against
    the widest single-line record seen so far."""

    def __init__(self, text: IO[str], name: str, delimiter: str) -> None:
        self.lines = _Lines(text, name)
        self.name = name
        self.delimiter = delimiter
        self.width: int | None = None
        self._seen_width = 0
        self.bad = 0

    def _reader(self) -> Iterator[list[str]]:
        return csv.reader(self.lines.feed(), delimiter=self.delimiter, strict=True)

    def _bad(self, first: int, reason: str, taken: list[tuple[int, str]]) -> tuple[int, BadRow]:
        """Report the record's first line and read the lines after it again."""
        self.bad += 1
        if self.bad > MAX_BAD_ROWS:
            raise InputFileError(
                f"{self.name}: more than {MAX_BAD_ROWS:,} rows cannot be read (last at line {first:,})",
                hint="is this really a CSV export of the sheet? Check the delimiter and the quotes",
            )
        self.lines.put_back([t for t in taken if t[0] > first])
        return first, BadRow(reason)

    def _judge(self, first: int, last: int, row: list[str]) -> str | None:
        """Why a record that spans lines ``first``..``last`` cannot be trusted, if it cannot."""
        flagged = self.lines.flagged
        if flagged:
            for number in range(first, last + 1):
                if number in flagged:
                    return flagged.pop(number)
        expected = self.width or self._seen_width
        if last > first:
            if expected and len(row) != expected:
                return (
                    f"a quoted field opens on line {first:,} and runs past the end of the line to line {last:,}, "
                    f"giving {len(row)} fields where the header has {expected}: an unbalanced quote?"
                )
            return None
        if self.width is not None and row:
            extra = row[self.width :]
            if len(row) < self.width or any(c.strip() for c in extra):
                return f"has {len(row)} fields where the header has {self.width}: a missing or extra delimiter?"
        return None

    def _failed(self, exc: Exception) -> tuple[int, BadRow]:
        """The record the reader gave up on (a quote left open, a field past the limit)."""
        taken = list(self.lines.taken)
        first = taken[0][0] if taken else self.lines.number
        if isinstance(exc, _TooLong):
            reason = (
                f"a quoted field opens on line {first:,} and is still open {MAX_RECORD_LINES} lines later: "
                "an unbalanced quote?"
            )
        else:
            reason = str(exc)
            if "unexpected end of data" in reason:
                reason = f"a quoted field opens on line {first:,} and never closes: an unbalanced quote?"
            elif "expected" in reason and "after" in reason:
                reason = f"a quote closes in the middle of a field ({reason})"
        self.lines.flagged.pop(first, None)
        return self._bad(first, reason, taken)

    def __iter__(self) -> Iterator[tuple[int, Row]]:
        lines = self.lines
        taken = lines.taken
        reader = self._reader()
        records = 0
        while True:
            taken.clear()
            try:
                row = next(reader)
            except StopIteration:
                return
            except (_TooLong, csv.Error) as exc:
                yield self._failed(exc)
                reader = self._reader()
                continue
            first = taken[0][0]
            width = self.width
            # The common case, kept cheap: one line, nothing flagged, the header's field count.
            if len(taken) != 1 or lines.flagged or (width is not None and len(row) != width):
                last = taken[-1][0]
                why = self._judge(first, last, row)
                if why is not None:
                    yield self._bad(first, why, list(taken))
                    if last > first:
                        reader = self._reader()
                    continue
            elif width is None and len(row) > self._seen_width:
                self._seen_width = len(row)
            records += 1
            if records > MAX_ROWS:
                raise InputFileError(
                    f"{self.name} has more than {MAX_ROWS:,} rows (at line {first:,})",
                    hint="split the file; phaseout imports at most this many rows at once",
                )
            if row and max(map(len, row)) > MAX_CELL_CHARS:
                row = [c[:MAX_CELL_CHARS] for c in row]
            yield first, row


def open_text(raw: IO[bytes], encoding: Encoding) -> io.TextIOWrapper:
    """The file as text, read lazily: only a buffer's worth is decoded at a time."""
    return io.TextIOWrapper(raw, encoding=encoding.name, errors=encoding.errors, newline="")
