"""go2rtc stream printouts (``identify.facts._printed_streams``) decode JSON string escapes, which
can spell what no other answer text holds: a lone UTF-16 surrogate (``\\ud800``) and control
characters (``\\u0000``).  A device in scope that answers its RTSP port with such a printout must
not stop its collector's upload (orjson refuses a surrogate) nor put a NUL in a stored text
(PostgreSQL refuses one)."""

from __future__ import annotations

import orjson

from phaseout.discover.collector import wire
from phaseout.discover.scanner import HostResult
from phaseout.identify.facts import gather

HOSTILE = (
    '{"producers":[{"url":"rtsp://127.0.0.1/a\\ud800","sdp":'
    '"v=0\\r\\ns=Hikvision \\ud800\\u0000\\u001b\\r\\na=control:rtsp://127.0.0.1/\\udfff\\r\\n"}]}'
)


def _texts(raw: str) -> list[str]:
    facts = gather([{"kind": "rtsp", "port": 554, "raw": raw}])
    return [text for values in facts.texts.values() for _kind, text in values]


def test_decoded_texts_hold_no_surrogate_and_no_control_character() -> None:
    texts = _texts(HOSTILE)
    assert any("s=Hikvision" in t for t in texts)  # still read
    for text in texts:
        text.encode("utf-8")  # a lone surrogate raises here
        assert not any(c < " " and c not in "\t\r\n" for c in text), repr(text)


def test_a_hostile_printout_does_not_stop_the_collectors_upload() -> None:
    host = HostResult("127.0.0.9", ports=[554], observations=[{"kind": "rtsp", "port": 554, "raw": HOSTILE}])
    body = orjson.loads(wire.encode_upload("a" * 32, 1, [host], [], False, facts=True))
    assert body["hosts"][0]["observations"][0]["raw"] == HOSTILE


def test_a_valid_surrogate_pair_is_one_character() -> None:
    texts = _texts('{"sdp":"v=0\\r\\ns=Cam \\ud83d\\ude00\\r\\n"}')
    assert any("s=Cam \U0001f600" in t for t in texts)
