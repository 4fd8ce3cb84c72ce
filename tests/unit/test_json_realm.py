"""The realm of a login challenge sent as JSON (Dahua's ``RPC2_Login``) is read as the Digest
realm it is: the real challenges in the corpus are identified by it even without their ``mac``."""

from __future__ import annotations

import json

import pytest

from phaseout.identify.engine import Identifier
from tests.corpus_loader import CAPTURES, read_payload

CHALLENGES = [
    "dahua-rpc2/2ic80-dahua-sd3-rpc2-login-challenge.json",
    "dahua-rpc2/gbn-qsee-ip-camera-rpc2-login-challenge.json",
]


def _without_mac(text: str) -> str:
    data = json.loads(text)
    for holder in (data, data.get("params") or {}):
        holder.pop("mac", None)
    return json.dumps(data)


@pytest.mark.parametrize("name", CHALLENGES)
def test_challenge_without_its_mac_is_read_by_its_realm(name: str) -> None:
    body = _without_mac(read_payload(CAPTURES / name))
    assert '"realm": "Login to ' in body
    result = Identifier().identify(
        [{"kind": "http", "port": 80, "path": "/RPC2_Login", "raw": f"HTTP/1.1 200 OK\r\n\r\n{body}"}]
    )
    assert result.vendor == "dahua"
    assert any(e.rule == "dahua.auth.login-to-serial" for e in result.evidence)


def test_a_realm_that_names_no_maker_says_nothing() -> None:
    body = '{"params":{"realm":"Login to WebServer","random":"1"},"result":false}'
    result = Identifier().identify([{"kind": "http", "port": 80, "raw": f"HTTP/1.1 200 OK\r\n\r\n{body}"}])
    assert result.vendor == "unknown"
