"""Attacks on ``/api/collector`` by a collector holding a valid credential (stolen, or a
compromised site machine): every hostile upload is refused with a 4xx and an audit event, never
a server error, and nothing of it is merged."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from phaseout.app import Phaseout
from phaseout.app import collectors as use
from phaseout.discover.collector import wire
from phaseout.identify import facts as F
from phaseout.identify import facts_wire
from phaseout.store import Store
from phaseout.store import collectors as db
from phaseout.store.schema import devices, events
from phaseout.web import collector_api
from phaseout.web.app import create_app
from phaseout.web.security import limiter


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[tuple[TestClient, Phaseout]]:
    with (
        Store.open(str(tmp_path / "c.db")) as store,
        TestClient(
            create_app(store.engine, warm=False), base_url="http://127.0.0.1", raise_server_exceptions=False
        ) as client,
    ):
        try:
            yield client, Phaseout(store, actor="test")
        finally:
            limiter.forget()  # the enrolment test locks this process's client address


def _enrolled(client: TestClient, app: Phaseout) -> dict[str, str]:
    code = use.new_code(app, "store-9", ["S009"], ["10.9.0.0/24"])
    r = client.post("/api/collector/enrol", json={"code": code, "version": "0.1.0"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def _claimed_job(client: TestClient, app: Phaseout, headers: dict[str, str]) -> int:
    use.define(app, use.Definition("s9", ["10.9.0.0/28"], ["10.9.0.0/24"], [80], collector="store-9"))
    db.enqueue_named(app.engine, "s9")
    job = client.post("/api/collector/claim", json={}, headers=headers).json()["job"]
    return int(job["id"])


NESTED = "NESTED-PLACEHOLDER"


def _nested_json(data: Any, depth: int) -> bytes:
    """``data`` as JSON with ``NESTED`` replaced by a list nested ``depth`` deep (orjson reads
    1,024 levels but writes only 254, so the text is built by hand)."""
    return orjson.dumps(data).replace(f'"{NESTED}"'.encode(), b"[" * depth + b"1" + b"]" * depth)


def _refusals(app: Phaseout) -> int:
    with app.engine.connect() as conn:
        rows = conn.execute(select(events.c.id).where(events.c.action == "collector.upload-refused"))
        return len(rows.all())


def _upload(job: int, host: dict[str, Any], upload_id: str = "u" * 32) -> bytes:
    return orjson.dumps({"upload_id": upload_id, "job_id": job, "hosts": [host], "silent": []})


def test_deeply_nested_observation_is_refused_not_a_server_error(fresh: tuple[TestClient, Phaseout]) -> None:
    client, app = fresh
    headers = _enrolled(client, app)
    job = _claimed_job(client, app, headers)
    host = {"ip": "10.9.0.5", "ports": [80], "observations": [{"kind": "http", "body": NESTED}]}
    body = _nested_json(orjson.loads(_upload(job, host)), 600)
    r = client.post("/api/collector/uploads", content=body, headers=headers)
    assert r.status_code in (400, 422), r.text
    assert "nested" in r.json()["detail"]
    assert _refusals(app) == 1
    assert db.job(app.engine, job)["status"] == "claimed"  # type: ignore[index]


def test_deeply_nested_health_is_dropped_not_a_server_error(fresh: tuple[TestClient, Phaseout]) -> None:
    client, app = fresh
    headers = _enrolled(client, app)
    r = client.post("/api/collector/claim", content=_nested_json({"health": {"x": NESTED}}, 600), headers=headers)
    assert r.status_code == 200, r.text
    (row,) = db.list_collectors(app.engine)
    assert row["health"] == {}


def test_a_collector_cannot_undo_a_finished_job(fresh: tuple[TestClient, Phaseout]) -> None:
    client, app = fresh
    headers = _enrolled(client, app)
    job = _claimed_job(client, app, headers)
    host = {"ip": "10.9.0.5", "ports": [80], "observations": []}
    r = client.post("/api/collector/uploads", content=_upload(job, host), headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "merged", r.text
    scan_id = r.json()["scan_id"]
    for outcome in ("refuse", "fail"):
        r = client.post(f"/api/collector/jobs/{job}/{outcome}", json={"reason": "x"}, headers=headers)
        assert r.status_code == 403, (outcome, r.text)
    after = db.job(app.engine, job)
    assert after is not None and (after["status"], after["scan_id"]) == ("done", scan_id)


@pytest.mark.parametrize(
    ("channel", "why"),
    [
        ({"number": 1, "address": "<script>alert(1)</script>"}, "address"),
        ({"number": 1, "address": "10.9.0.5"}, "itself"),  # the recorder as its own camera
        ({"number": 1, "name": "cam\r\nBcc: x@example.org"}, "control"),
        ({"number": 1, "model": "DS\x00-2CD"}, "control"),
    ],
)
def test_hostile_channels_in_an_upload_are_refused(
    fresh: tuple[TestClient, Phaseout], channel: dict[str, Any], why: str
) -> None:
    client, app = fresh
    headers = _enrolled(client, app)
    job = _claimed_job(client, app, headers)
    host = {"ip": "10.9.0.5", "ports": [80], "observations": [], "channels": [channel], "channel_kinds": ["ip"]}
    r = client.post("/api/collector/uploads", content=_upload(job, host), headers=headers)
    assert r.status_code == 422, r.text
    assert why in r.json()["detail"]
    assert _refusals(app) == 1
    with app.engine.connect() as conn:
        assert conn.execute(select(devices.c.id)).all() == []


def test_repeated_channel_numbers_are_refused(fresh: tuple[TestClient, Phaseout]) -> None:
    client, app = fresh
    headers = _enrolled(client, app)
    job = _claimed_job(client, app, headers)
    channels = [{"number": 1, "address": "192.168.254.2"}, {"number": 1, "address": "192.168.254.3"}]
    host = {"ip": "10.9.0.5", "ports": [80], "observations": [], "channels": channels, "channel_kinds": ["ip"]}
    r = client.post("/api/collector/uploads", content=_upload(job, host), headers=headers)
    assert r.status_code == 422 and "twice" in r.json()["detail"], r.text


def test_a_well_formed_channel_is_still_merged(fresh: tuple[TestClient, Phaseout]) -> None:
    client, app = fresh
    headers = _enrolled(client, app)
    job = _claimed_job(client, app, headers)
    channel = {"number": 1, "name": "Door", "address": "192.168.254.2", "model": "DS-2CD2386G2-IU", "online": True}
    host = {"ip": "10.9.0.5", "ports": [80], "observations": [], "channels": [channel], "channel_kinds": ["ip"]}
    r = client.post("/api/collector/uploads", content=_upload(job, host), headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "merged", r.text
    with app.engine.connect() as conn:
        ips = sorted(conn.execute(select(devices.c.ip)).scalars())
    assert ips == ["10.9.0.5", "192.168.254.2"]


def test_refused_enrolments_are_audited_and_limited_per_address(fresh: tuple[TestClient, Phaseout]) -> None:
    client, app = fresh
    for _ in range(5):
        assert client.post("/api/collector/enrol", json={"code": "pe_guess"}).status_code == 403
    with app.engine.connect() as conn:
        audited = conn.execute(select(events.c.after).where(events.c.entity_id == "collector enrolment")).all()
    assert len(audited) == 5
    # the address is locked now: even a good code waits (a guesser learns nothing more)
    code = use.new_code(app, "store-9", ["S009"], ["10.9.0.0/24"])
    r = client.post("/api/collector/enrol", json={"code": code})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert db.collector_named(app.engine, "store-9")["token_hash"] is None  # type: ignore[index]


def test_a_revoked_credential_cannot_flood_the_audit_trail(fresh: tuple[TestClient, Phaseout]) -> None:
    client, app = fresh
    headers = _enrolled(client, app)
    db.revoke(app.engine, "store-9", "test")
    for _ in range(20):
        assert client.post("/api/collector/claim", json={}, headers=headers).status_code == 401
    with app.engine.connect() as conn:
        rows = conn.execute(select(events.c.after).where(events.c.action == "collector.refused")).all()
    assert len(rows) == 1  # one event per collector per minute, counting what it stands for


def test_one_upload_at_a_time_per_collector(fresh: tuple[TestClient, Phaseout]) -> None:
    client, app = fresh
    headers = _enrolled(client, app)
    job = _claimed_job(client, app, headers)
    body = _upload(job, {"ip": "10.9.0.5", "ports": [80], "observations": []})
    (collector,) = db.list_collectors(app.engine)
    collector_api._uploading.add(collector["id"])  # another upload of it is being merged
    try:
        r = client.post("/api/collector/uploads", content=body, headers=headers)
        assert r.status_code == 429 and r.headers["Retry-After"] == "5"
    finally:
        collector_api._uploading.discard(collector["id"])
    r = client.post("/api/collector/uploads", content=body, headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "merged"
    assert collector_api._uploading == set()  # released after a merge
    r = client.post("/api/collector/uploads", content=b"{", headers=headers)
    assert r.status_code == 400 and collector_api._uploading == set()  # and after a refusal


# --- facts sent beside the answers (identify/facts_wire.py) -------------------------------------

ISAPI = (
    "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n\r\n"
    '<?xml version="1.0" encoding="UTF-8"?><DeviceInfo><deviceName>IP CAMERA</deviceName>'
    "<model>DS-2CD2043G0-I</model><serialNumber>DS-2CD2043G0-I20240101CCWRE12345678</serialNumber>"
    "<firmwareVersion>V5.7.3</firmwareVersion><macAddress>bc:ad:28:11:22:33</macAddress></DeviceInfo>"
)
ANSWER = {"kind": "http", "port": 80, "path": "/ISAPI/System/deviceInfo", "raw": ISAPI}


def _with_facts(job: int, facts: Any, version: Any = None, upload_id: str = "f" * 32) -> bytes:
    host = {"ip": "10.9.0.5", "ports": [80], "observations": [ANSWER], "facts": facts}
    data = orjson.loads(_upload(job, host, upload_id))
    data["facts_version"] = facts_wire.facts_version() if version is None else version
    return orjson.dumps(data)


def _genuine() -> dict[str, Any]:
    one = F.Facts()
    F.PARSERS["http"](one, ANSWER)
    sent = facts_wire.encode(one, ISAPI)
    assert sent is not None
    return sent


@pytest.mark.parametrize(
    ("facts", "version", "why"),
    [
        ({"makers": []}, None, "one entry per observation"),  # not a list
        ([], None, "one entry per observation"),  # fewer entries than observations
        (["makers"], None, "an object"),
        ([{"vendors": [["http", "x"]]}], None, "unknown facts list"),
        ([{"makers": [["smtp", "Vendor", "Axis"]]}], None, "not an answer kind"),
        ([{"makers": [["http", "Vendor"]]}], None, "3-item lists"),
        ([{"makers": [[["http"], "Vendor", "Axis"]]}], None, "not an answer kind"),  # (unhashable)
        ([{"macs": [["http", "bc:ad:28:11:22:33"]]}], None, "12 upper-case hex"),
        ([{"models": [[99, "http", "model", "DS-2CD2043G0-I"]]}], None, "priority"),
        ([{"texts": [["http.body", "http", [10, 10_000]]]}], None, "inside the answer's raw text"),
        ([{"texts": [["HTTP BODY", "http", "x"]]}], None, "field"),
        ([{"serials": [["http", "S" * 5000]]}], None, "at most"),
        ([{"notes": [["http", "n"]] * (facts_wire.MAX_ITEMS + 1)}], None, "over"),
        ([None], ["not", "a", "string"], "facts_version"),
        # values no parser gives (F._value keeps one printable line): they would reach e-mail
        # alerts (a header split by CR LF), reports and exports
        ([{"models": [[1, "http", "model", "DS-2CD\r\nBcc: all@example.org"]]}], None, "one printable line"),
        ([{"makers": [["http", "Vendor", "Axis\u202e"]]}], None, "one printable line"),
        ([{"serials": [["http", "\x00DS1"]]}], None, "one printable line"),
        # slices of the raw answer cost the collector a few bytes each but the server their
        # length: 400 of them would make one 330-byte answer 130 kB (a 256 kB one 100 MB)
        ([{"texts": [["http.body", "http", [1, len(ISAPI) - 1]]] * 400}], None, "slices"),
    ],
)
def test_malformed_facts_are_refused_whole_and_audited(
    fresh: tuple[TestClient, Phaseout], facts: Any, version: Any, why: str
) -> None:
    client, app = fresh
    headers = _enrolled(client, app)
    job = _claimed_job(client, app, headers)
    r = client.post("/api/collector/uploads", content=_with_facts(job, facts, version), headers=headers)
    assert r.status_code == 422, r.text
    assert why in r.json()["detail"], r.json()["detail"]
    assert _refusals(app) == 1
    with app.engine.connect() as conn:
        assert conn.execute(select(devices.c.id)).all() == []


def test_well_formed_facts_are_used_and_other_versions_ignored(fresh: tuple[TestClient, Phaseout]) -> None:
    client, app = fresh
    headers = _enrolled(client, app)
    claim = client.post("/api/collector/claim", json={}, headers=headers).json()
    assert claim["facts_version"] == facts_wire.facts_version()  # offered to collectors
    job = _claimed_job(client, app, headers)
    r = client.post("/api/collector/uploads", content=_with_facts(job, [_genuine()]), headers=headers)
    assert r.status_code == 200 and r.json()["facts"] == "used", r.text
    db.enqueue_named(app.engine, "s9")
    job = int(client.post("/api/collector/claim", json={}, headers=headers).json()["job"]["id"])
    forged = [{"makers": [["http", "Vendor", "Axis Communications"]]}]
    body = _with_facts(job, forged, version="another-release", upload_id="g" * 32)  # read with other parsers: not used
    r = client.post("/api/collector/uploads", content=body, headers=headers)
    assert r.status_code == 200 and r.json()["facts"] == "ignored", r.text
    with app.engine.connect() as conn:
        assert conn.execute(select(devices.c.vendor)).scalars().all() == ["hikvision"]


def test_forged_facts_stay_in_their_own_upload(
    fresh: tuple[TestClient, Phaseout], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A collector may lie about its own answers (it could forge the answers as well), and a
    forgery the server's sample does not look at is used; but what it claims never becomes how
    the server reads the same answer for anyone else, and a re-identification reads the stored
    answers again."""
    monkeypatch.setattr(wire, "CHECK_FIRST", 0)
    monkeypatch.setattr(wire, "CHECK_ONE_IN", 0)  # (a forgery outside the sample)
    client, app = fresh
    headers = _enrolled(client, app)
    job = _claimed_job(client, app, headers)
    forged = [{"makers": [["http", "Vendor", "Axis Communications"]], "models": [[1, "http", "model", "M3024-L"]]}]
    r = client.post("/api/collector/uploads", content=_with_facts(job, forged), headers=headers)
    assert r.status_code == 200 and r.json()["facts"] == "used", r.text
    with app.engine.connect() as conn:
        assert conn.execute(select(devices.c.vendor)).scalars().all() == ["axis"]
    assert app.identifier.identify([ANSWER]).vendor == "hikvision"  # the process's own reading
    assert collector_api._identifier().identify([ANSWER]).vendor == "hikvision"
    app.reidentify(only_stale=False)
    with app.engine.connect() as conn:
        assert conn.execute(select(devices.c.vendor)).scalars().all() == ["hikvision"]


def _audited(app: Phaseout, action: str) -> list[Any]:
    with app.engine.connect() as conn:
        found = conn.execute(select(events.c.after).where(events.c.action == action)).scalars().all()
    return [orjson.loads(a) if isinstance(a, str) else a for a in found]


PLAIN_PAGE = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><title>Camera</title></html>"


@pytest.mark.parametrize(
    ("raw", "facts", "vendor"),
    [
        # the answer says Hikvision, the facts beside it say Axis
        (
            ISAPI,
            {"makers": [["http", "Vendor", "Axis Communications"]], "models": [[1, "http", "model", "M3024-L"]]},
            "hikvision",
        ),
        # the facts are a Hikvision answer's, beside an answer that names no maker at all
        (PLAIN_PAGE, "genuine", "unknown"),
    ],
)
def test_facts_that_disagree_with_their_answer_do_not_win(
    fresh: tuple[TestClient, Phaseout], raw: str, facts: Any, vendor: str
) -> None:
    """A buggy collector (or parsers that differ in spite of one facts_version) must not have
    its facts silently stand for answers that say otherwise: the server parses a sample of the
    answers itself, and one disagreement makes it ignore every fact of the upload, parse its
    answers, merge them (nothing is lost) and say so, to the collector and in the audit log."""
    client, app = fresh
    headers = _enrolled(client, app)
    job = _claimed_job(client, app, headers)
    if facts == "genuine":  # (its texts whole, not slices of the Hikvision answer)
        one = F.Facts()
        F.PARSERS["http"](one, ANSWER)
        facts = facts_wire.encode(one, None)
    sent = facts
    host = {"ip": "10.9.0.5", "ports": [80], "observations": [{**ANSWER, "raw": raw}], "facts": [sent]}
    data = orjson.loads(_upload(job, host))
    data["facts_version"] = facts_wire.facts_version()
    r = client.post("/api/collector/uploads", content=orjson.dumps(data), headers=headers)
    assert r.status_code == 200 and r.json()["facts"] == "disagreed", r.text
    with app.engine.connect() as conn:
        assert conn.execute(select(devices.c.vendor)).scalars().all() == [vendor]
    (why,) = _audited(app, "collector.facts-disagreed")
    assert "hosts[0]" in why["why"], why


def test_one_answer_sent_twice_with_two_readings_is_a_disagreement(
    fresh: tuple[TestClient, Phaseout], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Facts are kept by answer: two hosts with the same answer and different facts would
    otherwise have the later one silently stand for both (even where no sample looks)."""
    monkeypatch.setattr(wire, "CHECK_FIRST", 0, raising=False)
    monkeypatch.setattr(wire, "CHECK_ONE_IN", 0, raising=False)  # no sample: only the two readings conflict
    client, app = fresh
    headers = _enrolled(client, app)
    job = _claimed_job(client, app, headers)
    forged = {"makers": [["http", "Vendor", "Axis Communications"]]}
    hosts = [
        {"ip": "10.9.0.5", "ports": [80], "observations": [ANSWER], "facts": [_genuine()]},
        {"ip": "10.9.0.6", "ports": [80], "observations": [ANSWER], "facts": [forged]},
    ]
    body = {"upload_id": "d" * 32, "job_id": job, "hosts": hosts, "silent": []}
    body["facts_version"] = facts_wire.facts_version()
    r = client.post("/api/collector/uploads", content=orjson.dumps(body), headers=headers)
    assert r.status_code == 200 and r.json()["facts"] == "disagreed", r.text
    with app.engine.connect() as conn:
        assert conn.execute(select(devices.c.vendor)).scalars().all() == ["hikvision"]  # (one serial)
    assert len(_audited(app, "collector.facts-disagreed")) == 1


def test_empty_facts_do_not_multiply_an_upload_s_memory() -> None:
    """``{}`` (an answer that says nothing: many do) is 3 bytes of upload but was a fresh
    ``Facts`` of nine containers, ~700 bytes, kept through the merge: an upload of such answers
    held 3 times the memory of the same upload without facts."""
    hosts = []
    for h in range(40):
        # (RTSP answers that name nothing: their genuine facts are {}, so the check passes them)
        observations = [
            {"kind": "rtsp", "port": p + 1, "raw": f"RTSP/1.0 200 OK\r\nCSeq: {h}\r\n\r\n"} for p in range(64)
        ]
        hosts.append({"ip": f"10.9.0.{h + 1}", "ports": [1], "observations": observations, "facts": [{}] * 64})
    body = {
        "upload_id": "e" * 32,
        "job_id": 1,
        "hosts": hosts,
        "silent": [],
        "facts_version": facts_wire.facts_version(),
    }
    without = orjson.dumps({**body, "facts_version": None, "hosts": [{**h, "facts": None} for h in hosts]})
    kept = []
    for data in (without, orjson.dumps(body)):
        tracemalloc.start()
        try:
            upload = wire.parse_upload(data)
            kept.append(tracemalloc.get_traced_memory()[0])
            assert upload.facts in ("none", "used")
        finally:
            tracemalloc.stop()
        del upload
    assert kept[1] < 1.5 * kept[0], kept
