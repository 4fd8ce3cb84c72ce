"""Two things found by the holdout9 captures (issue 14, helper evidence4): ngrep's printout of an
RTSP/HTTP exchange (payload wrapped at the terminal width, CR LF printed as ``..``), and the
ONVIF NotAuthorized fault wording of Dahua firmware ("... You still have N attempt(s).").

Positive cases read real captures from tests/data/captures (sources in its manifest); the
negative cases change one thing so that each test can fail for the reason it names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from phaseout.identify import Identifier
from phaseout.identify.fallback import undo_ngrep

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "captures"
IDF = Identifier()
AMCREST_NGREP = "rtsp-fragment/motion-121-amcrest-ngrep-options-401.txt"
FAULTS = [
    "onvif-fault/quedale-odm-19-imou-bullet-lite-notauthorized.xml",
    "onvif-fault/lightnvr-339-lorex-notauthorized-part.xml",
    "onvif-deviceinfo-text/ha-core-147404-imou-onvif-fault-text.txt",
    "onvif-deviceinfo-text/ha-core-175333-dahua-dh-p5d-5f-pv-onvif-fault.txt",
]


def capture(name: str) -> str:
    return (CAPTURES / name).read_text("utf-8")


def ident(observations: list[dict[str, Any]]) -> dict[str, Any]:
    return IDF.identify(observations).as_dict("t")


def rules(out: dict[str, Any]) -> list[str]:
    return [e["rule"] for e in out["evidence"]]


# ---------------------------------------------------------------- ngrep printouts


def test_ngrep_printout_gives_the_realm_the_wrap_had_cut() -> None:
    out = ident([{"kind": "rtsp", "port": 554, "raw": capture(AMCREST_NGREP)}])
    assert out["vendor"] == "dahua"
    assert "dahua.auth.login-to-serial" in rules(out)


def test_ngrep_payload_is_joined_and_line_ends_restored() -> None:
    text = undo_ngrep(capture(AMCREST_NGREP))
    assert 'WWW-Authenticate: Digest realm="Login to AMC0007RVY5EQ6DV29"' in text
    assert "RTSP/1.0\r\nCSeq: 1\r\n" in text  # "RTSP/1." + wrap + "0.." is one status line again


@pytest.mark.parametrize(
    ("dots", "want"),
    [("a..b", "a\r\nb"), ("a...b", "a.\r\nb"), ("a....b", "a\r\n\r\nb"), ("1.2.3", "1.2.3")],
)
def test_dot_runs(dots: str, want: str) -> None:
    assert undo_ngrep(f"T 10.0.0.1:554 -> 10.0.0.2:5000 [AP]\n  {dots}\n") == want


def test_text_without_an_ngrep_packet_line_is_unchanged() -> None:
    """Indented text with '..' (a log, a printout) is left alone unless a packet line opens it."""
    text = "RTSP/1.0 401 Unauthorized\n  realm -> value..\n##\n"
    assert undo_ngrep(text) == text


def test_the_realm_stays_cut_without_the_packet_line() -> None:
    """Without ngrep's packet line the wrapped realm is not joined: nothing reads it."""
    body = "\n".join(ln for ln in capture(AMCREST_NGREP).splitlines() if not ln.startswith("T "))
    body = body.replace("Authorization", "X-Other")  # the echoed realm, whole on its line, removed too
    out = ident([{"kind": "rtsp", "port": 554, "raw": body}])
    assert "dahua.auth.login-to-serial" not in rules(out)


def test_another_makers_ngrep_printout_is_not_dahua() -> None:
    axis = (
        "T 10.0.0.9:554 -> 10.0.0.2:41000 [AP]\n"
        '  RTSP/1.0 401 Unauthorized..CSeq: 1..WWW-Authenticate: Digest realm="AXIS_ACCC8E0123\n'
        '  45", nonce="0000a1b2Y1234567890abcdef"....\n'
    )
    out = ident([{"kind": "rtsp", "port": 554, "raw": axis}])
    assert out["vendor"] not in ("dahua", "hikvision")


def test_many_packets_are_capped() -> None:
    text = "T 10.0.0.1:1 -> 10.0.0.2:2 [AP]\n  x..\n" * 5000
    assert undo_ngrep(text).count("\r\n") == 200


# ---------------------------------------------------------------- the ONVIF fault wording


@pytest.mark.parametrize("name", FAULTS)
def test_dahua_onvif_fault_wording(name: str) -> None:
    out = ident([{"kind": "onvif", "raw": capture(name)}])
    assert out["vendor"] == "dahua"
    assert "dahua.onvif.fault.attempts-left" in rules(out)


@pytest.mark.parametrize(
    "reason",
    [
        "Sender not Authorized. Invalid username or password!",  # no countdown
        "Sender not Authorized. The action requested requires authorization.",
        "You still have 3 attempt(s).",  # the countdown without the wording before it
    ],
)
def test_other_not_authorized_faults_name_no_maker(reason: str) -> None:
    fault = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault><s:Code><s:Value>s:Sender'
        "</s:Value><s:Subcode><s:Value>ter:NotAuthorized</s:Value></s:Subcode></s:Code><s:Reason>"
        f'<s:Text xml:lang="en">{reason}</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>'
    )
    assert ident([{"kind": "onvif", "raw": fault}])["vendor"] == "unknown"


# ---------------------------------------------------------------- shapes found by holdout10

VTO_401 = "rtsp-fragment/scrypted-1048-dahua-vto2111d-wp-401.txt"
GO2RTC_JSON = [
    "rtsp-fragment/go2rtc-1673-dahua-cube-probe-json-part.txt",
    "rtsp-fragment/go2rtc-1569-dahua-c4kp-p-probe-json-part.txt",
]


def test_a_log_line_before_the_answer_does_not_hide_its_headers() -> None:
    out = ident([{"kind": "rtsp", "port": 554, "raw": capture(VTO_401)}])
    assert out["vendor"] == "dahua"
    assert "dahua.auth.login-to-serial" in rules(out)


def test_a_status_line_inside_a_line_is_not_a_message() -> None:
    text = capture(VTO_401).replace("\n RTSP/1.0 401", " RTSP/1.0 401")  # no longer at a line start
    assert "dahua.auth.login-to-serial" not in rules(ident([{"kind": "rtsp", "port": 554, "raw": text}]))


@pytest.mark.parametrize("name", GO2RTC_JSON)
def test_go2rtc_stream_info_gives_urls_and_sdp(name: str) -> None:
    out = ident([{"kind": "rtsp", "port": 554, "raw": capture(name)}])
    assert out["vendor"] == "dahua"
    assert "dahua.url.realmonitor" in rules(out)


def test_go2rtc_stream_info_of_another_maker_names_no_covered_maker() -> None:
    # another maker's stream: its own path, and none of Dahua's own SDP attributes (dh-payload)
    other = (
        capture(GO2RTC_JSON[1])
        .replace("/cam/realmonitor?channel=1\\u0026subtype=0/", "/stream1")
        .replace("a=packetization-supported:DH", "a=x-vendor:1")
        .replace("a=rtppayload-supported:DH", "a=x-vendor:2")
    )
    out = ident([{"kind": "rtsp", "port": 554, "raw": other}])
    assert out["vendor"] == "unknown"


def test_json_without_sdp_is_not_read_as_stream_info() -> None:
    text = '{"url": "rtsp://10.0.0.1/cam/realmonitor?channel=1"}'
    assert "dahua.url.realmonitor" not in rules(ident([{"kind": "rtsp", "port": 554, "raw": text}]))
