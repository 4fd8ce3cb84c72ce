"""The ``phaseout identify`` stream: JSON Lines of device records in, one identification per
line out, same order, same ``id``.  A bad line gets ``{"id": ..., "error": "..."}`` and the
stream goes on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import orjson

from phaseout.identify.engine import Identifier
from phaseout.identify.facts import ObservationError

#: Longest input line read whole; longer lines are skipped with an error (a 50 MB raw field fits).
MAX_LINE_BYTES = 64 * 1024 * 1024


def read_lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes) per line; ``None`` for a line over ``MAX_LINE_BYTES`` (consumed)."""
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
    if not isinstance(observations, list):
        return _error(record_id, number, "observations must be a list")
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
