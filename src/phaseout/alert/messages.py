"""What each destination receives (pure): the JSON payload of one alert, its signature, the
RFC 5424 syslog line and the e-mail.

One *alert message* is one rule firing for one alert in one evaluation: it lists the
occurrences found (at most :data:`MAX_LISTED` of them, with the full ``count``), so an import
that brings 3,000 covered cameras is one message, not 3,000.

Webhook signature (for receivers; example in ``docs/alerts.md``)::

    X-Phaseout-Timestamp: <unix seconds>
    X-Phaseout-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>

The timestamp is inside the signed text, so a captured request cannot be replayed later with
a fresh timestamp; receivers refuse timestamps more than :data:`REPLAY_WINDOW` seconds old and
may drop a ``X-Phaseout-Delivery`` id they have already seen.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any

from phaseout.alert.destinations import FACILITIES
from phaseout.alert.rules import RULES, Occurrence

MAX_LISTED = 200
REPLAY_WINDOW = 300
SIGNATURE_HEADER = "X-Phaseout-Signature"
TIMESTAMP_HEADER = "X-Phaseout-Timestamp"
DELIVERY_HEADER = "X-Phaseout-Delivery"
EVENT_HEADER = "X-Phaseout-Event"
SEVERITIES = {"emergency": 0, "alert": 1, "critical": 2, "error": 3, "warning": 4, "notice": 5, "info": 6}
_SEVERITY_ORDER = ("critical", "error", "warning", "notice", "info")
#: RFC 5426: receivers must take 480 octets over IPv4 and should take 2048; the message is cut to fit.
UDP_MAX = 2048
TCP_MAX = 64 * 1024


def build_payload(
    alert: str, rule: str, occurrences: Sequence[Occurrence], *, source: str, fired_at: dt.datetime, version: str
) -> dict[str, Any]:
    """The alert as JSON (webhook body, file line, syslog MSG, e-mail attachment)."""
    severity = next((s for s in _SEVERITY_ORDER if any(o.severity == s for o in occurrences)), "notice")
    count = len(occurrences)
    title = RULES[rule].title if rule in RULES else rule
    summary = occurrences[0].summary if count == 1 else f"{title}: {count:,} occurrences ({source})"
    return {
        "phaseout": version,
        "alert": alert,
        "rule": rule,
        "title": title,
        "severity": severity,
        "summary": summary,
        "source": source,
        "fired_at": fired_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "count": count,
        "occurrences": [o.as_dict() for o in occurrences[:MAX_LISTED]],
        "truncated": count > MAX_LISTED,
    }


def trial_payload(alert: str, *, fired_at: dt.datetime, version: str) -> dict[str, Any]:
    """What ``phaseout alert test`` sends: shaped like a real alert, marked as a test."""
    return {
        "phaseout": version,
        "alert": alert,
        "rule": "test",
        "title": "Test alert",
        "severity": "notice",
        "summary": f"test alert from phaseout for {alert}: if you read this, delivery works",
        "source": "phaseout alert test",
        "fired_at": fired_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "count": 0,
        "occurrences": [],
        "truncated": False,
    }


def body_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode("utf-8"), str(timestamp).encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: str, timestamp: str, body: bytes, signature: str, now: float) -> bool:
    """What a receiver does (and the tests): fresh timestamp, equal signature in constant time."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(now - ts) > REPLAY_WINDOW:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature)


_PRINTUSASCII = re.compile(r"[^\x21-\x7e]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def _field(value: str, limit: int) -> str:
    """An RFC 5424 header field: printable US-ASCII, no spaces, at most ``limit`` octets; '-' if empty."""
    cleaned = _PRINTUSASCII.sub("_", value)[:limit]
    return cleaned or "-"


def _sd_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def syslog_message(
    payload: dict[str, Any],
    *,
    facility: str,
    hostname: str,
    procid: int,
    sequence: int,
    version: str,
    at: dt.datetime,
    limit: int,
) -> bytes:
    """One RFC 5424 message: ``<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] BOM MSG``.

    Structured data uses only IANA-registered SD-IDs (``origin``, ``meta``); the alert itself is
    the MSG as JSON (UTF-8, after the BOM), with occurrences dropped from the end until the
    whole message fits ``limit`` octets, so a receiver always gets valid JSON."""
    pri = FACILITIES[facility] * 8 + SEVERITIES.get(str(payload.get("severity")), 5)
    stamp = at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    header = (
        f"<{pri}>1 {stamp} {_field(hostname, 255)} phaseout {_field(str(procid), 128)} "
        f"{_field(str(payload.get('rule', '-')), 32)} "
        f'[origin software="phaseout" swVersion="{_sd_value(version)}"]'
        f'[meta sequenceId="{max(1, sequence % 2147483647)}"] '
    ).encode("ascii")
    body = dict(payload)
    items = list(body.get("occurrences") or [])
    while True:
        msg = header + b"\xef\xbb\xbf" + body_bytes(body)
        if len(msg) <= limit or not items:
            break
        items = items[: len(items) // 2] if len(items) > 1 else []
        body["occurrences"], body["truncated"] = items, True
    if len(msg) > limit:  # the summary alone is too long: cut it (still valid JSON)
        body["summary"] = str(body.get("summary", ""))[: max(0, limit - len(header) - 400)]
        msg = header + b"\xef\xbb\xbf" + body_bytes(body)
    return msg


def octet_counted(message: bytes) -> bytes:
    """RFC 6587 octet-counting framing: ``MSG-LEN SP SYSLOG-MSG``."""
    return str(len(message)).encode("ascii") + b" " + message


def email_message(payload: dict[str, Any], *, sender: str, to: Sequence[str]) -> EmailMessage:
    """A plain-text e-mail with the alert as a JSON attachment."""
    msg = EmailMessage()
    # the summary names devices, whose names and models come from spreadsheets and the devices
    # themselves: a CR/LF in one must not add headers (nor make the e-mail impossible to build)
    subject = " ".join(_CONTROL.sub(" ", str(payload.get("summary", ""))).split())[:180]
    msg["Subject"] = f"[phaseout] {subject}"
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    lines = [str(payload.get("summary", "")), "", f"alert: {payload.get('alert')}", f"rule: {payload.get('title')}"]
    lines.append(f"fired at: {payload.get('fired_at')}  (source: {payload.get('source')})")
    occurrences = payload.get("occurrences") or []
    if len(occurrences) > 1 or (occurrences and occurrences[0].get("summary") != payload.get("summary")):
        lines += ["", f"{payload.get('count')} occurrence(s):"]
        lines += [f"  - {o.get('summary')}" for o in occurrences[:50]]
        if payload.get("count", 0) > 50:
            lines.append(f"  ... and {int(payload['count']) - 50:,} more (see the attachment)")
    msg.set_content("\n".join(lines) + "\n")
    msg.add_attachment(body_bytes(payload), maintype="application", subtype="json", filename="alert.json")
    return msg
