"""Bounded readers for hostile files: text lines, CSV rows, JSON records and XML elements.

Every reader here streams and refuses, with a clear error, what would make memory grow with
the file: a line longer than ``MAX_LINE_CHARS``, one XML record (an nmap ``host``, a Nessus
``ReportHost``) larger than ``MAX_RECORD_BYTES`` or nested deeper than ``MAX_XML_DEPTH``, XML
entity declarations (billion laughs, external entities: refused by defusedxml), a whole-file
JSON document over ``MAX_JSON_DOCUMENT`` (JSON Lines stream instead).  Text encodings are
found from the BOM, then UTF-8, then charset-normalizer (GBK, Big5, Shift-JIS... as real
exports from Chinese-made tools come in), then cp1252.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import xml.etree.ElementTree as ET  # entity/DTD declarations are refused first: check_prolog
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any
from xml.etree.ElementTree import Element, ParseError

import orjson

from phaseout.errors import InputFileError

MAX_LINE_CHARS = 1024 * 1024
MAX_RECORD_BYTES = 32 * 1024 * 1024
MAX_XML_DEPTH = 64
MAX_RECORD_ELEMENTS = 200_000
MAX_JSON_DOCUMENT = 64 * 1024 * 1024
HEAD_BYTES = 64 * 1024


GZIP_MAGIC = b"\x1f\x8b"


def open_binary(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed on the fly when it is gzip (``shodan download`` writes
    ``.json.gz``).  Streaming, so a gzip bomb costs time, never memory: every reader above
    caps lines, records and documents on the decompressed bytes."""
    fh = path.open("rb")
    if fh.read(2) == GZIP_MAGIC:
        fh.seek(0)
        return gzip.GzipFile(fileobj=fh, mode="rb")  # type: ignore[return-value]
    fh.seek(0)
    return fh


def _broken_gzip(path: Path, exc: Exception) -> InputFileError:
    return InputFileError(f"{path.name}: compressed data broken ({exc})", hint="a truncated download? fetch it again")


def read_head(path: Path, size: int = HEAD_BYTES) -> bytes:
    try:
        with open_binary(path) as fh:
            return fh.read(size)
    except (OSError, EOFError) as exc:
        raise InputFileError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from exc


def detect_encoding(head: bytes) -> str:
    """The encoding of a text file from its first bytes (see the module docstring)."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if head.startswith(bom):
            return name
    if len(head) >= 4 and head[1] == 0 and head[3] == 0 and head[0] != 0:
        return "utf-16-le"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3 and len(head) >= HEAD_BYTES - 3:
            return "utf-8"  # only the last character was cut by the read
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - a declared dependency
        return "cp1252"
    results = from_bytes(head)
    for match in results:  # few, repeated CJK words (a model column) can look like a Greek codepage:
        if match.encoding in _CJK and _mostly_cjk(str(match)):  # a CJK candidate that decodes
            return match.encoding  # every non-ASCII run to CJK text is the better reading
    best = results.best()
    return best.encoding if best is not None else "cp1252"


_CJK = {"gb18030", "gbk", "gb2312", "big5", "big5hkscs", "cp950", "cp932", "shift_jis", "euc_jp", "euc_kr", "cp949"}


def _mostly_cjk(text: str) -> bool:
    wide = [c for c in text if ord(c) > 127]
    if not wide:
        return False
    cjk = sum(1 for c in wide if "\u3040" <= c <= "\u30ff" or "\u3400" <= c <= "\u9fff" or "\uac00" <= c <= "\ud7af")
    return cjk >= 0.9 * len(wide)


def head_text(path: Path, size: int = HEAD_BYTES) -> str:
    """The first ``size`` bytes as text, for recognising the format."""
    head = read_head(path, size)
    return head.decode(detect_encoding(head), errors="replace").lstrip("\ufeff")


def open_text(path: Path) -> IO[str]:
    encoding = detect_encoding(read_head(path))
    return io.TextIOWrapper(open_binary(path), encoding=encoding, errors="replace", newline="")


def iter_lines(path: Path, limit: int = MAX_LINE_CHARS) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its end) for each line; a line longer than
    ``limit`` characters is an error naming it, read no further than the limit."""
    with open_text(path) as fh:
        number = 0
        while True:
            try:
                line = fh.readline(limit + 1)
            except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
                raise _broken_gzip(path, exc) from None
            if not line:
                return
            number += 1
            if len(line) > limit and not line.endswith("\n"):
                raise InputFileError(
                    f"{path.name} line {number} is longer than {limit:,} characters",
                    hint="is this really a text export? a line that long is not a record",
                )
            yield number, line.rstrip("\r\n").lstrip("\ufeff") if number == 1 else line.rstrip("\r\n")


def iter_csv(path: Path, delimiter: str | None = None) -> Iterator[tuple[int, list[str]]]:
    """(line number where the row starts, cells) for each CSV row, streaming."""
    lines = iter_lines(path)
    first = next(lines, None)
    if first is None:
        return
    if delimiter is None:
        counts = {d: first[1].count(d) for d in (",", ";", "\t", "|")}
        delimiter = max(counts, key=lambda d: counts[d])
    position = [first[0]]

    def text() -> Iterator[str]:
        yield first[1] + "\n"
        for number, line in lines:
            position[0] = number
            yield line + "\n"

    reader = csv.reader(text(), delimiter=delimiter)
    try:
        start = 1
        for cells in reader:
            yield start, cells
            start = position[0] + 1
    except csv.Error as exc:
        raise InputFileError(f"{path.name} line {position[0]}: {exc}") from None


class _CappedReader(io.RawIOBase):
    """A file the XML parser reads through: refuses to read more than ``MAX_RECORD_BYTES`` past
    the end of the last complete record (one huge text node or attribute would otherwise be
    held in memory whole)."""

    def __init__(self, raw: IO[bytes], name: str) -> None:
        self.raw = raw
        self.name_ = name
        self.read_bytes = 0
        self.mark = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.read_bytes - self.mark > MAX_RECORD_BYTES:
            raise InputFileError(
                f"{self.name_}: one record runs past byte {self.read_bytes:,} "
                f"({MAX_RECORD_BYTES // 2**20} MiB without a complete record)",
                hint="a hostile or damaged file: no real record is that large",
            )
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.read_bytes += len(data)
        return len(data)


_PROLOG_REFUSED = re.compile(r"<!ENTITY|<!DOCTYPE[^>]*(?:\[|\bSYSTEM\b|\bPUBLIC\b)", re.I)
_ROOT = re.compile(rb"<(?![?!])")


def check_prolog(path: Path) -> None:
    """Refuse what makes XML dangerous before the fast parser sees the file.

    Entities and external references can only be declared in the prolog (before the root
    element), so a prolog without ``<!ENTITY``, an internal DTD subset or an external DTD is
    a document in which no entity can expand: no billion laughs, no external fetch.  A plain
    ``<!DOCTYPE nmaprun>`` (real nmap output) passes.  The same rules defusedxml applies,
    checked once, so the body can go through the C-accelerated parser."""
    head = read_head(path, HEAD_BYTES)
    body = head.lstrip(codecs.BOM_UTF8)
    pos = 0
    while True:
        m = _ROOT.search(body, pos)
        if m is None:
            raise InputFileError(f"{path.name}: no XML root element in the first {HEAD_BYTES // 1024} KiB")
        if body[m.start() : m.start() + 4] == b"<!--":
            end = body.find(b"-->", m.start())
            if end < 0:
                raise InputFileError(f"{path.name}: unterminated comment before the root element")
            pos = end + 3
            continue
        break
    prolog = body[: m.start()].decode("utf-8", errors="replace")
    # comments may mention anything: drop them before looking for declarations
    prolog = re.sub(r"<!--.*?-->", "", prolog, flags=re.S)
    if found := _PROLOG_REFUSED.search(prolog):
        raise InputFileError(
            f"{path.name}: refused XML construct ({found.group(0)[:20]!r}: entity or DTD declaration)",
            hint="entity declarations and external references are never expanded",
        )


def iter_xml(path: Path, record_tags: frozenset[str]) -> Iterator[Element]:
    """Each complete element whose tag (namespace stripped) is in ``record_tags``, in order.

    The element is cleared after the caller is done with it, so memory holds one record.
    ``check_prolog`` refuses entity and DTD declarations first; the body is then parsed by
    the standard library's C parser (several times faster than a pure-Python one)."""
    check_prolog(path)
    with open_binary(path) as raw:
        capped = _CappedReader(raw, path.name)
        stream = io.BufferedReader(capped, 64 * 1024)
        stack: list[Element] = []
        inside = 0  # elements opened inside the current record
        level = 0  # depth of the current record's element
        try:
            for event, elem in ET.iterparse(stream, events=("start", "end")):
                if event == "start":
                    stack.append(elem)
                    if len(stack) > MAX_XML_DEPTH:
                        raise InputFileError(
                            f"{path.name}: XML nested deeper than {MAX_XML_DEPTH} levels",
                            hint="a hostile or damaged file: real reports are a few levels deep",
                        )
                    if inside:
                        inside += 1
                        if inside > MAX_RECORD_ELEMENTS:
                            raise InputFileError(f"{path.name}: one record holds over {MAX_RECORD_ELEMENTS:,} elements")
                    elif local(elem.tag) in record_tags:
                        inside, level = 1, len(stack)
                    continue
                depth = len(stack)
                stack.pop()
                if inside and depth == level:
                    yield elem
                    inside = 0
                    capped.mark = capped.read_bytes
                    elem.clear()
                    if stack:
                        stack[-1].remove(elem)
                elif not inside and len(stack) <= 1:
                    elem.clear()  # report-level clutter (scaninfo, verbose...) is not kept
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise _broken_gzip(path, exc) from None
        except ParseError as exc:
            records = "" if not stack else f" inside <{local(stack[-1].tag)}>"
            raise InputFileError(
                f"{path.name}: XML broken at line {exc.position[0]}, column {exc.position[1]}{records}: {exc}",
                hint="a truncated file? export it again; nothing was imported",
            ) from None


def local(tag: str) -> str:
    """An element's tag without its namespace."""
    return tag.rsplit("}", 1)[-1]


def iter_json(path: Path) -> Iterator[tuple[str, Any]]:
    """(position, value) for each JSON record: one per line for JSON Lines, else the whole
    document once (at most ``MAX_JSON_DOCUMENT`` bytes).  Deep nesting is refused by orjson."""
    head = read_head(path, 4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    first = head[:1]
    whole = first == b"["
    if first == b"{":
        for _number, line in iter_lines(path):
            if line.strip():
                try:
                    orjson.loads(line)
                except orjson.JSONDecodeError:
                    whole = True
                break
    if not whole:
        for number, line in iter_lines(path):
            if not line.strip():
                continue
            try:
                yield f"line {number}", orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield f"line {number}", InputFileError(f"not JSON ({exc})")
        return
    try:
        with open_binary(path) as fh:
            data = fh.read(MAX_JSON_DOCUMENT + 1)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise _broken_gzip(path, exc) from None
    if len(data) > MAX_JSON_DOCUMENT:
        raise InputFileError(
            f"{path.name} is one JSON document of over {MAX_JSON_DOCUMENT:,} bytes, the most read whole",
            hint="export it as JSON Lines (one record per line), which is read as a stream",
        )
    try:
        yield "document", orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputFileError(f"{path.name} is not valid JSON ({exc}): truncated?") from None
