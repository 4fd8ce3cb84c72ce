"""The replay harness serves captures verbatim: whole answers byte for byte, bodies with only
the transport framing added, printouts undone or not served at all."""

from __future__ import annotations

from tests.corpus_loader import load_manifest
from tests.wire_replay import _undo_printout, plan_for

CAPTURES = {c.file: c for c in load_manifest()}


def test_a_whole_rtsp_reply_is_served_byte_for_byte() -> None:
    capture = CAPTURES["rtsp-reply/retina-dahua-options.txt"]
    plan = plan_for(capture)
    assert [a.method for a in plan.answers] == ["OPTIONS"]
    assert plan.answers[0].payload == capture.path.read_bytes()
    assert plan.framing == "none (whole answers)"


def test_a_transcript_is_split_into_its_replies_in_order() -> None:
    plan = plan_for(CAPTURES["rtsp-transcript/hikvision-options-describe-401.txt"])
    assert [a.method for a in plan.answers] == ["OPTIONS", "DESCRIBE"]
    assert b'realm="IP Camera(C1214)"' in plan.answers[1].payload


def test_a_body_gets_only_the_framing_and_the_request_it_answered() -> None:
    capture = CAPTURES["isapi-deviceinfo/hikvision-ds-2cd2386g2-iu.xml"]
    plan = plan_for(capture)
    (answer,) = plan.answers
    head, _sep, body = answer.payload.partition(b"\r\n\r\n")
    assert body == capture.path.read_bytes()
    assert (answer.method, answer.target) == ("GET", "/ISAPI/System/deviceInfo")
    assert f"Content-Length: {len(body)}".encode() in head


def test_printouts_are_undone_or_not_served() -> None:
    text, done = _undo_printout("< HTTP/1.1 404 Not Found\n< Server: DNVRS-Webs\n< \n")
    assert text.startswith("HTTP/1.1 404 Not Found\r\nServer: DNVRS-Webs\r\n")
    assert "curl '< ' prefixes removed" in done
    assert plan_for(CAPTURES["onvif-deviceinfo-text/hikvision-ds-2df7286-a-values.txt"]).skip
    assert plan_for(CAPTURES["ftp-banner/" + next(f.split("/")[1] for f in CAPTURES if f.startswith("ftp-"))]).skip
