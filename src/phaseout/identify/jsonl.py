"""The ``phaseout identify`` stream: JSON Lines of device records in, one identification per
line out, same order, same ``id``.  A bad line gets ``{"id": ..., "error": "..."}`` and the
stream goes on."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from typing import IO, Any

import orjson

from phaseout.identify.engine import Identifier
from phaseout.identify.facts import ObservationError

#: Longest input line read whole; longer lines are skipped with an error (a 50 MB raw field fits).
MAX_LINE_BYTES = 64 * 1024 * 1024


def read_lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """(line number, UTF-8 bytes) per line; ``None`` for a line over ``MAX_LINE_BYTES`` (consumed).

    JSON Lines is UTF-8, but Windows tools write otherwise: Notepad and PowerShell's
    ``Out-File -Encoding utf8`` start the file with a byte order mark, and Windows PowerShell's
    ``>`` writes UTF-16LE.  A UTF-8 mark is dropped; UTF-16 and UTF-32 (told by their mark, or by
    a first ``{`` with a zero byte beside it) are decoded and passed on as UTF-8."""
    head = stream.read(4)
    if head.startswith(codecs.BOM_UTF8):
        yield from _utf8_lines(_Rest(head[3:], stream))
        return
    encoding = _wide_encoding(head)
    if encoding:
        yield from _wide_lines(head, stream, encoding)
        return
    yield from _utf8_lines(_Rest(head, stream))


def _wide_encoding(head: bytes) -> str | None:
    """The UTF-16 / UTF-32 encoding the first bytes of a JSON Lines file show, or None."""
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head[:2] == b"{\x00":
        return "utf-16-le"
    if head[:2] == b"\x00{":
        return "utf-16-be"
    return None


class _Rest:
    """A byte stream whose first few bytes were read already (to look for a byte order mark)."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self.head = head
        self.stream = stream

    def readline(self, limit: int) -> bytes:
        if not self.head:
            return self.stream.readline(limit)
        head, self.head = self.head, b""
        end = head.find(b"\n")
        if end >= 0:
            self.head = head[end + 1 :]
            return head[: end + 1]
        return head + self.stream.readline(max(limit - len(head), 1))


def _utf8_lines(stream: _Rest) -> Iterator[tuple[int, bytes | None]]:
    number = 0
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while True:  # skip the rest of the over-long line without holding it
                rest = stream.readline(1024 * 1024)
                if not rest or rest.endswith(b"\n"):
                    break
            yield number, None
            continue
        yield number, line


def _wide_lines(head: bytes, stream: IO[bytes], encoding: str) -> Iterator[tuple[int, bytes | None]]:
    """Lines of a UTF-16 / UTF-32 stream, decoded a megabyte at a time, as UTF-8 bytes; a line
    over ``MAX_LINE_BYTES`` characters is skipped without being held whole."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    number = 0
    pending: list[str] = []
    size = 0
    skipping = False
    chunk = head
    while True:
        text = decoder.decode(chunk, final=not chunk)
        while text:
            end = text.find("\n")
            part, text = (text, "") if end < 0 else (text[: end + 1], text[end + 1 :])
            if not skipping:
                pending.append(part)
                size += len(part)
            if end < 0:
                if size > MAX_LINE_BYTES and not skipping:
                    skipping, pending, size = True, [], 0
                continue
            number += 1
            if skipping or size > MAX_LINE_BYTES:
                yield number, None
            else:
                yield number, "".join(pending).encode("utf-8", errors="replace")
            pending, size, skipping = [], 0, False
        if not chunk:
            break
        chunk = stream.read(1024 * 1024)
    if skipping or size > MAX_LINE_BYTES:
        yield number + 1, None
    elif pending and "".join(pending).strip():
        yield number + 1, "".join(pending).encode("utf-8", errors="replace")


#: A flat record's fields read as one inventory observation: what a register row or the output of
#: ``phaseout devices --format jsonl`` holds (its ``id_*`` and ``vendor`` columns, an earlier
#: identification, are not evidence and are left out).
INVENTORY_FIELDS = ("manufacturer", "brand", "model", "firmware", "mac", "serial", "description", "device_type")


def _flat_fields(record: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value
        for key in INVENTORY_FIELDS
        if isinstance(value := record.get(key), (str, int, float))
        and not isinstance(value, bool)
        and str(value).strip()
    }


def _error(record_id: Any, number: int, message: str) -> dict[str, Any]:
    return {"id": record_id, "error": f"line {number}: {message}"}


def identify_line(identifier: Identifier, number: int, line: bytes | None) -> dict[str, Any] | None:
    """One output object for one input line (``None`` for a blank line)."""
    if line is None:
        return _error(None, number, f"longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB; skipped")
    if not line.strip():
        return None
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        if "UTF-8" not in str(exc):
            return _error(None, number, f"not valid JSON ({str(exc).split(':')[0]})")
        try:  # invalid UTF-8 inside otherwise good JSON: read it with replacement characters
            record = orjson.loads(line.decode("utf-8", errors="replace"))
        except orjson.JSONDecodeError as again:
            return _error(None, number, f"not valid JSON ({str(again).split(':')[0]})")
    if not isinstance(record, dict):
        return _error(None, number, "a record must be a JSON object with id and observations")
    record_id = record.get("id")
    if not (record_id is None or isinstance(record_id, (str, int, float, bool))):
        return _error(None, number, "id must be a string or a number")
    observations = record.get("observations")
    if observations is None and (fields := _flat_fields(record)):
        observations = [{"kind": "inventory", "fields": fields}]  # a register row, or `devices` output
    if not isinstance(observations, list):
        return _error(
            record_id,
            number,
            "observations must be a list (or give the row's own fields: manufacturer, brand, model, firmware, "
            "mac, serial, description, device_type)",
        )
    try:
        return identifier.identify(observations).as_dict(record_id)
    except ObservationError as exc:
        return _error(record_id, number, str(exc))
    except RecursionError:
        return _error(record_id, number, "input nested too deeply")


def run(identifier: Identifier, source: IO[bytes], sink: IO[bytes]) -> tuple[int, int]:
    """Stream ``source`` to ``sink``; returns (identified, errors)."""
    done = errors = 0
    for number, line in read_lines(source):
        out = identify_line(identifier, number, line)
        if out is None:
            continue
        try:
            encoded = orjson.dumps(out)
        except (orjson.JSONEncodeError, TypeError):  # defensive: never let one record stop the stream
            out = _error(None, number, "the identification cannot be written as JSON")
            encoded = orjson.dumps(out)
        if "error" in out:
            errors += 1
        else:
            done += 1
        sink.write(encoded + b"\n")
    sink.flush()
    return done, errors
