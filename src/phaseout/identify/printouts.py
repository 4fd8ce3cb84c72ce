"""Undo what a tool or a convention wrapped around a device's answer before it reached us.

Answers reach phaseout pasted from bug reports, logs and terminals: inside a Markdown code
fence, quoted in a reply (``> `` before every line), indented as a Markdown code block, printed
by ``curl --verbose`` (``< `` before each header line), written by a logger after its timestamp,
held as a string in a log line or a JSON record, shown by Wireshark or as a hex dump, or
HTML-escaped in a page's source.  The readers in :mod:`phaseout.identify.facts` expect the answer
itself (a status line first, an XML root, ``key=value`` lines), so each wrapper hid evidence that
was there.

:func:`unframe` takes off code fences, block quotes and a shared indent (each after a short
preamble of the user's); :func:`unwrap` takes the answer out of a string it was printed as (it
runs before escapes are decoded); :func:`unprint` takes away the frames again (a literal may hold
them), ``curl -v``'s marks, Wireshark's packet details, a logger's head, hex dumps and entity
escaping (after); :func:`answer_start` takes off the user's lines before an answer, for kinds
whose text is one device's answer.  ``facts._raw`` runs them in that order.  Each step is named
after the documented format it undoes, is tried only when a cheap test says the text may be in
that shape, and returns the text unchanged otherwise: an answer that was never wrapped costs a
few substring tests.  Every pattern is bounded and the caller caps the text, so a hostile answer
costs linear time at worst.
"""

from __future__ import annotations

import ast
import html
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from phaseout.identify.fallback import clean_text, literal_at, unquote_literal

#: Longest text a wrapper is looked for in (the caller caps raw text at 256 KiB).
_MAX = 262144


# -- strings: a whole answer held as one string --------------------------------------------------

#: Where a string literal can begin inside a log line: after a blank, a colon, an equals sign or
#: an opening bracket (``Response: 'HTTP/1.1 ...'``, ``text=b'...'``, ``debug('...')``).
_LITERAL_START = re.compile(r"""(?:^|(?<=[\s:=(\[]))[bBuU]?['"]""")
#: What a logger or a call may leave after the literal: closing brackets, a comma, blanks.
_LITERAL_TAIL = " \t\r\n),;]}"
#: How many places a literal is tried at: a log line has one message.
_LITERAL_TRIES = 4
#: What a logger may write after the literal on the same line (`` from 127.0.0.5``, ``)``).
_MAX_LITERAL_TAIL = 256


def _literal_in_line(text: str) -> str:
    """``<prefix> '<answer with \\r\\n escapes>' <tail>`` (a logger's ``%r`` of the answer) -> the
    prefix and the tail on one line, then the answer on its own lines.  Only a literal that holds
    an escaped line end counts, and only when what follows it on its line is short."""
    if "\\n" not in text or text[:64].lstrip()[:1] in ("{", "["):  # a record: _held_answer's
        return text
    head = text[:600]
    for tries, m in enumerate(_LITERAL_START.finditer(head)):
        if tries >= _LITERAL_TRIES:
            break
        start = m.start()
        found = literal_at(text, start)
        if found is None:
            continue
        answer, end = found
        tail = text[end:]
        line_end = tail.find("\n")
        rest = tail if line_end < 0 else tail[:line_end]
        if len(rest) > _MAX_LITERAL_TAIL or "'" in rest or '"' in rest or rest.startswith("\\"):
            continue  # a long tail, another string, a written-out line end: not one message's literal
        after = "" if line_end < 0 else tail[line_end:]
        prefix = text[:start]
        if not rest.strip(_LITERAL_TAIL) and (not prefix or prefix.endswith("\n")):
            return f"{prefix}{answer}{after}"  # the literal is a line of its own (an HTTP body)
        prefix = (prefix + rest.strip(_LITERAL_TAIL)).rstrip()
        return f"{prefix}\n{answer}{after}" if prefix else f"{answer}{after}"
    return text


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
#: A wrapper's string value counts as the answer it holds when it spans lines and is this long.
_MIN_HELD = 16
#: Walks at most this many values of a wrapper record.
_MAX_VALUES = 500


def _strings(value: Any, depth: int = 0) -> Iterator[str]:
    """The string values of a parsed JSON / Python literal record, depth first, bounded."""
    if depth > 8:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item, depth + 1)


#: A Python string literal (one quote kind, one line), to measure what lies outside a record's strings.
_PY_STRING = re.compile(r"'(?:[^'\\\r\n]|\\.)*+'|\"(?:[^\"\\\r\n]|\\.)*+\"")
#: Most of what a printed record holds is the text of its strings; its brackets, commas, keys'
#: colons and numbers are few.  Python's parser builds a tree node for each of them (some
#: hundred bytes): a record with more is not parsed (256 KiB of ``[1],`` cost a second and 130 MB).
_MAX_SKELETON = 4096


def _record(text: str) -> Any:
    """``text`` parsed as JSON, else as a Python literal (a printed dict); None when it is neither."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # nesting deeper than the interpreter's stack
        pass
    if "'" not in text:
        return None
    outside = len(text)
    for n, m in enumerate(_PY_STRING.finditer(text)):
        outside -= m.end() - m.start()
        if n >= _MAX_SKELETON:
            return None
    if outside > _MAX_SKELETON:
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _held_answer(text: str) -> str:
    """A record (a HAR entry's ``content``, a JSON log record, a printed response dict) that
    wraps an answer: the multi-line strings it holds, when they are at least half of all its
    strings' text (a tool's printout may start with anything, so what the strings hold is not
    asked).  A device's own JSON (Dahua RPC2, a DHDiscover reply) holds no such string, or
    only beside others, and stays as it is."""
    if text[:64].lstrip()[:1] not in ("{", "[") or text[-64:].rstrip()[-1:] not in ("}", "]") or "\\n" not in text:
        return text
    record = _record(text.strip())
    if record is None:
        return text
    held = []
    for n, value in enumerate(_strings(record)):
        if n >= _MAX_VALUES:
            break
        if "\n" in value and len(value) >= _MIN_HELD:
            held.append(value)
    if not held or 2 * sum(len(v) for v in held) < sum(len(v) for v in _strings(record)):
        return text
    # a ``\ud800`` escape decodes to a lone surrogate, which no UTF-8 encoder takes (a collector's
    # upload, the store's text columns): replaced, as every other decoded text is
    return _LONE_SURROGATE.sub("\ufffd", "\n\n".join(held))


def unwrap(text: str) -> str:
    """The answer a string literal or a wrapping record holds, or ``text`` as it is."""
    text = text[:_MAX]
    out = unquote_literal(text)
    if out is not text:
        return out
    out = _held_answer(text)
    if out is not text:
        return out
    return _literal_in_line(text)


# -- lines: prefixes that a tool put before each line ---------------------------------------------

#: ``curl --verbose``: ``< `` starts a header line received, ``> `` one sent, ``* `` curl's own
#: notes, ``{ ``/``} `` data counts (curl(1), "--verbose").
_CURL_RECEIVED = re.compile(r"^< ?(?:HTTP|RTSP)/\d", re.MULTILINE)
_CURL_OWN = re.compile(r"^(?:[>*{}] |[>*]$)")


def _curl_verbose(text: str) -> str:
    """``curl --verbose`` -> the answers it printed: the ``< `` of each received header line goes,
    curl's own lines (sent headers, notes, data counts) go, and a body (after the lone ``<`` that
    ends a header block) is kept as it came, markup lines included."""
    if not _CURL_RECEIVED.search(text[:_MAX]):
        return text
    out = []
    body = False
    for line in text.splitlines():
        if line.rstrip() == "<" or line.startswith("< "):
            out.append(line[2:])
            body = not line[2:].strip()
        elif body or not _CURL_OWN.match(line):
            out.append(line)
    return "\n".join(out)


#: A CommonMark code fence: three or more backticks or tildes, an optional info string.
_FENCE = re.compile(r"^ {0,3}(?:`{3,}[^`\r\n]{0,64}|~{3,}[^\r\n]{0,64})[ \t]*\r?$", re.MULTILINE)


#: Lines of the user's own before a fence or a quote (``Here is what I got:``, ``On Mon, Bob
#: wrote:``) that are passed over, and the characters they may hold.
_PREAMBLE_LINES = 3
_PREAMBLE_CHARS = 400


def _after_preamble(lines: list[str], starts: Callable[[str], bool]) -> int:
    """The index of the first line ``starts`` accepts when only a short preamble comes before
    it (at most ``_PREAMBLE_LINES`` lines of text that are not blank), else -1."""
    used = 0
    size = 0
    for n, line in enumerate(lines[: _PREAMBLE_LINES * 3]):
        if starts(line):
            return n
        if line.strip():
            used += 1
            size += len(line)
            if used > _PREAMBLE_LINES or size > _PREAMBLE_CHARS:
                return -1
    return -1


def _code_fences(text: str) -> str:
    """A fenced code block from a bug report's Markdown source (a fence on the first line, or
    after a short preamble of the reporter's): the preamble and the fence lines go, what they
    held stays."""
    lines = text[: _PREAMBLE_CHARS * 2].splitlines()
    first = _after_preamble(lines, lambda line: _FENCE.match(line) is not None)
    if first < 0:
        return text
    if first:
        text = text.split("\n", first)[-1]
    return _FENCE.sub("", text).strip("\r\n") + "\n"


def _block_quote(text: str) -> str:
    """A quoted reply (CommonMark block quote): every line that is not blank starts with ``>``
    (a single line with ``> ``), after at most a short attribution (``On Mon, Bob wrote:``) and
    before at most a short reply (``Thanks``); one level is taken off per pass, at most three."""
    for _ in range(3):
        lines = text.splitlines()
        first = _after_preamble(lines, lambda line: line.lstrip(" ").startswith(">"))
        if first < 0:
            return text
        quoted = [n for n, ln in enumerate(lines) if ln.lstrip(" ").startswith(">")]
        after = [ln for ln in lines[quoted[-1] + 1 :] if ln.strip()]
        if len(after) > _PREAMBLE_LINES or sum(map(len, after)) > _PREAMBLE_CHARS:
            return text  # a reply's own lines after the quote ("Thanks"): a few at most
        lines = lines[first : quoted[-1] + 1]
        filled = [ln for ln in lines if ln.strip()]
        if not filled or not all(ln.lstrip(" ").startswith(">") for ln in filled):
            return text
        if len(filled) == 1 and not filled[0].lstrip(" ").startswith("> "):
            return text  # one line: only ``> `` (with its blank) marks a quote
        text = "\n".join(re.sub(r"^ {0,3}> ?", "", ln) for ln in lines)
    return text


def _dedent(text: str) -> str:
    """A code block indented by blanks or tabs (CommonMark, YAML block scalars, e-mail): the
    indentation every line that is not blank shares is taken off."""
    lines = text.splitlines()
    margin = -1
    filled = 0
    for line in lines:
        body = line.lstrip(" \t")
        if not body:
            continue
        indent = len(line) - len(body)
        if indent == 0:
            return text
        margin = indent if margin < 0 else min(margin, indent)
        filled += 1
    if filled < 2:
        return text
    return "\n".join(ln[margin:] if ln.strip() else "" for ln in lines)


# -- hex dumps -----------------------------------------------------------------------------------

#: One line of a hex dump: an offset of 4-8 hex digits (``xxd`` adds a colon), then the bytes.
#: ``hexdump -C``: 16 bytes in two groups of 8 and ``|ascii|``; ``xxd``: 8 groups of 2 bytes and
#: the ASCII; Wireshark / ``tshark -x``: 16 single bytes and the ASCII.  A group is whole bytes
#: (2 or 4 digits): ``bytes.fromhex`` refuses an odd count (``CAFE BABE 123`` is a banner).
_HEX_LINE = re.compile(
    r"^[ \t]*([0-9A-Fa-f]{4,8}):?[ \t]{1,4}"
    r"([0-9A-Fa-f]{2}(?:[ \t]{1,2}[0-9A-Fa-f]{2}){0,15}|[0-9A-Fa-f]{4}(?: (?:[0-9A-Fa-f]{2}){1,2}){0,7})(?=[ \t]|$)"
)
_MAX_DUMP_LINES = 8192


def _hex_dump(text: str) -> str:
    """The bytes a hex dump shows, as text (UTF-8, undecodable bytes replaced), when at least two
    lines read as dump lines whose offsets grow by the bytes each line holds; otherwise ``text``.
    Lines that are not dump lines (a heading, ``hexdump``'s last offset) are skipped."""
    head = text[:256].lstrip()[:80]
    if not _HEX_LINE.match(head):
        return text
    data = bytearray()
    lines = 0
    expected: int | None = None
    for line in text.splitlines()[:_MAX_DUMP_LINES]:
        m = _HEX_LINE.match(line)
        if m is None:
            continue
        offset = int(m.group(1), 16)
        if expected is not None and offset != expected:
            break  # another dump, or a line of text that looks like one
        chunk = bytes.fromhex(re.sub(r"\s", "", m.group(2)))
        if not chunk:
            continue
        data += chunk
        lines += 1
        expected = offset + len(chunk)
    return _decoded(data) if lines >= 2 else text


def _decoded(data: bytearray) -> str:
    return clean_text(bytes(data).decode("utf-8", errors="replace"))


# -- a logger's prefix on the first line ----------------------------------------------------------

#: A logger's head: a date and time, then a level, a ``(thread)`` and ``[logger]`` tags (Python
#: logging as Home Assistant formats it, Go and Java loggers), and a short label ending in a colon.
_LOG_HEAD = re.compile(
    r"^[ \t]*\d{4}[-/]\d\d[-/]\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?[ \t]+"
    r"(?:[A-Z]{3,8}[ \t]+)?(?:\([^()\r\n]{1,60}\)[ \t]+)?(?:\[[^\]\r\n]{1,80}\]:?[ \t]+){0,4}"
    r"(?:[A-Za-z][\w .-]{0,40}:[ \t]*)?"
)
#: What may start the answer after the head: a status line, markup, a record, an OID line.
_ANSWER_START = re.compile(r"(?:HTTP|RTSP)/\d\.\d [0-9]{3}|<[?!A-Za-z]|[{\[]|\.?\d+(?:\.\d+){3,}")


#: Or two header lines (``Name: value``, RFC 9110 field syntax): a fragment of an answer that
#: starts after its status line.
_HEADER_LINES = re.compile(r"[A-Za-z][\w-]{0,40}:[ \t][^\r\n]{0,4096}\r?\n[A-Za-z][\w-]{0,40}:[ \t]")


def _log_head(text: str) -> str:
    """A logger's line before a multi-line message: the head of the first line goes, when what
    follows it starts an answer (``... [component] Response: HTTP/1.1 200 OK``)."""
    if not text[:4].isdigit():
        return text
    m = _LOG_HEAD.match(text)
    if m is None or m.end() >= len(text):
        return text
    rest = text[m.end() :]
    if rest[:1] in "\r\n":  # the message starts on the next line
        rest = rest.lstrip("\r\n")
    if not _ANSWER_START.match(rest) and not _HEADER_LINES.match(rest):
        return text
    return rest


# -- Wireshark's packet details -------------------------------------------------------------------

#: A message line as Wireshark's packet details show it: its line end written out at its end.  The
#: indent is taken whole (possessive): given back a blank at a time, the lazy rest would scan the
#: line again for each, quadratic time on a long run of blanks.
_MARKED = re.compile(r"^([ \t]*+)(.*?)\\(?:r\\n|n)[ \t]*$")
#: A message's own status line (an answer as it came, not Wireshark's view of it).
_STATUS_LINE = re.compile(r"[ \t]*(?:HTTP|RTSP)/\d")
#: The RTSP dissector's label before a status or request line.
_DISSECTOR_LABEL = re.compile(r"^(?:Response|Request): (?=(?:RTSP|HTTP)/\d|[A-Z]{3,16} \S)")


def _packet_details(text: str) -> str:
    """Wireshark's packet details (``tshark -V``, "Copy as text") -> the message: each line shown
    with its line end written out (``\\r\\n``) is a line of the message; the protocol headings,
    ``[...]`` notes and the dissector's fields indented under a line are not.  A body Wireshark
    dissects as a tree (XML: attributes and children indented under their tag) is kept.  Text with fewer
    than two such lines is returned as it is."""
    if text.count("\\n\n") < 2:
        return text
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    if _STATUS_LINE.match(first) and not _MARKED.match(first):
        return text  # the message itself, status line first: line ends written out in its body are its own
    marked = [m for line in lines if (m := _MARKED.match(line))]
    if len(marked) < 2:
        return text
    indent = len(marked[0].group(1))
    out = []
    seen = False  # a message line was met: before it, lower layers' trees (Frame, Ethernet, TCP)
    field = False  # under a message line: the dissector's fields of that line
    for line in lines:
        m = _MARKED.match(line)
        if m is not None:
            out.append(_DISSECTOR_LABEL.sub("", m.group(2)))
            seen = field = True
            continue
        body = line.lstrip(" \t")
        depth = len(line) - len(body)
        if body and depth <= indent:
            field = False
        if not body or depth < indent or (depth > indent and (field or not seen)) or body.startswith("["):
            continue  # a heading, a blank, a field or a note of the dissector
        out.append(body)  # a line of the message, or of a body Wireshark shows as a tree (XML)
    return "\n".join(out)


# -- entities ------------------------------------------------------------------------------------


def _entity_escaped(text: str) -> str:
    """An answer shown inside a page's source or an XML text node (``&lt;model&gt;``): the
    entities are expanded when escaped markup outnumbers markup."""
    escaped = text.count("&lt;")
    if escaped < 2 or escaped <= text.count("<"):
        return text
    return html.unescape(text)


# -- the user's own lines before an answer --------------------------------------------------------

#: Where a device's answer starts: a response's status line at a line start, an XML declaration
#: anywhere (``response body: <?xml ...``), an element or a JSON object at a line start, or two
#: header lines (a fragment cut after its status line).
_ANSWER_AT = re.compile(
    r"(?m)^[ \t]{0,8}(?:HTTP|RTSP)/\d\.\d [0-9]{3}\b|<\?xml\b|^[ \t]{0,8}<[A-Za-z][\w:.-]{0,63}[\s/>]"
    r"|^\{[ \t]*[\"'\r\n]"  # a JSON reply or a printed record
)
#: Failing those, two header lines: a fragment that starts after its status line.
_HEADERS_AT = re.compile(r"(?m)^[A-Za-z][\w-]{0,40}:[ \t][^\r\n]{0,4096}\r?\n[A-Za-z][\w-]{0,40}:[ \t]")
#: Header lines the readers take evidence from: a preamble holding one is part of the answer
#: (a fragment's headers, a client's Authorization echoing the realm), never cut.
_EVIDENCE_HEADER = re.compile(
    r"(?im)^[^\S\r\n]*(?:[<>] ?)?"
    r"(?:server|www-authenticate|authorization|content-base|content-location|location|rtp-info)[ \t]*:"
)
#: What a preamble never holds: a status line (a logger's line with the answer on it, read as it
#: is), a record's brace or quoted member (a JSON fragment is all answer).
_NOT_PREAMBLE = re.compile(r"(?:HTTP|RTSP)/\d\.\d [0-9]{3}|[{}]|\"[\w.-]{1,64}\"\s*:")
#: The most of the user's text passed over before an answer.
_MAX_PREAMBLE = 1024


def answer_start(text: str, *, headers: bool = True) -> str:
    """A device's answer with the user's lines before it taken off: a shell prompt and command,
    ``Response:``, ``>>> r.text``, the request a Follow-stream shows first, a log label before
    ``<?xml``.  Only a short preamble (``_MAX_PREAMBLE`` characters) that holds no header the
    readers use is taken off; text that starts with its answer is returned as it is.  For kinds
    whose text is one device's answer (HTTP, RTSP, ONVIF, discovery replies), not for pasted
    reports, which are read whole.  ``headers``: two header lines start an answer too (HTTP and
    RTSP fragments; in an ONVIF or discovery printout, ``Key: value`` lines are the printout and
    a line before them may be its title)."""
    if text[:5] in ("HTTP/", "RTSP/") or text[:1] in ("<", "{"):  # the common case: the answer itself
        return text
    m = _ANSWER_AT.search(text, 0, _MAX_PREAMBLE + 256)
    if m is None and headers:
        m = _HEADERS_AT.search(text, 0, _MAX_PREAMBLE + 4096)
    if m is None or not text[: m.start()].strip():
        return text
    cut = m.start()
    if text[cut] in " \t":
        cut = m.start() + len(m.group(0)) - len(m.group(0).lstrip(" \t"))
    preamble = text[:cut]
    if len(preamble) > _MAX_PREAMBLE or _EVIDENCE_HEADER.search(preamble) or _NOT_PREAMBLE.search(preamble):
        return text
    return text[cut:]


def unframe(text: str) -> str:
    """The answer out of the frames a reply or a document puts around it: a Markdown code fence,
    a block quote (a fence inside it too), a shared indent.  Run before :func:`unwrap` (a quoted
    log line may hold a literal) and again in :func:`unprint` (a literal may hold a quote)."""
    if not text:
        return text
    head = text[: _PREAMBLE_CHARS * 2]
    if "```" in head or "~~~" in head:
        text = _code_fences(text)
        head = text[: _PREAMBLE_CHARS * 2]
    if "\n>" in head or head.lstrip(" \r\n")[:1] == ">":
        text = _block_quote(text)
        head = text[: _PREAMBLE_CHARS * 2]
        if head.lstrip(" \r\n")[:3] in ("```", "~~~"):  # a fence inside the quote
            text = _code_fences(text)
            head = text[: _PREAMBLE_CHARS * 2]
    if head[:1] in (" ", "\t", "\r", "\n") and head.lstrip("\r\n")[:1] in (" ", "\t"):  # a shared indent
        text = _dedent(text)
    return text


def unprint(text: str) -> str:
    """The answer without the line prefixes, dump layout or escaping a printout added; ``text``
    as it is when it shows none.  Steps run in the order wrappers nest: a quoted reply may hold
    an indented ``curl -v`` printout."""
    if not text:
        return text
    text = unframe(text)
    if "< HTTP/" in text or "< RTSP/" in text:
        text = _curl_verbose(text)
    if "\\n\n" in text:
        text = _packet_details(text)
    text = _log_head(text)
    if "&lt;" in text:
        text = _entity_escaped(text)
    text = _hex_dump(text)
    return text
