"""Printout shapes: a device's answer re-printed the way a documented tool or convention prints
it (``curl --verbose``, a quoted reply, a logger's line, a hex dump...).

Used by ``bench/identify_printouts.py`` (every real capture in every shape) and by
``tests/knowledge/test_printout_shapes.py``.  The shapes are synthetic, each written from the
named tool's documented output format; the answers they re-print are the real captures.
"""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass

_MESSAGE = re.compile(r"\A(?:HTTP|RTSP)/\d\.\d [0-9]{3}")
_LOG_HEAD = "2024-05-01 10:00:00.123 DEBUG (MainThread) [custom_components.camera.api] "


def _split(raw: str) -> tuple[str, str]:
    """(status line and headers with the blank line, body) of an HTTP/RTSP message; ("", raw)
    for any other text."""
    if not _MESSAGE.match(raw):
        return "", raw
    for sep in ("\r\n\r\n", "\n\n"):
        head, found, body = raw.partition(sep)
        if found:
            return head + sep, body
    return raw, ""


def curl_verbose(raw: str) -> str | None:
    """curl(1) ``--verbose``: "lines starting with '<' mean header data received by curl"; the
    body follows as it came."""
    head, body = _split(raw)
    if not head:
        return None
    lines = head.split("\r\n") if "\r\n" in head else head.split("\n")
    return "\n".join(f"< {line}" if line else "<" for line in lines[:-1]) + "\n" + body


def fenced(raw: str) -> str:
    """A fenced code block as a bug report's Markdown source holds it (CommonMark: a line of
    three backticks, with an info string, before the block and one after)."""
    return f"```text\n{raw}\n```\n"


def prose_then_fence(raw: str) -> str:
    """A bug report's Markdown source: a line of the reporter's, then the answer in a fence."""
    return f"Here is what the camera answered:\n\n```\n{raw}\n```\n"


def reply_with_attribution(raw: str) -> str:
    """An e-mail or forum reply: an attribution line, the answer quoted, a line of the reply."""
    quoted = "\n".join(f"> {line}" for line in raw.splitlines())
    return f"On Mon, 1 Dec 2026, Bob wrote:\n{quoted}\n\nThanks, that is what mine says too."


def shell_prompt(raw: str) -> str:
    """A terminal copy: the prompt and the command line, then what the command printed."""
    return f"$ curl -i http://127.0.0.1/ISAPI/System/deviceInfo\n{raw}"


def literal_mid_line(raw: str) -> str:
    """``logging.info("got %r from %s", text, host)``: the answer as a literal inside a log line,
    with more of the line after it."""
    return f"INFO:camera:got {raw!r} from 127.0.0.1"


def quoted_reply(raw: str) -> str:
    """A quoted reply (GitHub's "Quote reply", e-mail): ``> `` before every line (CommonMark
    block quote)."""
    return "\n".join(f"> {line}" for line in raw.splitlines())


def indented(raw: str) -> str:
    """An indented code block (CommonMark: four spaces), as in Markdown and YAML block scalars."""
    return "\n".join(f"    {line}" if line else "" for line in raw.splitlines())


def logged(raw: str) -> str:
    """A logger's line before a multi-line message (Python logging's default format as Home
    Assistant uses it): only the first line carries the prefix."""
    return f"{_LOG_HEAD}Response: {raw}"


def logged_repr(raw: str) -> str:
    """``_LOGGER.debug("Response: %r", text)``: the answer as a Python string literal inside a
    log line."""
    return f"{_LOG_HEAD}Response: {raw!r}"


def python_repr(raw: str) -> str:
    """A REPL's echo of a client's return value: one Python string literal."""
    return repr(raw)


def json_field(raw: str) -> str:
    """A saved response (a HAR entry's content, a JSON log record): the answer as a JSON string
    member of an object."""
    return json.dumps({"status": 200, "mimeType": "text/plain", "text": raw})


def html_escaped(raw: str) -> str:
    """The answer shown inside a web page's source or an XML text node: ``<``, ``>`` and ``&``
    written as entities (HTML's character references)."""
    return html.escape(raw, quote=False)


def lf_only(raw: str) -> str | None:
    """Copied from a terminal or a browser: CR LF became LF."""
    return raw.replace("\r\n", "\n") if "\r\n" in raw else None


def hexdump_c(raw: str) -> str:
    """``hexdump -C`` (canonical hex+ASCII): offset, 16 bytes in two groups of 8, ``|ascii|``."""
    data = raw.encode("utf-8")[:16384]
    out = []
    for off in range(0, len(data), 16):
        chunk = data[off : off + 16]
        left = " ".join(f"{b:02x}" for b in chunk[:8])
        right = " ".join(f"{b:02x}" for b in chunk[8:])
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        out.append(f"{off:08x}  {left:<23}  {right:<23}  |{text}|")
    out.append(f"{len(data):08x}")
    return "\n".join(out)


def xxd(raw: str) -> str:
    """``xxd`` default output: offset, eight groups of two bytes, the ASCII column."""
    data = raw.encode("utf-8")[:16384]
    out = []
    for off in range(0, len(data), 16):
        chunk = data[off : off + 16]
        groups = " ".join(chunk[i : i + 2].hex() for i in range(0, len(chunk), 2))
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        out.append(f"{off:08x}: {groups:<39}  {text}")
    return "\n".join(out)


def _xml_body(raw: str, rewrite: Callable[[str], str | None]) -> str | None:
    head, body = _split(raw)
    start = body.find("<")
    if start < 0 or not body[start:].lstrip().startswith("<"):
        return None
    new = rewrite(body[start:])
    return None if new is None else head + body[:start] + new


def _reserialised(xml: str) -> str | None:
    try:
        root = ET.fromstring(xml.encode("utf-8"))
    except ET.ParseError:
        return None
    return ET.tostring(root, encoding="unicode")


def etree_reserialised(raw: str) -> str | None:
    """An XML body parsed and written back by Python's ElementTree (``ns0:`` prefixes, no
    declaration), as client libraries re-print what they received."""
    return _xml_body(raw, _reserialised)


def minified_xml(raw: str) -> str | None:
    """An XML body with the whitespace between elements removed (firmware that sends it so)."""
    return _xml_body(raw, lambda xml: re.sub(r">\s+<", "><", xml) if re.search(r">\s+<", xml) else None)


def ansi_coloured(raw: str) -> str:
    """Coloured terminal output (HTTPie, bat, jq -C): header names and tags in ANSI colours."""
    out = re.sub(r"^([A-Za-z][\w-]{0,40}):", "\x1b[36m\\1\x1b[39m:", raw, flags=re.M)
    return re.sub(r"(</?)([\w:.-]{1,64})", "\\1\x1b[34m\\2\x1b[39m", out)


def packet_details(raw: str) -> str | None:
    """Wireshark's packet details (``tshark -V``, "Copy as text"): the protocol's heading, each
    line of the message indented with its line end written out (``\\r\\n``), the dissector's
    own fields and ``[...]`` notes under the status line, the body under "Line-based text data".
    The RTSP dissector writes ``Response: `` before the status line.  A body other than text
    (SDP, XML) is dissected into named fields by Wireshark; here it is shown line by line, as
    the text dissector would."""
    head, body = _split(raw)
    if not head:
        return None
    rtsp = head.startswith("RTSP/")
    eol = "\r\n" if "\r\n" in head else "\n"
    lines = head.split(eol)[:-1] if head.endswith(eol + eol) else head.splitlines()
    status, headers = lines[0], [ln for ln in lines[1:] if ln]
    code = status.split(" ", 2)
    out = ["Real Time Streaming Protocol" if rtsp else "Hypertext Transfer Protocol"]
    out.append(f"    {'Response: ' if rtsp else ''}{status}\\r\\n")
    if not rtsp:
        out.append(f"        [Expert Info (Chat/Sequence): {status}\\r\\n]")
        out.append(f"        Response Version: {code[0]}")
    out.append(f"        Status{' Code' if not rtsp else ''}: {code[1] if len(code) > 1 else ''}")
    out += [f"    {h}\\r\\n" for h in headers]
    out.append("    \\r\\n")
    if body:
        out.append(f"    [{'RTSP' if rtsp else 'HTTP'} response 1/1]")
        out.append(f"Line-based text data: text/plain ({len(body.splitlines())} lines)")
        out += [f"    {line}\\r\\n" for line in body.splitlines()]
    return "\n".join(out)


@dataclass(frozen=True)
class Shape:
    name: str
    render: Callable[[str], str | None]


SHAPES: tuple[Shape, ...] = (
    Shape("lf-only", lf_only),
    Shape("curl-verbose", curl_verbose),
    Shape("fenced-code", fenced),
    Shape("prose-then-fence", prose_then_fence),
    Shape("quoted-reply", quoted_reply),
    Shape("reply-with-attribution", reply_with_attribution),
    Shape("shell-prompt", shell_prompt),
    Shape("literal-mid-line", literal_mid_line),
    Shape("indented-code", indented),
    Shape("logged", logged),
    Shape("logged-repr", logged_repr),
    Shape("python-repr", python_repr),
    Shape("json-field", json_field),
    Shape("html-escaped", html_escaped),
    Shape("hexdump-C", hexdump_c),
    Shape("xxd", xxd),
    Shape("etree-reserialised", etree_reserialised),
    Shape("minified-xml", minified_xml),
    Shape("ansi-coloured", ansi_coloured),
    Shape("packet-details", packet_details),
)
