"""go2rtc stream printouts (``identify.facts._printed_streams``) decode JSON string escapes, which
can spell what no other answer text holds: a lone UTF-16 surrogate (``\\ud800``) and control
characters (``\\u0000``).  A device in scope that answers its RTSP port with such a printout must
not stop its collector's upload (orjson refuses a surrogate) nor put a NUL in a stored text
(PostgreSQL refuses one)."""

from __future__ import annotations

import orjson
import pytest

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


# ---------------------------------------------------------------- answers echoed as string literals

#: A whole answer as one string literal (``identify.fallback.unquote_literal``), whose escapes
#: spell lone surrogates and control characters: a CGI answer and an ONVIF printout.
LITERAL_CGI = (
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
    "'deviceType=IPC-HFW1230S\\ud800\\r\\nsoftwareVersion=2.800\\u0000\\u001b1\\r\\nserialNumber=AB\\udfffC\\r\\n'"
)
LITERAL_PRINTOUT = "'Manufacturer: Hikvision\\u0000\\nModel: DS-2CD2143G2-I\\udfff\\nSerial Number: X\\ud83d\\ude00\\n'"
MAGICBOX = "/cgi-bin/magicBox.cgi?action=getSystemInfo"


def _literal_observations() -> list[dict[str, object]]:
    return [
        {"kind": "http", "port": 80, "tls": False, "path": MAGICBOX, "raw": LITERAL_CGI},
        {"kind": "onvif", "port": 80, "raw": LITERAL_PRINTOUT},
    ]


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def test_a_literal_answer_spells_no_surrogate_and_no_control_character() -> None:
    for obs in _literal_observations():
        facts = gather([obs])
        found = _strings([facts.models, facts.makers, facts.serials, facts.firmware])
        found += [text for values in facts.texts.values() for _kind, text in values]
        assert any("IPC-HFW1230S" in s or "DS-2CD2143G2-I" in s for s in found)  # still read
        for text in found:
            text.encode("utf-8")  # a lone surrogate raises here
            assert not any(c < " " and c not in "\t\r\n" for c in text), repr(text)


def test_a_surrogate_pair_in_a_literal_is_one_character() -> None:
    from phaseout.identify.fallback import unquote_literal

    assert unquote_literal("'a\\ud83d\\ude00\\n'") == "a\U0001f600\n"
    assert unquote_literal("'a\\ud800\\n'") == "a\ufffd\n"


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_a_literal_answer_does_not_stop_the_scan_merge(db_url: str) -> None:
    """One device in scope answering with such a literal made the whole merge fail (the store's
    driver refused the surrogate the identification read from it): every host of the upload lost."""
    from sqlalchemy import text

    from phaseout.app import Phaseout
    from phaseout.store import Store

    hosts = [
        HostResult(f"127.48.0.{n + 1}", ports=[80], observations=[obs]) for n, obs in enumerate(_literal_observations())
    ]
    with Store.open(db_url) as store:
        record = Phaseout(store).record_results(hosts, targets=["127.48.0.0/30"], ports=(80,))
        assert record.created == 2
        with store.engine.connect() as conn:
            models = conn.execute(text("SELECT id_model FROM devices ORDER BY ip")).scalars().all()
        assert [m.startswith(("IPC-HFW1230S", "DS-2CD2143G2-I")) for m in models] == [True, True]
