"""``identify.fallback.undo_ngrep`` rebuilds the messages of an ngrep printout; it runs on every
HTTP and RTSP answer.  A device's own answer whose page merely shows a packet-like line, and a
printout whose payload is not indented (``ngrep -W byline``), are not ngrep's default printout:
rebuilding them kept nothing (or only the page's indented lines) and lost the identification."""

from __future__ import annotations

from phaseout.identify import Identifier
from phaseout.identify.fallback import undo_ngrep

IDF = Identifier()
HEAD = "HTTP/1.1 200 OK\r\nServer: Hikvision-Webs\r\nContent-Type: text/html\r\n\r\n"


def vendor(raw: str) -> str:
    return IDF.identify([{"kind": "http", "port": 80, "tls": False, "raw": raw}]).vendor


def test_a_page_showing_a_packet_line_is_still_the_devices_answer() -> None:
    for body in (
        "<pre>\nT 10.0.0.1:80 -> 10.0.0.2:5000\n</pre>",
        "<pre>\nT 10.0.0.1:80 -> 10.0.0.2:5000 [AP]\n  connection log\n</pre>",
    ):
        assert undo_ngrep(HEAD + body) == HEAD + body
        assert vendor(HEAD + body) == "hikvision"


def test_a_printout_without_indented_payload_is_read_as_it_is() -> None:
    byline = "T 10.0.0.1:80 -> 10.0.0.2:5000 [AP]\nHTTP/1.1 401 Unauthorized.\nServer: Hikvision-Webs.\n"
    assert undo_ngrep(byline) == byline
    assert vendor(byline) == "hikvision"
