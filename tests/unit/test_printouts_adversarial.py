"""identify/printouts.py under an adversarial pass: answers that only look wrapped, records
whose other members are evidence, and hostile text.  Each case here failed before its fix."""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path

from phaseout.identify.engine import Identifier
from phaseout.identify.facts import _raw, gather
from phaseout.identify.printouts import unprint, unwrap

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "captures"


def _vendor(obs: dict[str, object]) -> str:
    """The maker one observation gives, read afresh (not through the process's answer cache)."""
    identifier = Identifier()
    return identifier.identify_facts(gather([obs])).vendor


def test_a_banner_of_hex_words_is_no_error() -> None:
    # 4 hex digits, then groups: read as an xxd line whose last group has 3 digits, which
    # bytes.fromhex refused with a ValueError out of _raw (the identify CLI stopped on it)
    for text in ("CAFE BABE 123 hello", "0000: 4142 434\n0003: 4445 464\n"):
        assert isinstance(unprint(text), str)
        assert _vendor({"kind": "banner", "port": 23, "raw": text}) == "unknown"


def test_written_line_ends_and_a_long_blank_run_cost_linear_time() -> None:
    # two lines ending in a written-out \n start the packet-details reader; a line of 40 000
    # blanks then cost 18 s (the indent given back a blank at a time, the rest scanned again)
    text = "HTTP/1.1 200 OK\r\n\r\na\\n\nb\\n\n" + " " * 40000 + "x"
    start = time.perf_counter()
    _raw({"kind": "http", "raw": text})
    _raw({"kind": "banner", "raw": "Frame\n    a\\n\n    b\\n\n" + "\t" * 40000 + "x"})
    assert time.perf_counter() - start < 1.0


def test_a_printed_record_of_many_small_items_is_not_parsed() -> None:
    # 256 KiB of ``[1],`` between brackets, with one escaped line end: ast.literal_eval built
    # a tree of 65 000 nodes for it (a second, 130 MB) on every such answer
    text = "[" + "[1]," * 65500 + "'a\\n']"
    tracemalloc.start()
    try:
        out = unwrap(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out == text
    assert peak < 8_000_000


def test_a_printed_record_that_wraps_an_answer_is_still_read() -> None:
    printed = repr({"status_code": 200, "text": "HTTP/1.1 200 OK\r\nServer: x\r\n\r\nline one\nline two"})
    assert unwrap(printed).startswith("HTTP/1.1 200 OK\r\n")


_XML_TREE = [  # Wireshark's XML dissector: attributes and children indented under their tag
    "Hypertext Transfer Protocol",
    "    HTTP/1.1 200 OK\\r\\n",
    "        [Expert Info (Chat/Sequence): HTTP/1.1 200 OK\\r\\n]",
    "        Response Version: HTTP/1.1",
    "        Status Code: 200",
    "    Content-Type: application/xml\\r\\n",
    "    \\r\\n",
    "    [HTTP response 1/1]",
    "eXtensible Markup Language",
    "    <?xml",
    '        version="1.0"',
    '        encoding="UTF-8"',
    "        ?>",
    "    <DeviceInfo",
    '        version="2.0"',
    '        xmlns="http://www.hikvision.com/ver20/XMLSchema">',
    "        <deviceName>",
    "            IP CAMERA",
    "            </deviceName>",
    "        </DeviceInfo>",
]


def test_packet_details_keep_a_body_shown_as_a_tree() -> None:
    printed = "\n".join(_XML_TREE)
    out = unprint(printed).splitlines()
    assert out[:3] == ["HTTP/1.1 200 OK", "Content-Type: application/xml", ""]
    assert 'xmlns="http://www.hikvision.com/ver20/XMLSchema">' in out
    assert not any(line.startswith(("Response Version", "Status Code", "[")) for line in out)
    assert _vendor({"kind": "http", "port": 80, "raw": printed}) == "hikvision"
    # the lower layers' trees before the message keep their fields out, as before
    tcp = [
        "Transmission Control Protocol, Src Port: 80",
        "    Flags: 0x018 (PSH, ACK)",
        "        .... 1... = Push: Set",
    ]
    out = unprint("\n".join(tcp + _XML_TREE)).splitlines()
    assert ".... 1... = Push: Set" not in out
    assert 'xmlns="http://www.hikvision.com/ver20/XMLSchema">' in out


def test_an_answer_whose_body_writes_out_line_ends_keeps_its_head() -> None:
    # a plain answer, status line first, whose indented body lines end in a written-out \n: read
    # as packet details, its status line and headers (less indented) were dropped as headings
    answer = (
        "HTTP/1.1 200 OK\r\nServer: App-webs/\r\nContent-Type: text/plain\r\n\r\n"
        "var msg = 'a';\n    line one\\n\n    line two\\n\n"
    )
    assert unprint(answer) == answer
    assert _vendor({"kind": "http", "port": 80, "raw": answer}) == "hikvision"


def _go2rtc_record() -> str:
    """The real go2rtc stream info of a Dahua C4KP-P (corpus excerpt, cut after its ``medias``
    list), closed so that it is the whole JSON document a user pastes."""
    part = (CAPTURES / "rtsp-fragment" / "go2rtc-1569-dahua-c4kp-p-probe-json-part.txt").read_text()
    record = part.rstrip().rstrip(",") + "\n    }\n  ]\n}\n"
    json.loads(record)
    return record


def test_a_whole_go2rtc_stream_list_is_read_as_its_excerpt_is() -> None:
    record = _go2rtc_record()
    assert _vendor({"kind": "rtsp", "port": 554, "raw": record}) == "dahua"
    # the stream's URL is evidence even when its SDP says nothing of the maker
    doc = json.loads(record)
    doc["producers"][0]["sdp"] = "v=0\r\ns=Session streamed by GStreamer\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\n"
    assert _vendor({"kind": "rtsp", "port": 554, "raw": json.dumps(doc)}) == "dahua"


def test_a_printed_response_keeps_what_its_headers_say() -> None:
    body = (
        "<!DOCTYPE html>\n<html><head><title>Document Error: Unauthorized</title></head>\n"
        "<body><h2>Access Error: 401 -- Unauthorized</h2>\n<p>Authentication Error: Access Denied!</p>\n"
        "</body>\n</html>\n"
    )
    headers = {"Server": "App-webs/", "Content-Type": "text/html", "Connection": "close"}
    printed = repr({"status_code": 401, "headers": headers, "text": body})
    assert _vendor({"kind": "banner", "raw": printed}) == "hikvision"


def test_a_device_reply_around_a_long_multi_line_value_is_still_read() -> None:
    # a real DHDiscover reply, given one long multi-line member (synthetic): taken for a wrapper,
    # the reply was replaced by that value and the dhdiscover / sadp / upnp / http readers found nothing
    reply = json.loads((CAPTURES / "dhdiscover" / "dahua-ipc-hdw1431t1-s4-private.json").read_text())
    reply["params"]["deviceInfo"]["Notes"] = "line one of a long note\n" * 60
    for kind in ("dhdiscover", "sadp", "upnp", "banner", "http"):
        assert _vendor({"kind": kind, "raw": json.dumps(reply)}) == "dahua", kind
