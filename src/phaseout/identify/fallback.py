"""Text-level readers for evidence whose structure is broken, truncated or pasted.

Real answers reach phaseout in many shapes: a device that cuts its XML mid-element, a DHIP frame
cut mid-field, a scanner's output pasted from a terminal with ANSI colours, or a log that writes
bytes as ``\\xC2\\xA0`` escapes.  The structured parsers in :mod:`phaseout.identify.facts` try
first; when they cannot read the structure these functions find the same fields in the text.
Every pattern here is bounded (no nested quantifiers over unbounded text) and every input is
capped by the caller, so a hostile answer costs linear time at worst.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

#: ANSI escape sequences (CSI ... letter, OSC ... BEL/ST) that terminals and coloured tool
#: output leave in pasted text.
_ANSI = re.compile(r"\x1b(?:\[[0-9;?]{0,32}[ -/]{0,4}[@-~]|\][^\x07\x1b]{0,256}(?:\x07|\x1b\\)|[@-Z\\-_])")
#: ``\xC2\xA0`` written out as text (Python bytes reprs, some log formats): runs of escapes.
_HEX_ESCAPES = re.compile(r"(?:\\x[0-9A-Fa-f]{2})+")
#: Control characters other than tab, CR and LF (NULs from binary frames among them).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _unescape(m: re.Match[str]) -> str:
    data = bytes(int(m.group(0)[i + 2 : i + 4], 16) for i in range(0, len(m.group(0)), 4))
    return data.decode("utf-8", errors="replace")


def clean_text(text: str) -> str:
    """Pasted or framed text -> plain text: ANSI colours removed, ``\\xHH`` escapes decoded
    (as UTF-8), no-break spaces made spaces, control characters dropped.  Text that needs none
    of it (the common case) is returned as is without a regex pass."""
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    if "\\x" in text:
        text = _HEX_ESCAPES.sub(_unescape, text)
    if "\xa0" in text:
        text = text.replace("\xa0", " ")
    if _CONTROL.search(text):
        text = _CONTROL.sub("", text)
    return text


#: ngrep's packet line: protocol letter, ``source -> destination`` (IPv4 and port) and TCP flags,
#: e.g. ``T 192.168.1.28:554 -> 192.168.1.8:54418 [AP]`` (ngrep(8)).
_NGREP_PACKET = re.compile(
    r"^[TUI] \d{1,3}(?:\.\d{1,3}){3}:\d{1,5} -> \d{1,3}(?:\.\d{1,3}){3}:\d{1,5}(?: \[[A-Z]{1,8}\])?[ \t]*$"
)
_NGREP_MAX_PACKETS = 200
#: A run of two or more dots in an ngrep payload.
_DOT_RUN = re.compile(r"\.{2,}")
#: A device's own answer (its status line first), which may show a packet line in its body.
_MESSAGE_START = re.compile(r"\s*(?:HTTP|RTSP)/\d")


def _ngrep_dots(m: re.Match[str]) -> str:
    """ngrep prints every non-printable byte as ``.``, so CR LF is ``..``: a run of n dots is n//2
    line ends, after one real dot when n is odd (``RTSP/1.0..`` and ``v1.2...``)."""
    n = len(m.group(0))
    return ("." if n % 2 else "") + "\r\n" * (n // 2)


def undo_ngrep(text: str) -> str:
    """ngrep's printout of captured packets back into the messages they carried.

    ngrep (default mode) prints a packet line (``T src:port -> dst:port [AP]``), then the payload
    indented by two spaces and wrapped at the terminal width, each non-printable byte as ``.``;
    ``#`` lines mark packets.  Each packet's wrapped lines are joined again, ``..`` becomes CR LF,
    and the packets are returned one per line block, so a realm cut by the wrap is whole again.
    Text without an ngrep packet line is returned unchanged, and so are a device's own answer
    (a page that shows such a line is not a printout) and a printout whose packets have no
    indented payload (``ngrep -W byline`` prints it unindented: read as it is)."""
    if " -> " not in text or _MESSAGE_START.match(text):
        return text
    packets: list[list[str]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if _NGREP_PACKET.match(line):
            if len(packets) >= _NGREP_MAX_PACKETS:
                break
            current = []
            packets.append(current)
        elif current is not None and line.startswith("  "):
            current.append(line[2:])
        elif line.strip().strip("#") == "":
            current = None if line.strip() else current
        else:
            current = None
    if not any(packets):
        return text
    return "\n".join(_DOT_RUN.sub(_ngrep_dots, "".join(p)) for p in packets if p)


#: ``<tag>value</tag>`` or ``<ns:tag attr="x">value`` (the closing tag may be cut off).
_XML_ELEMENT = re.compile(r"<(?:[A-Za-z_][\w.-]{0,40}:)?([A-Za-z_][\w.-]{0,63})(?:\s[^<>]{0,512})?>([^<>]{1,2048})")


def xml_text_elements(text: str, limit: int = 5000) -> list[tuple[str, str]]:
    """(local tag name in lower case, text) for each element that holds text, read with a regex:
    for XML that does not parse (truncated, misspelt closing tags, binary around it)."""
    out = []
    for m in _XML_ELEMENT.finditer(text):
        value = m.group(2).strip()
        if value and not _UNRESOLVED.search(value):  # an entity is never expanded, nor read as text
            out.append((m.group(1).lower(), _entities(value)))
            if len(out) >= limit:
                break
    return out


#: An entity reference other than the five XML predefines and character references.
_UNRESOLVED = re.compile(r"&(?!(?:lt|gt|amp|quot|apos|#\d{1,7}|#x[0-9A-Fa-f]{1,6});)[A-Za-z_:][\w.:-]{0,63};")


def _entities(text: str) -> str:
    if "&" not in text:
        return text
    return (
        text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&apos;", "'")
        .replace("&amp;", "&")
    )


#: ``"Key" : "value"`` or ``"Key": 123`` inside JSON that does not parse (cut mid-field), and
#: ``'Key': 'value'`` of a Python dict printed by a client library.  Python's repr prefixes its
#: strings with ``u`` (Python 2 unicode: ``{u'type': u'IPC'}``) or ``b`` (bytes): the prefix
#: belongs to the printout, not to the value.
_JSON_PAIR = re.compile(
    r"""[uUbB]?(["'])([@A-Za-z_][\w.@]{0,63})\1\s*:\s*(?:[uUbB]?"((?:[^"\\\r\n]|\\.){0,512})"|[uUbB]?'([^'\r\n]{0,512})'|(-?\d{1,20}(?:\.\d{1,10})?))"""
)


def json_text_pairs(text: str, limit: int = 5000) -> list[tuple[str, str]]:
    """(key in lower case, value) for each string or number member found in broken JSON or in
    a printed Python dict."""
    out = []
    for m in _JSON_PAIR.finditer(text):
        value = next(g for g in (m.group(3), m.group(4), m.group(5)) if g is not None)
        out.append((m.group(2).lower(), value.replace('\\"', '"').replace("\\/", "/")))
        if len(out) >= limit:
            break
    return out


#: ``Key: value``, ``Key = value`` or ``'Key': 'value'`` lines (client libraries' printouts of
#: ONVIF GetDeviceInformation, pasted CGI answers, SNMP walks).  What leads a line is matched
#: within the line and possessively: a run of blank lines tried from each of its starts cost
#: quadratic time (40,000 newlines: 10 s; helper adv6).
_KV_LINE = re.compile(
    r"""^[ \t'"{,]*+([A-Za-z][\w .\-\[\]]{0,63}?)['"]?\s*(?:[:=]|::=)\s*['"]?([^\r\n'"]{1,512}?)['"]?[\s,}]*$""",
    re.MULTILINE,
)


#: The ", " before the second and later ``Key: value`` pairs written on one line (a key is one to
#: three words; a colon inside a value, as in a time of day, is not preceded by one).
_INLINE_PAIR = re.compile(r",[ \t]+(?=[A-Za-z][A-Za-z0-9_-]{0,30}(?:[ \t][A-Za-z][A-Za-z0-9_-]{0,30}){0,2}:[ \t])")


#: What a logger writes before the message: a timestamp, a level, a ``(thread)`` and ``[logger]``
#: tags (Python logging, Home Assistant, Go loggers), or only bracketed tags.  A line keeps its
#: ``Key: value`` message once this is taken away.
_LOG_PREFIX = re.compile(
    r"^[ \t]*(?:\d{4}[-/]\d\d[-/]\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d{1,6})?[ \t]+(?:[A-Z]{3,8}[ \t]+)?"
    r"(?:\([^()\r\n]{1,60}\)[ \t]+)?(?:\[[^\]\r\n]{1,80}\]:?[ \t]+){0,4}|(?:\[[^\]\r\n]{1,80}\]:?[ \t]+){1,4})",
    re.MULTILINE,
)


def key_value_lines(text: str, limit: int = 2000) -> list[tuple[str, str]]:
    """(key squeezed to lower-case letters and digits, value) for each ``key: value`` line;
    a Python-dict printout on one line is split at its commas first, and a logger's prefix
    (timestamp, level, tags) is taken off each line."""
    if "[" in text or text[:4].isdigit():
        text = _LOG_PREFIX.sub("", text[:65536])
    if text.count("\n") < 2 and "', '" in text:
        text = re.sub(r"""(['"]),\s*(['"])""", r"\1\n\2", text[:65536])
    if ", " in text:  # console summaries: ``Vendor: EZIP, Build: 2018-09-18 21:57:52, Version: ...``
        text = _INLINE_PAIR.sub("\n", text[:65536])
    return _squeezed_pairs(_KV_LINE.finditer(text), limit)


def _squeezed_pairs(matches: Iterator[re.Match[str]], limit: int) -> list[tuple[str, str]]:
    """(group 1 squeezed to lower-case letters and digits, group 2 stripped) for each match with
    both, at most ``limit``."""
    out = []
    for m in matches:
        key = re.sub(r"[^a-z0-9]", "", m.group(1).lower())
        value = m.group(2).strip()
        if key and value:
            out.append((key, value))
            if len(out) >= limit:
                break
    return out


#: One row of a two-column table as tools print a device's fields (a label of one to four words,
#: then two or more spaces, a tab or a ``|`` column rule, then the value), e.g. a SADP client's
#: ``Software Version          V5.4.3build 160810`` or ``| Model | DS-2CD2143G2-I |``.  The runs of
#: blanks are matched possessively: given back one at a time, 64,000 spaces cost 29 s.
_TABLE_ROW = re.compile(
    r"^[ \t|]*+([A-Za-z][A-Za-z0-9()/.-]{0,30}(?: [A-Za-z0-9()/.-]{1,30}){0,3})"
    r"(?:\t[ \t]*+| {2,}+[ \t]*+|[ \t]*+\|[ \t]*+)([^\s|][^\r\n|]{0,511}?)[ \t|]*+$",
    re.MULTILINE,
)


def table_rows(text: str, limit: int = 2000) -> list[tuple[str, str]]:
    """(label squeezed to lower-case letters and digits, value) for each row of a two-column
    table printout.  Only texts holding at least two such rows count as a table: one padded line
    in free text is not one."""
    out = _squeezed_pairs(_TABLE_ROW.finditer(text[:65536]), limit)
    return out if len(out) >= 2 else []


#: A whole answer printed as one Python (or JSON) string literal: ``'version=2.420...\r\nBuild...'``
#: as a REPL echoes what a client library returned, optionally ``b``/``u``-prefixed.  The body may
#: hold any character but its own quote unescaped and no line end (a repr is one line).
_STRING_LITERAL = re.compile(r"""[bBuU]?(?:'((?:[^\\'\r\n]|\\.){0,262144})'|"((?:[^\\"\r\n]|\\.){0,262144})")""")
#: The escapes such a literal uses (Python's string literal grammar; JSON's is a subset).  ``\xHH``
#: runs are left to :func:`clean_text`, which decodes them as UTF-8.
_LITERAL_ESCAPE = re.compile(r"\\(?:([nrt'\"\\/0])|u([0-9A-Fa-f]{4}))")
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "'": "'", '"': '"', "\\": "\\", "/": "/", "0": "\x00"}


#: A UTF-16 surrogate a ``\uD800`` escape spells: no UTF-8 encoder takes one alone (a collector's
#: upload, the store's text columns), so pairs are joined and lone ones replaced.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _literal_escape(m: re.Match[str]) -> str:
    if m.group(1) is not None:
        return _SIMPLE_ESCAPES[m.group(1)]
    return chr(int(m.group(2), 16))


def unquote_literal(text: str) -> str:
    """The text a whole-answer string literal stands for (its quotes gone, ``\\r\\n`` made line
    ends); any other text as it is.  Only a literal that holds an escaped line end counts: a
    quoted word is left alone."""
    stripped = text.strip()
    if len(stripped) < 2 or stripped[-1] not in "'\"" or "\\" not in stripped or "\\n" not in stripped:
        return text
    m = _STRING_LITERAL.fullmatch(stripped)
    if m is None:
        return text
    body = m.group(1) if m.group(1) is not None else m.group(2)
    out = _LITERAL_ESCAPE.sub(_literal_escape, body)
    if _SURROGATE.search(out):  # ``\ud83d\ude00`` is one character; a lone ``\ud800`` is none
        out = out.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return out


def literal_at(text: str, start: int) -> tuple[str, int] | None:
    """(what it stands for, where it ends) for a string literal that begins at ``start`` and holds
    an escaped line end (a logger's ``%r`` of an answer inside a longer line); None otherwise."""
    m = _STRING_LITERAL.match(text, start)
    if m is None:
        return None
    literal = m.group(0)
    answer = unquote_literal(literal)
    return None if answer is literal else (answer, m.end())
