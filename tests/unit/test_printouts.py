"""identify/printouts.py: the wrappers tools put around an answer are taken away, answers that
were never wrapped pass unchanged, and hostile text stays bounded."""

from __future__ import annotations

import json

import pytest

from phaseout.identify.engine import Identifier
from phaseout.identify.facts import gather
from phaseout.identify.printouts import answer_start, unprint, unwrap

ISAPI = (
    "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n\r\n"
    '<?xml version="1.0" encoding="UTF-8"?>\n<DeviceInfo version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">\n'
    "<deviceName>IP CAMERA</deviceName>\n<model>DS-2CD2386G2-IU</model>\n</DeviceInfo>\n"
)
CGI = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\ntype=IPC\r\nserialNumber=4L0123PAZ00042\r\n"
DHIP_JSON = '{"id":2,"method":"magicBox.getDeviceType","params":null,"result":true,"params2":{"type":"IPC-HFW2431S"}}'


def _lines(text: str) -> list[str]:
    return [ln.rstrip("\r") for ln in text.splitlines()]


def _undone(text: str) -> str:
    return unprint(unwrap(text))


def test_plain_answers_pass_unchanged() -> None:
    for answer in (ISAPI, CGI, DHIP_JSON, "RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n", "220 FTP ready", ""):
        assert _undone(answer) == answer


def test_curl_verbose_headers_lose_their_marks_and_the_body_keeps_its_markup() -> None:
    head, _, body = ISAPI.partition("\r\n\r\n")
    printed = (
        "* Connected to 127.0.0.1 (127.0.0.1) port 80\n> GET /ISAPI/System/deviceInfo HTTP/1.1\n> Host: 127.0.0.1\n>\n"
        + "".join(f"< {line}\n" for line in head.split("\r\n"))
        + "<\n"
        + body
        + "* Connection #0 to host 127.0.0.1 left intact\n"
    )
    out = _lines(_undone(printed))
    assert out[0] == "HTTP/1.1 200 OK"
    assert "<model>DS-2CD2386G2-IU</model>" in out  # body lines starting with '<' are kept whole
    assert not any(line.startswith(("> GET", "* Connected")) for line in out)


def test_quoted_reply_nested_twice() -> None:
    quoted = "\n".join(f"> > {line}" for line in CGI.split("\r\n"))
    assert _lines(_undone(quoted)) == _lines(CGI)


def test_one_quoted_line_needs_its_blank() -> None:
    assert unprint("> 192.0.0.64 login:") == "192.0.0.64 login:"
    assert unprint(">192.0.0.64 login:") == ">192.0.0.64 login:"


def test_indented_block_loses_the_shared_indent_only() -> None:
    indented = "\n".join(("    " + line) if line else "" for line in ISAPI.split("\n"))
    assert _lines(_undone(indented)) == _lines(ISAPI)
    ragged = "    a: 1\n  b: 2\n"
    assert _undone(ragged) == "  a: 1\nb: 2"


def test_logger_head_goes_when_an_answer_follows() -> None:
    line = "2024-05-01 10:00:00.123 DEBUG (MainThread) [custom_components.x] Response: " + CGI
    assert _lines(_undone(line)) == _lines(CGI)
    on_next_line = "2024-05-01T10:00:00Z INFO [api] got:\n" + ISAPI
    assert _undone(on_next_line).startswith("HTTP/1.1 200 OK")
    chatter = "2024-05-01 10:00:00 INFO camera went offline"
    assert _undone(chatter) == chatter


def test_string_literal_in_a_log_line() -> None:
    line = f"2024-05-01 10:00:00,001 DEBUG [dahua] answer={CGI!r})"
    out = _undone(line)
    assert "serialNumber=4L0123PAZ00042" in _lines(out)


def test_record_that_wraps_an_answer() -> None:
    har = json.dumps({"status": 200, "content": {"mimeType": "application/xml", "text": ISAPI}})
    assert _undone(har) == ISAPI
    printed_dict = repr({"status_code": 200, "text": CGI})
    assert _undone(printed_dict) == CGI


def test_device_json_is_not_taken_for_a_wrapper() -> None:
    reply = json.dumps(
        {"result": True, "params": {"Vendor": "Dahua", "note": "two\nlines"}, "id": 3, "session": "x" * 40}
    )
    assert _undone(reply) == reply


def test_hex_dumps_of_three_tools() -> None:
    data = CGI.encode()
    hexdump = []
    xxd = []
    tshark = []
    for off in range(0, len(data), 16):
        chunk = data[off : off + 16]
        ascii_ = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        left = " ".join(f"{b:02x}" for b in chunk[:8])
        right = " ".join(f"{b:02x}" for b in chunk[8:])
        hexdump.append(f"{off:08x}  {left:<23}  {right:<23}  |{ascii_}|")
        groups = " ".join(chunk[i : i + 2].hex() for i in range(0, len(chunk), 2))
        xxd.append(f"{off:08x}: {groups:<39}  {ascii_}")
        tshark.append(f"{off:04x}  {' '.join(f'{b:02x}' for b in chunk):<47}   {ascii_}")
    hexdump.append(f"{len(data):08x}")
    for dump in (hexdump, xxd, tshark):
        assert _lines(_undone("\n".join(dump))) == _lines(CGI)


def test_hex_dump_stops_where_offsets_stop_adding_up() -> None:
    dump = "0000  41 42 43 44\n0004  45 46\n0100  47 48\n"
    assert _undone(dump) == "ABCDEF"
    one_line = "0000  41 42 43 44"
    assert _undone(one_line) == one_line


def test_entity_escaped_markup() -> None:
    escaped = ISAPI.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert _undone(escaped) == ISAPI
    page = "<p>a &lt;b&gt; and &lt;c&gt;</p>"  # markup outnumbers what is escaped: a page, left alone
    assert _undone(page) == page


def test_hostile_text_stays_bounded() -> None:
    for text in (
        "'" + "\\n" * 200000,
        "{" + "'a': " * 50000,
        "[" * 100000 + "\\n" + "]" * 100000,
        "0000  " + "41 " * 100000,
        "> " * 100000,
        "\n".join("0000  41 41" for _ in range(20000)),
        "2024-05-01 10:00:00 " + "[x] " * 50000,
        "&lt;" * 100000,
    ):
        out = _undone(text)
        assert isinstance(out, str)
        assert len(out) <= len(text) + 2


def test_identification_reads_through_the_wrappers() -> None:
    identifier = Identifier()
    quoted = "\n".join(f"> {line}" for line in ISAPI.splitlines())
    logged = "2024-05-01 10:00:00.123 DEBUG (MainThread) [hikvision] Response: " + repr(ISAPI)
    for raw in (quoted, logged):
        result = identifier.identify([{"kind": "http", "port": 80, "raw": raw}])
        assert result.vendor == "hikvision"
        assert result.model == "DS-2CD2386G2-IU"


def test_a_wrapped_answer_decodes_to_text_any_encoder_takes() -> None:
    record = '{"text": "HTTP/1.1 200 OK\\r\\nServer: x\\ud800\\u0000\\r\\n\\r\\nbody line one\\nbody line two"}'
    out = _undone(record)
    assert out.startswith("HTTP/1.1 200 OK")
    out.encode("utf-8")  # a lone surrogate would raise here


def test_wireshark_packet_details() -> None:
    printed = "\n".join(
        [
            "Real Time Streaming Protocol",
            "    Response: RTSP/1.0 401 Unauthorized\\r\\n",
            "        Status: 401",
            "    CSeq: 2\\r\\n",
            '    WWW-Authenticate: Digest realm="Login to 4K01FD2PAJ6E3FF", nonce="203c"\\r\\n',
            "    \\r\\n",
            "    [Time since request: 0.003 seconds]",
        ]
    )
    assert _lines(_undone(printed)) == [
        "RTSP/1.0 401 Unauthorized",
        "CSeq: 2",
        'WWW-Authenticate: Digest realm="Login to 4K01FD2PAJ6E3FF", nonce="203c"',
    ]
    one = "HTTP/1.1 200 OK\\r\\n\nServer: x"
    assert _undone(one) == one


def test_logger_head_before_a_fragment_that_starts_with_header_lines() -> None:
    fragment = 'WWW-Authenticate: Basic realm="IP Camera(L4906)"\r\nDate:  Mon, Dec 18 2023 21:19:09 GMT\r\n'
    assert _undone("2024-05-01 10:00:00 DEBUG [ffmpeg] got: " + fragment) == fragment
    one_header = "2024-05-01 10:00:00 DEBUG [x] Server: nginx"  # one line is a log message, not a fragment
    assert _undone(one_header) == one_header


def test_markdown_code_fence() -> None:
    fenced = "```xml\n" + ISAPI + "```\n"
    assert _lines(_undone(fenced)) == _lines(ISAPI)
    tilde = "~~~\n" + CGI + "\n~~~"
    assert _lines(_undone(tilde)) == _lines(CGI)
    not_a_fence = "``code`` said the log"
    assert _undone(not_a_fence) == not_a_fence


# -- the user's own lines around an answer (helper coldread's pastes) ------------------------------


def _http_model(raw: str) -> tuple[str, str | None]:
    result = Identifier().identify([{"kind": "http", "port": 80, "raw": raw}])
    return result.vendor, result.model


@pytest.mark.parametrize(
    "paste",
    [
        "Here is what I got:\n```\n" + ISAPI + "```\n",
        "On Mon, 1 Dec 2026, Bob wrote:\n" + "\n".join(f"> {ln}" for ln in ISAPI.splitlines()) + "\n\nThanks",
        "> ```\n" + "\n".join(f"> {ln}" for ln in ISAPI.splitlines()) + "\n> ```",
        "$ curl -i --digest -u admin:xxx http://127.0.0.1/ISAPI/System/deviceInfo\n" + ISAPI,
        "Response:\n" + ISAPI,
        "GET /ISAPI/System/deviceInfo HTTP/1.1\nHost: 127.0.0.1\nAccept: */*\n\n" + ISAPI,
        "2026-12-01 10:22:03,114 DEBUG hik: response body: " + ISAPI.split("\r\n\r\n", 1)[1],
        ">>> r.text\n" + repr(ISAPI.split("\r\n\r\n", 1)[1]),
        "INFO:hik:got " + repr(ISAPI.split("\r\n\r\n", 1)[1]) + " from 127.0.0.1",
        "2026-12-01 10:22:03,114 DEBUG urllib3: response text: " + repr(ISAPI),
    ],
    ids=[
        "prose-fence",
        "reply",
        "fence-in-quote",
        "prompt",
        "label",
        "follow-stream",
        "log-label",
        "repl",
        "mid-line",
        "log-repr",
    ],
)
def test_the_users_own_lines_around_an_answer_are_passed_over(paste: str) -> None:
    assert _http_model(paste) == ("hikvision", "DS-2CD2386G2-IU")


def test_a_preamble_that_holds_evidence_is_kept() -> None:
    echo = (
        "DESCRIBE rtsp://127.0.0.1/ RTSP/1.0\n"
        'Authorization: Digest username="admin", realm="Login to 4K01FD2PAJ6E3FF"\n\n'
    )
    text = echo + "RTSP/1.0 200 OK\r\nCSeq: 3\r\n\r\n"
    assert answer_start(text) == text  # the realm the client echoed is the device's
    logged = "2023/03/31 17:35:34 DEB [rtsp source] s->c RTSP/1.0 401 Unauthorized\nCSeq: 2\nDate: x\n"
    assert answer_start(logged) == logged  # a status line in the preamble: the line is the answer's
    fragment = '  "device": {\n    "Manufacturer": "LOREX"\n  },\n  "networks": [\n    {\n      "Name": "eth0"\n'
    assert answer_start(fragment) == fragment  # a record's members are all answer


def test_pasted_reports_keep_their_lines() -> None:
    report = "Nmap scan report for 127.0.0.1\nPORT   STATE SERVICE\n80/tcp open  http\n<title>Login</title>\n"
    assert "Nmap scan report" in " ".join(
        text for values in gather([{"kind": "banner", "raw": report}]).texts.values() for _k, text in values
    )


def test_a_printouts_title_line_is_kept() -> None:
    printout = "Hikvision DS-2CD2143G2-I at the tills\nManufacturer: HIKVISION\nFirmwareVersion: V5.7.3\n"
    assert answer_start(printout, headers=False) == printout
    assert Identifier().identify([{"kind": "onvif", "raw": printout}]).vendor == "hikvision"
