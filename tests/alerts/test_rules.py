"""The alert rules, destinations, messages and back-off as pure functions (table-driven)."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from phaseout.alert import rules as R
from phaseout.alert.destinations import (
    AllowList,
    DestinationError,
    check_destination,
    check_resolved,
    check_webhook_url,
    parse_syslog_target,
)
from phaseout.alert.messages import (
    UDP_MAX,
    body_bytes,
    build_payload,
    octet_counted,
    sign,
    syslog_message,
    verify_signature,
)
from phaseout.alert.retry import MAX_ATTEMPTS, next_attempt, retry_delay

TODAY = dt.date(2027, 1, 15)
T0 = dt.datetime(2027, 1, 10, 12, 0, tzinfo=dt.UTC)
HIK = R.Device(1, "0042", "10.1.2.3", "hikvision", "hilook", "IPC-T240H", "camera")
AXIS = R.Device(2, "0042", "10.1.2.4", "axis", "axis", "P3245", "camera")
DAHUA_PUBLIC = R.Device(3, "0007", "81.2.69.160", "dahua", "lorex", "LNB8005", "camera")
ALL = [{"rule": r} for r in R.RULES]


def _keys(facts: R.Facts, entries: list[dict[str, object]] | None = None) -> list[str]:
    return [o.key for o in R.evaluate(entries or ALL, facts)]


CASES = [
    # (what, facts, entries, expected keys)
    ("a new covered device under an OEM label", R.Facts(TODAY, appeared=[HIK]), None, ["new:1"]),
    ("another maker's new device is no news", R.Facts(TODAY, appeared=[AXIS]), None, []),
    (
        "the packs in use decide what is covered",
        R.Facts(TODAY, covered=("axis",), appeared=[HIK, AXIS]),
        None,
        ["new:2"],
    ),
    (
        "an alert's own makers win over the packs",
        R.Facts(TODAY, covered=("axis",), appeared=[HIK]),
        [{"rule": "covered-device-appears", "makers": ["hikvision"]}],
        ["new:1"],
    ),
    (
        "a replaced device answering after its verification came back",
        R.Facts(TODAY, answered=[R.Answered(HIK, T0, T0 + dt.timedelta(days=2), 9)]),
        None,
        [f"came-back:1:9:{T0.isoformat()}"],
    ),
    (
        "an answer from before the verification is not a return",
        R.Facts(TODAY, answered=[R.Answered(HIK, T0, T0 - dt.timedelta(hours=1), 9)]),
        None,
        [],
    ),
    ("never verified: not a return", R.Facts(TODAY, answered=[R.Answered(HIK, None, T0, None)]), None, []),
    (
        "reachable from the guest network",
        R.Facts(TODAY, reached=[R.Reached(AXIS, "guest", 5, 0, (80, 554))]),
        None,
        ["reachable:2:guest:0"],
    ),
    (
        "the core network is watched only when asked",
        R.Facts(TODAY, reached=[R.Reached(AXIS, "core", 5)]),
        None,
        [],
    ),
    (
        "core when asked",
        R.Facts(TODAY, reached=[R.Reached(AXIS, "core", 5)]),
        [{"rule": "device-exposed", "zones": ["core"]}],
        ["reachable:2:core:0"],
    ),
    (
        "exposed again after a scan found it closed is a new occurrence",
        R.Facts(TODAY, reached=[R.Reached(AXIS, "internet", 8, 6)]),
        None,
        ["reachable:2:internet:6"],
    ),
    (
        "a public address counts as internet exposure",
        R.Facts(TODAY, touched=[DAHUA_PUBLIC, HIK]),
        None,
        ["public-address:3:81.2.69.160"],
    ),
    (
        "public addresses are not watched when the internet zone is not",
        R.Facts(TODAY, touched=[DAHUA_PUBLIC]),
        [{"rule": "device-exposed", "zones": ["guest"]}],
        [],
    ),
    (
        "a passed deadline with devices left",
        R.Facts(TODAY, deadlines=[R.DeadlineLeft(dt.date(2027, 1, 1), 12, 3), R.DeadlineLeft(TODAY, 4, 1)]),
        None,
        ["deadline:2027-01-01"],  # today's deadline has not passed yet
    ),
    (
        "a passed deadline with nothing left is no news",
        R.Facts(TODAY, deadlines=[R.DeadlineLeft(dt.date(2026, 6, 30), 0, 0)]),
        None,
        [],
    ),
    (
        "an alert gets only its own rules",
        R.Facts(TODAY, appeared=[HIK], touched=[DAHUA_PUBLIC]),
        [{"rule": "device-exposed"}],
        ["public-address:3:81.2.69.160"],
    ),
]


@pytest.mark.parametrize(("what", "facts", "entries", "expected"), CASES, ids=[c[0] for c in CASES])
def test_rules(what: str, facts: R.Facts, entries: list[dict[str, object]] | None, expected: list[str]) -> None:
    assert _keys(facts, entries) == expected, what


def test_a_repeated_occurrence_has_one_key_and_a_real_second_one_another() -> None:
    again = R.Facts(TODAY, appeared=[HIK, HIK])
    assert _keys(again) == ["new:1"]
    in_batch = R.evaluate(ALL, R.Facts(TODAY, batch=12, appeared=[HIK, DAHUA_PUBLIC]))
    assert {o.stored_key for o in in_batch if o.event == "new"} == {"new-in-batch:12"}  # one row for the store
    later = T0 + dt.timedelta(days=30)
    twice = R.Facts(
        TODAY,
        answered=[
            R.Answered(HIK, T0, T0 + dt.timedelta(days=1), 9),
            R.Answered(HIK, later, later + dt.timedelta(days=1), 11),
        ],
    )
    assert len(set(_keys(twice))) == 2


@pytest.mark.parametrize(
    ("rule", "params", "error"),
    [
        ("no-such-rule", {}, "no alert rule"),
        ("device-exposed", {"zones": ["moon"]}, "unknown"),
        ("device-exposed", {"colour": ["red"]}, "no parameter"),
    ],
)
def test_rule_entries_are_checked(rule: str, params: dict[str, list[str]], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        R.check_rule(rule, params)


def test_rule_entries_are_normalised() -> None:
    assert R.check_rule("device-exposed", {"zones": ["Internet", "internet", " guest "]}) == {
        "rule": "device-exposed",
        "zones": ["internet", "guest"],
    }


# -- destinations ---------------------------------------------------------------------------------

ALLOW = AllowList.parse("hooks.example.org, 10.20.0.0/16, 127.0.0.1/32")


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://hooks.example.org/phaseout", True),
        ("https://HOOKS.example.org:8443/x?y=1", True),
        ("http://10.20.3.4/hook", True),
        ("http://127.0.0.1:8080/hook", True),
        ("https://evil.example.com/x", False),  # not listed
        ("https://hooks.example.org.evil.com/x", False),  # a suffix trick
        ("http://10.21.0.1/hook", False),  # outside the block
        ("http://169.254.169.254/latest/meta-data", False),  # the cloud metadata service
        ("ftp://hooks.example.org/x", False),
        ("https://user:pw@hooks.example.org/x", False),
        ("file:///etc/passwd", False),
        ("https://[::1]/x", False),
    ],
)
def test_webhook_urls_outside_the_allow_list_are_refused(url: str, ok: bool) -> None:
    if ok:
        check_webhook_url(url, ALLOW)
    else:
        with pytest.raises(DestinationError):
            check_webhook_url(url, ALLOW)


def test_nothing_is_allowed_until_the_admin_says_so() -> None:
    with pytest.raises(DestinationError, match="allowed: nothing"):
        check_webhook_url("https://hooks.example.org/x", AllowList.parse(""))


def test_a_name_allowed_through_a_block_must_resolve_inside_it() -> None:
    inside = check_webhook_url("https://intranet.local/x", ALLOW, lambda h, p: ["10.20.9.9"])
    assert inside == ("https", "intranet.local", 443)
    with pytest.raises(DestinationError, match="outside"):
        check_webhook_url("https://intranet.local/x", ALLOW, lambda h, p: ["10.20.9.9", "203.0.113.5"])
    # at delivery: a listed name may resolve anywhere; anything else only inside a block
    assert check_resolved("hooks.example.org", ["203.0.113.9"], ALLOW) == ["203.0.113.9"]
    with pytest.raises(DestinationError):
        check_resolved("rebound.example.net", ["169.254.169.254"], ALLOW)


def test_plain_smtp_only_to_the_local_host_and_only_when_allowed() -> None:
    config = {"to": ["sec@example.org"], "sender": "phaseout@example.org", "host": "127.0.0.1", "plain": True}
    with pytest.raises(DestinationError, match="STARTTLS"):
        check_destination("email", config, allow=ALLOW, plain_localhost=False)
    assert check_destination("email", config, allow=ALLOW, plain_localhost=True)["plain"] is True
    with pytest.raises(DestinationError, match="STARTTLS"):
        check_destination("email", config | {"host": "mail.example.org"}, allow=ALLOW, plain_localhost=True)
    with pytest.raises(DestinationError, match="not an e-mail"):
        check_destination("email", config | {"to": ["nobody"]}, allow=ALLOW, plain_localhost=True)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("udp://10.0.0.5", {"transport": "udp", "host": "10.0.0.5", "port": 514}),
        ("tcp://siem.example.org:6514", {"transport": "tcp", "host": "siem.example.org", "port": 6514}),
        ("10.0.0.5:5514", {"transport": "udp", "host": "10.0.0.5", "port": 5514}),
    ],
)
def test_syslog_targets(target: str, expected: dict[str, object]) -> None:
    assert parse_syslog_target(target) == expected


# -- messages -------------------------------------------------------------------------------------

RFC5424 = re.compile(
    rb"^<(?P<pri>\d{1,3})>1 (?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{1,6}Z) (?P<host>[\x21-\x7e]{1,255}) "
    rb"(?P<app>[\x21-\x7e]{1,48}) (?P<proc>[\x21-\x7e]{1,128}) (?P<msgid>[\x21-\x7e]{1,32}) "
    rb"(?P<sd>(\[[^\]]+\])+) \xef\xbb\xbf(?P<msg>.*)$",
    re.DOTALL,
)


def _payload(n: int) -> dict[str, object]:
    occ = [
        R.Occurrence("covered-device-appears", f"new:{i}", "warning", "came-back", f"device {i} appeared", HIK)
        for i in range(n)
    ]
    return build_payload("soc", "covered-device-appears", occ, source="import x.csv", fired_at=T0, version="0.1.0")


def test_a_message_lists_what_fired_once_and_counts_all() -> None:
    one, many = _payload(1), _payload(450)
    assert one["summary"] == "device 0 appeared" and one["count"] == 1
    assert many["count"] == 450 and len(many["occurrences"]) == 200 and many["truncated"] is True  # type: ignore[arg-type]


def test_the_signature_verifies_and_a_replay_or_change_does_not() -> None:
    body = body_bytes(_payload(1))
    signature = sign("s3cret-s3cret-s3cret", 1_800_000_000, body)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert verify_signature("s3cret-s3cret-s3cret", "1800000000", body, signature, now=1_800_000_010)
    assert not verify_signature("s3cret-s3cret-s3cret", "1800000000", body, signature, now=1_800_000_000 + 3600)
    assert not verify_signature("s3cret-s3cret-s3cret", "1800000000", body + b" ", signature, now=1_800_000_010)
    assert not verify_signature("another-secret-xx", "1800000000", body, signature, now=1_800_000_010)
    assert not verify_signature("s3cret-s3cret-s3cret", "1800000001", body, signature, now=1_800_000_010)


@pytest.mark.parametrize("n", [1, 40, 450])
def test_syslog_messages_are_rfc5424_and_fit_udp(n: int) -> None:
    msg = syslog_message(
        _payload(n), facility="local0", hostname="phaseout host", procid=42, sequence=7, version="0.1.0",
        at=T0, limit=UDP_MAX,
    )  # fmt: skip
    found = RFC5424.match(msg)
    assert found, msg[:200]
    assert int(found["pri"]) == 16 * 8 + 4  # local0, warning
    assert found["host"] == b"phaseout_host" and found["msgid"] == b"covered-device-appears"
    assert found["sd"] == b'[origin software="phaseout" swVersion="0.1.0"][meta sequenceId="7"]'
    assert len(msg) <= UDP_MAX
    body = json.loads(found["msg"])
    assert body["count"] == n and (n == 1 or body["truncated"] is True or len(body["occurrences"]) == n)


def test_octet_counting_frames() -> None:
    assert octet_counted(b"<13>1 - - - - - - hi") == b"20 <13>1 - - - - - - hi"


def test_back_off_doubles_up_to_an_hour_then_gives_up() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [30.0, 60.0, 120.0, 240.0]
    assert retry_delay(30) == 3600.0
    assert next_attempt(T0, 1) == T0 + dt.timedelta(seconds=30)
    assert next_attempt(T0, MAX_ATTEMPTS) is None
