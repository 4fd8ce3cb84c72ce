"""The pure rules of collectors and saved scans: schedules, scope checks, the upload's format."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from phaseout.discover.collector import wire
from phaseout.discover.collector.schedule import is_due, parse_schedule, previous_fire
from phaseout.discover.scanner import HostResult
from phaseout.errors import UsageError

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- schedules ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "now", "fire"),
    [
        ("0 2 * * *", "2026-12-01T17:10", "2026-12-01T02:00"),
        ("0 2 * * *", "2026-12-01T01:59", "2026-11-30T02:00"),
        ("*/15 * * * *", "2026-12-01T17:14", "2026-12-01T17:00"),
        ("30 9 * * 1-5", "2026-12-06T12:00", "2026-12-04T09:30"),  # Sunday -> Friday
        ("0 0 1 * *", "2026-12-15T00:00", "2026-12-01T00:00"),
        ("@weekly", "2026-12-02T00:00", "2026-11-29T00:00"),  # Sunday midnight
        ("0 0 29 2 *", "2027-03-01T00:00", "2024-02-29T00:00"),
        ("0 12 1 * 0", "2026-12-08T13:00", "2026-12-06T12:00"),  # day 1 OR Sunday (cron's rule)
        ("0 0 * * 7", "2026-12-02T00:00", "2026-11-29T00:00"),  # 7 is Sunday too
    ],
)
def test_previous_fire(text: str, now: str, fire: str) -> None:
    assert previous_fire(parse_schedule(text), at(now)) == at(fire)


def test_cron_due_once_per_fire_time() -> None:
    daily = parse_schedule("0 2 * * *")
    created = at("2026-11-30T12:00")
    assert is_due(daily, at("2026-12-01T02:00"), None, created)  # first fire after it was made
    assert not is_due(daily, at("2026-11-30T23:00"), None, created)  # none since it was made
    assert not is_due(daily, at("2026-12-01T09:00"), at("2026-12-01T02:01"), created)  # ran already
    assert is_due(daily, at("2026-12-02T02:00"), at("2026-12-01T02:01"), created)
    # a week down: caught up once, not seven times
    assert is_due(daily, at("2026-12-09T03:00"), at("2026-12-01T02:01"), created)
    assert not is_due(daily, at("2026-12-09T03:05"), at("2026-12-09T03:00"), created)


def test_interval_due() -> None:
    six = parse_schedule("every 6h")
    made = at("2026-12-01T00:00")
    assert is_due(six, at("2026-12-01T00:00"), None, made)  # never ran: now
    assert not is_due(six, at("2026-12-01T05:59"), at("2026-12-01T00:00"), made)
    assert is_due(six, at("2026-12-01T06:00"), at("2026-12-01T00:00"), made)
    naive_last = dt.datetime(2026, 12, 1, 0, 0)  # SQLite gives UTC back naive
    assert is_due(six, at("2026-12-01T06:00"), naive_last, made)


@pytest.mark.parametrize(
    "text",
    ["", "every 10s", "every 0m", "61 * * * *", "* * *", "0 25 * * *", "a * * * *", "0 0 0 * *", "*/0 * * * *"],
)
def test_bad_schedules_are_refused(text: str) -> None:
    with pytest.raises(UsageError, match="schedule"):
        parse_schedule(text)


# --- scopes ------------------------------------------------------------------------------------------


def test_scope_checks() -> None:
    scopes = wire.networks(["10.1.0.0/24", "127.31.0.0/16"])
    assert wire.outside(["10.1.0.5", "127.31.4.4"], scopes) == []
    assert wire.outside(["10.1.1.5", "fe80::1", "nonsense"], scopes) == ["10.1.1.5", "fe80::1", "nonsense"]
    assert wire.targets_outside(["10.1.0.0/25", "10.1.0.7", "127.31.0.1-200"], scopes) == []
    # a target reaching past its scope, a range across scopes, a wider network: all outside
    assert wire.targets_outside(["10.1.0.250-10.1.1.3", "10.1.0.0/23", "10.2.0.1"], scopes) == [
        "10.1.0.250-10.1.1.3",
        "10.1.0.0/23",
        "10.2.0.1",
    ]
    assert wire.within_targets(["10.1.0.5", "10.1.0.200"], ["10.1.0.0/25"]) == ["10.1.0.200"]


# --- uploads -----------------------------------------------------------------------------------------


def _upload(**changes: object) -> bytes:
    host = HostResult("10.1.0.5", ports=[80], observations=[{"kind": "http", "port": 80, "raw": "HTTP/1.1 200 OK"}])
    body = orjson.loads(wire.encode_upload("a" * 32, 7, [host], ["10.1.0.6"], False))
    body.update(changes)
    return orjson.dumps(body)


def test_an_upload_round_trips_to_the_scanners_results() -> None:
    from phaseout.discover.channels import Channel

    host = HostResult("10.1.0.9", ports=[80, 554], observations=[{"kind": "rtsp", "port": 554, "raw": "RTSP/1.0"}])
    host.complete = False
    host.errors = ["host deadline"]
    host.channels = [Channel(3, address="10.9.9.9", model="DS-2CD2043", online=True)]
    host.channel_kinds = {"ip"}
    parsed = wire.parse_upload(wire.encode_upload("b" * 32, 3, [host], ["10.1.0.10"], True))
    assert (parsed.upload_id, parsed.job_id, parsed.interrupted, parsed.silent) == ("b" * 32, 3, True, ["10.1.0.10"])
    back = parsed.hosts[0]
    assert (back.ip, back.ports, back.observations, back.errors, back.complete) == (
        host.ip,
        host.ports,
        host.observations,
        host.errors,
        False,
    )
    assert back.channels == host.channels and back.channel_kinds == {"ip"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (_upload(upload_id="../../etc"), "upload_id"),
        (_upload(job_id="7"), "job_id"),
        (_upload(job_id=True), "job_id"),
        (_upload(hosts=[{"ip": "10.1.0.5", "ports": [0]}]), "ports"),
        (_upload(hosts=[{"ip": "10.1.0.5", "ports": [True]}]), "ports"),
        (_upload(hosts=[{"ip": "not-an-ip"}]), "not an address"),
        (_upload(hosts=[{"ip": "10.1.0.5", "observations": [{"port": 80}]}]), "kind"),
        (_upload(hosts=[{"ip": "10.1.0.5", "observations": [{"kind": "http", "raw": "x" * 3_000_000}]}]), "over"),
        (_upload(hosts=[{"ip": "10.1.0.5", "channels": [{"number": -1}]}]), "channel"),
        (_upload(hosts=[{"ip": "10.1.0.5", "channel_kinds": ["all"]}]), "channel_kinds"),
        (_upload(silent=["10.1.0.5"]), "twice"),
        (_upload(silent=[f"10.1.0.{i % 250}" for i in range(70_000)]), "over 65,536"),
    ],
)
def test_malformed_uploads_are_refused_with_a_reason(body: bytes, message: str) -> None:
    with pytest.raises(wire.UploadError, match=message):
        wire.parse_upload(body)


def test_an_upload_outside_the_scopes_or_targets_is_refused_whole() -> None:
    upload = wire.parse_upload(_upload(silent=["10.1.0.6", "10.2.0.1"]))
    with pytest.raises(wire.UploadError, match=r"outside this collector.s scopes, e\.g\. 10\.2\.0\.1"):
        wire.check_scopes(upload, wire.networks(["10.1.0.0/24"]), ["10.1.0.0/24"])
    upload = wire.parse_upload(_upload())
    with pytest.raises(wire.UploadError, match="not among the job's targets"):
        wire.check_scopes(upload, wire.networks(["10.1.0.0/24"]), ["10.1.0.5"])
    wire.check_scopes(upload, wire.networks(["10.1.0.0/24"]), ["10.1.0.0/29"])  # inside both: accepted
