"""The Hikvision camera profiles (and dahua-ipc's RTSP) answer the way the recorded cameras did (issue 14, item 3).

Reference: whole HTTP answers of two DS-2CD2155FWD-I cameras recorded by vcrpy
(MissiaL/hikvision-client cassettes, commit cf29e88c; tests/data/captures/http-response/missial-*).
The cassettes sort the headers, so the header *set* is compared, not the order.  Answers are
built in-process (no socket), from the bundled profiles.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from phaseout.discover.digest import Credentials, authorization, parse_challenge
from phaseout.emulate import devices

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "captures" / "http-response"
RECORDED_401 = CAPTURES / "missial-hikclient-ds-2cd2155fwd-i-v550-status-401.txt"
RECORDED_200 = CAPTURES / "missial-hikclient-ds-2cd2155fwd-i-v545-deviceinfo-200.txt"
CAMERAS = ["hikvision-ipc", "lts-ipc", "annke-ipc"]


def _split(raw: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers, body


def _answer(profile: str, path: str) -> bytes:
    device = devices.plan_devices([profile], 1, "127.0.0.1")[0]
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    return devices._http_answer(device, request)


@pytest.mark.parametrize("profile", CAMERAS)
def test_401_matches_the_recorded_answer(profile: str) -> None:
    status, headers, body = _split(_answer(profile, "/ISAPI/System/deviceInfo"))
    want_status, want_headers, want_body = _split(RECORDED_401.read_bytes())
    assert status == want_status
    assert set(headers) == set(want_headers)
    assert body == want_body  # the page, CR LF line ends and all
    assert headers["content-length"] == want_headers["content-length"] == str(len(want_body))
    for name in ("server", "connection", "keep-alive", "content-type"):
        assert headers[name] == want_headers[name], name
    challenge = headers["www-authenticate"]
    assert re.fullmatch(r'Digest qop="auth", realm="IP Camera\(\w{5}\)", nonce="[0-9a-f]+", stale="FALSE"', challenge)
    nonce = re.search(r'nonce="([0-9a-f]+)"', challenge)
    assert nonce is not None
    inner = base64.b64decode(bytes.fromhex(nonce.group(1))).decode()
    assert re.fullmatch(r"[0-9a-f]{1,8}:[0-9a-f]{1,8}", inner)  # as the recorded nonce decodes


def test_hikvision_nonce_is_unpadded_like_the_recorded_one() -> None:
    recorded = base64.b64decode(bytes.fromhex("4d5755784d7a41344d546b365a446b31597a51354e513d3d")).decode()
    assert recorded == "1e130819:d95c495"  # 7 digits after the colon: printed without padding
    nonces = [base64.b64decode(bytes.fromhex(devices._nonce("hikvision"))).decode() for _ in range(400)]
    widths = {len(part) for inner in nonces for part in inner.split(":")}
    assert 8 in widths and min(widths) < 8


def test_200_deviceinfo_has_the_recorded_header_set_and_crlf_body() -> None:
    device = devices.plan_devices(["hikvision-ipc"], 1, "127.0.0.1")[0]
    http = device.profile.http
    creds = Credentials(http.get("username", "admin"), http.get("password", "emulated-only"))
    # authorize the way a client does: answer the challenge of a first request
    first = _split(devices._http_answer(device, b"GET /ISAPI/System/deviceInfo HTTP/1.1\r\n\r\n"))[1]
    challenge = parse_challenge(first["www-authenticate"])
    assert challenge is not None
    auth = authorization(creds, "GET", "/ISAPI/System/deviceInfo", challenge)
    request = f"GET /ISAPI/System/deviceInfo HTTP/1.1\r\nAuthorization: {auth}\r\n\r\n"
    raw = devices._http_answer(device, request.encode())
    status, headers, body = _split(raw)
    want_status, want_headers, want_body = _split(RECORDED_200.read_bytes())
    assert status == want_status
    assert set(headers) == set(want_headers)
    assert headers["server"] == want_headers["server"] and headers["connection"] == want_headers["connection"]
    assert body.count(b"\r\n") == body.count(b"\n") and want_body.count(b"\r\n") == want_body.count(b"\n")
    recorded_order = re.findall(rb"<(\w+)>", want_body)
    ours = re.findall(rb"<(\w+)>", body)
    assert [t for t in ours if t in recorded_order] == recorded_order  # same fields, same order


DAHUA_OPTIONS = Path(__file__).resolve().parents[1] / "data" / "captures" / "rtsp-reply" / "retina-dahua-options.txt"


def test_dahua_options_matches_the_recorded_answer() -> None:
    """dahua-ipc's RTSP OPTIONS answer: the recorded one (retina dahua_options.txt) without the
    Session line that echoed the recording client's session."""
    device = devices.plan_devices(["dahua-ipc"], 1, "127.0.0.1")[0]
    raw = devices._rtsp_answer(device, b"OPTIONS rtsp://127.0.0.1:554/ RTSP/1.0\r\nCSeq: 5\r\n\r\n")
    status, headers, _ = _split(raw)
    want_status, want_headers, _ = _split(DAHUA_OPTIONS.read_bytes())
    assert status == want_status
    assert set(headers) == set(want_headers) - {"session"}
    assert all(headers[k] == want_headers[k] for k in headers)
    unauthorized = _split(devices._rtsp_answer(device, b"DESCRIBE rtsp://127.0.0.1/ RTSP/1.0\r\nCSeq: 6\r\n\r\n"))
    assert set(unauthorized[1]) == {"cseq", "www-authenticate"}  # the bare 401 of the recorded 401s
