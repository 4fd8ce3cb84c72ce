"""One answer's facts as plain JSON, so a collector can send what it parsed beside the answer.

A collector runs the same parsers as the server (:mod:`phaseout.identify.facts`), so it can read
its own answers and upload their facts; the server then identifies from them instead of parsing
every answer again (issue 17: parsing was half of an ingest's time).  It costs no security: a
stolen collector credential can forge raw answers as easily as facts, and only for its own
scopes; the raw answers are still stored as the evidence, and a re-identification reads them.
Facts that disagree with their answers are not trusted blindly either: the server parses a
sample of them (``discover.collector.wire.CHECK_FIRST``) and ignores an upload's facts when one
is not its own reading.
Facts are used only when both ends parse alike (:data:`FACTS_VERSION`, a digest of the parsers'
source): otherwise the server parses, as it does for collectors that send no facts.

The form (``encode``), one object per answer, each list optional::

    {"texts": [[field, kind, text], ...], "makers": [[kind, source, text]], "brands": [[kind, text]],
     "models": [[priority, kind, source, text]], "firmware": [[kind, text]], "macs": [[kind, hex]],
     "serials": [[kind, text]], "type_hints": [[kind, text]], "notes": [[kind, text]]}

A long text that is a slice of the answer's ``raw`` text is sent as ``[offset, length]`` into it
(the body of an HTTP answer would otherwise travel twice).  ``decode`` holds every part to the
shapes and sizes the parsers produce and refuses anything else with a message naming the fault.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path
from typing import Any

from phaseout.identify import facts as parsers
from phaseout.identify import fallback, printouts
from phaseout.identify.facts import KINDS, MAX_RAW_CHARS, MAX_VALUE_CHARS, Facts

#: Fact items per answer (every list together): real answers give a few dozen.
MAX_ITEMS = 512
#: Longest text of a fact other than ``texts`` (firmware joins a version and a date; notes quote).
MAX_SHORT = 4 * MAX_VALUE_CHARS
#: Longest ``source`` name (``onvif scope manufacturer``, ``certificate subject O``).
MAX_SOURCE = 64
#: Texts shorter than this are sent as they are, not as a slice of the answer.
MIN_SLICE = 32
#: Characters the slices of one answer's texts may take together, per character of its raw
#: text: the parsers read a text whole and some of its parts again (2.1 at most over the
#: corpus).  A slice costs the collector a few bytes and the server its length, so without a
#: bound 512 slices of a 256 kB answer would cost 128 MB.
SLICED_PER_RAW = 3
#: Model priorities the parsers use (lower is better).
PRIORITIES = range(10)
_FIELD = re.compile(r"[a-z][a-z0-9._-]{0,31}")
_HEX12 = re.compile(r"[0-9A-F]{12}")
_KINDS = frozenset(KINDS)
_PAIRS = ("brands", "firmware", "serials", "type_hints", "notes")


class FactsError(ValueError):
    """Facts that are not what the parsers produce: the upload that carried them is refused."""


#: Every module whose code decides what an answer's facts are (``facts`` and the readers it calls):
#: a change in any of them changes the version (a test checks the list against facts' imports).
PARSER_MODULES = (parsers, fallback, printouts)


@cache
def facts_version() -> str:
    """A digest of the parsers' source: equal on a collector and a server that read answers
    alike (same release, or releases whose parsers did not change)."""
    digest = hashlib.blake2b(digest_size=8)
    for module in PARSER_MODULES:
        try:
            digest.update(Path(str(module.__file__)).read_bytes())
        except OSError:  # no source to read (a frozen build): a version no other build matches
            return f"unread-{id(digest):x}"
    return digest.hexdigest()


# --- encoding (the collector) ------------------------------------------------------------------


def encode(one: Facts, raw: Any) -> dict[str, Any] | None:
    """One answer's facts in the wire form, or None when they would be refused by ``decode``
    (over its caps): then the server parses that answer itself."""
    out: dict[str, Any] = {}
    items = 0
    if one.texts:
        rows: list[list[Any]] = []
        for fld, values in one.texts.items():
            for kind, text in values:
                rows.append([fld, kind, _slice(text, raw)])
        out["texts"] = rows
        items += len(rows)
    if one.makers:
        out["makers"] = [list(m) for m in one.makers]
    if one.models:
        out["models"] = [list(m) for m in one.models]
    if one.macs:
        out["macs"] = [list(m) for m in one.macs]
    for name in _PAIRS:
        values = getattr(one, name)
        if values:
            out[name] = [list(v) for v in values]
    items += len(one.makers) + len(one.models) + len(one.macs) + sum(len(getattr(one, n)) for n in _PAIRS)
    if items > MAX_ITEMS:
        return None
    try:
        decode(out, raw)  # what the server would refuse is not sent: it parses that answer instead
    except FactsError:
        return None
    return out


def _slice(text: str, raw: Any) -> str | list[int]:
    if len(text) >= MIN_SLICE and isinstance(raw, str):
        at = raw.find(text)
        if at >= 0:
            return [at, len(text)]
    return text


# --- decoding and checking (the server) --------------------------------------------------------


def decode(data: Any, raw: Any) -> Facts:
    """The facts of one answer from their wire form; :class:`FactsError` names the first fault."""
    if not isinstance(data, dict):
        raise FactsError("facts of an answer are an object")
    unknown = data.keys() - _LISTS
    if unknown:
        raise FactsError(f"unknown facts list {sorted(unknown)[0][:32]!r}")
    items = sum(len(v) for v in data.values() if isinstance(v, list))
    if items > MAX_ITEMS:
        raise FactsError(f"over {MAX_ITEMS} facts for one answer")
    one = Facts()
    sliced = 0
    for row in _rows(data, "texts", 3):
        fld, kind, text = row
        if not isinstance(fld, str) or not _FIELD.fullmatch(fld):
            raise FactsError("texts: a field is a short lower-case name")
        value = _text(text, raw)
        if type(text) is list:
            sliced += len(value)
            if sliced > SLICED_PER_RAW * len(raw):
                raise FactsError(f"texts: slices of over {SLICED_PER_RAW} times the answer's raw text")
        one.texts.setdefault(fld, []).append((_kind(kind, "texts"), value))
    for row in _rows(data, "makers", 3):
        one.makers.append((_kind(row[0], "makers"), _short(row[1], "makers", MAX_SOURCE), _short(row[2], "makers")))
    for row in _rows(data, "models", 4):
        prio = row[0]
        if type(prio) is not int or prio not in PRIORITIES:
            raise FactsError("models: a priority is a number 0-9")
        source = _short(row[2], "models", MAX_SOURCE)
        one.models.append((prio, _kind(row[1], "models"), source, _short(row[3], "models")))
    for row in _rows(data, "macs", 2):
        hx = row[1]
        if not isinstance(hx, str) or not _HEX12.fullmatch(hx):
            raise FactsError("macs: a MAC is 12 upper-case hex digits")
        one.macs.append((_kind(row[0], "macs"), hx))
    for name in _PAIRS:
        target = getattr(one, name)
        for row in _rows(data, name, 2):
            target.append((_kind(row[0], name), _short(row[1], name)))
    return one


_LISTS = frozenset(("texts", "makers", "models", "macs", *_PAIRS))


def _rows(data: dict[str, Any], name: str, width: int) -> list[list[Any]]:
    rows = data.get(name)
    if rows is None:
        return []
    if not isinstance(rows, list) or not all(type(r) is list and len(r) == width for r in rows):
        raise FactsError(f"{name}: a list of {width}-item lists")
    return rows


def _kind(value: Any, where: str) -> str:
    if not isinstance(value, str) or value not in _KINDS:  # (a list is not hashable: type first)
        raise FactsError(f"{where}: {str(value)[:20]!r} is not an answer kind")
    return value


def _short(value: Any, where: str, limit: int = MAX_SHORT) -> str:
    """A value the parsers keep as one printable line (``facts._value``): no CR, LF, NUL or
    direction override, which the server's own parse never gives and which would reach e-mail
    alerts, reports and exports."""
    if not isinstance(value, str) or len(value) > limit:
        raise FactsError(f"{where}: a text of at most {limit} characters")
    if not value.isprintable():
        raise FactsError(f"{where}: a value is one printable line")
    return value


def _text(value: Any, raw: Any) -> str:
    """A text, or a slice ``[offset, length]`` of the answer's raw text."""
    if isinstance(value, str):
        if len(value) > MAX_RAW_CHARS:
            raise FactsError(f"texts: a text of at most {MAX_RAW_CHARS} characters")
        return value
    if (
        type(value) is list
        and len(value) == 2
        and type(value[0]) is int
        and type(value[1]) is int
        and isinstance(raw, str)
        and value[0] >= 0
        and 0 < value[1] <= MAX_RAW_CHARS
        and value[0] + value[1] <= len(raw)
    ):
        return raw[value[0] : value[0] + value[1]]
    raise FactsError("texts: a text is a string or [offset, length] inside the answer's raw text")
