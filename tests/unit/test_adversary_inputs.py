"""Hostile values at the pure edges: device-supplied text reaching e-mail headers, schedules a
person mistyped with characters that look like digits, and recorder fields with line breaks."""

from __future__ import annotations

import datetime as dt
from email import message_from_string, policy

import orjson
import pytest

from phaseout.alert.messages import build_payload, email_message
from phaseout.alert.rules import Device, Occurrence
from phaseout.discover.channels import _clean
from phaseout.discover.collector.schedule import parse_schedule
from phaseout.discover.collector.wire import UploadError, parse_upload
from phaseout.errors import UsageError


def _payload(model: str) -> dict:  # type: ignore[type-arg]
    device = Device(7, site="S1", ip="10.0.0.7", vendor="hikvision", model=model)
    occ = Occurrence("new-covered", "k", "warning", "new", "import 3", device=device)
    at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    return build_payload("a", "new-covered", [occ], source="import 3", fired_at=at, version="1")


@pytest.mark.parametrize("model", ["DS-2CD\r\nBcc: victim@example.org", "DS\nX-Evil: 1", "DS\x00\x1b[31m"])
def test_a_hostile_model_cannot_add_email_headers(model: str) -> None:
    msg = email_message(_payload(model), sender="p@example.org", to=["ops@example.org"])
    parsed = message_from_string(msg.as_string(), policy=policy.default)
    assert {k.lower() for k, _v in parsed.items()} <= {"subject", "from", "to", "mime-version", "content-type"}
    assert "\r" not in str(msg["Subject"]) and "\n" not in str(msg["Subject"])
    assert "DS" in str(msg["Subject"])


@pytest.mark.parametrize("text", ["² * * * *", "0 ٣ * * *", "every ٣h", "0 0 1 ¹ *", "*/² * * * *"])
def test_digits_that_are_not_ascii_are_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        parse_schedule(text)


@pytest.mark.parametrize("text", ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 31 2 *"])
def test_a_cron_date_that_never_comes_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match="never"):
        parse_schedule(text)


def test_possible_rare_dates_are_kept() -> None:
    parse_schedule("0 0 29 2 *")  # leap years
    parse_schedule("0 0 31 2 1")  # the weekday field makes it fire (either day field matches)
    parse_schedule("0 0 31 1-3 *")


def test_recorder_fields_lose_line_breaks() -> None:
    assert _clean("Front\r\ndoor\tcam ") == "Front door cam"
    assert _clean("\x00\x1b") is None


@pytest.mark.parametrize("address", ["fe80::1%eth0", "fe80::1%1"])
def test_an_upload_address_with_a_zone_is_refused(address: str) -> None:
    """``fe80::1%eth0`` and ``fe80::1%eth1`` are one address written two ways: each would become
    a device of its own (the scanner itself never writes a zone)."""
    body = orjson.dumps({"upload_id": "u" * 32, "job_id": 1, "silent": [address, "fe80::1"]})
    with pytest.raises(UploadError, match="zone"):
        parse_upload(body)
