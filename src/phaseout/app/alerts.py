"""Alerts as use cases: add one (its destination checked against the admin's settings),
evaluate the rules after every import and scan, deliver the outbox, send a test.

Evaluation reads what the store saw since the last evaluation (every finished device import
and scan batch not yet looked at, plus the deadlines), applies the pure rules
(:mod:`phaseout.alert.rules`) and writes, in **one** transaction, the occurrences, one outbox
row per message and the batches it looked at.  A process killed before that commits leaves
the batches unevaluated, so the next evaluation (the next import or scan, or
``phaseout alert deliver``) picks them up; killed after, the outbox holds the messages.
Delivery (:func:`deliver`) never runs inside an import: a slow receiver cannot hold the
database, and ``phaseout alert deliver`` on a timer sends them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from phaseout import __version__
from phaseout.alert import rules as R
from phaseout.alert.destinations import AllowList, DestinationError, check_destination
from phaseout.alert.messages import build_payload, trial_payload
from phaseout.alert.retry import next_attempt
from phaseout.alert.send import TIMEOUT, DeliveryError, resolve, send
from phaseout.errors import UsageError
from phaseout.store import alerts as stored
from phaseout.store.settings import get_setting
from phaseout.store.store import Store

log = logging.getLogger(__name__)

ALLOW_SETTING = "alert-webhook-allow"
PLAIN_SETTING = "alert-smtp-plain-localhost"
NAME_MAX = 64


@dataclass(slots=True)
class Evaluation:
    batches: int = 0
    occurrences: int = 0
    messages: int = 0
    by_alert: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class Delivery:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)


def _allow(conn: Any) -> AllowList:
    """The admin's allow list; one this version cannot read (set by hand or by an older version)
    is a usage error that says how to fix it, not a traceback in the deliverer."""
    try:
        return AllowList.parse(get_setting(conn, ALLOW_SETTING))
    except DestinationError as exc:
        raise UsageError(
            f"setting {ALLOW_SETTING}: {exc}", hint=f"phaseout settings set {ALLOW_SETTING} 'HOST, CIDR, ...'"
        ) from None


def add_alert(
    store: Store,
    actor: str,
    name: str,
    kind: str,
    config: dict[str, Any],
    rules: list[dict[str, Any]],
    secret: str | None = None,
) -> tuple[int, str | None]:
    """Check and store an alert; returns its id and, for a webhook whose secret phaseout made,
    the secret (shown once)."""
    name = name.strip()
    if not name or len(name) > NAME_MAX or not all(c.isalnum() or c in "-_." for c in name):
        raise UsageError(f"alert name {name[:80]!r}: 1-{NAME_MAX} letters, digits, '-', '_' or '.'")
    try:
        entries = [R.check_rule(str(e["rule"]), {k: v for k, v in e.items() if k != "rule"}) for e in rules]
    except ValueError as exc:
        raise UsageError(str(exc), hint="phaseout alert rules lists them with their parameters") from None
    if not entries:
        raise UsageError("an alert needs at least one rule", hint="phaseout alert rules")
    with store.engine.connect() as conn:
        allow = _allow(conn)
        plain = (get_setting(conn, PLAIN_SETTING) or "").lower() == "yes"
    try:
        checked = check_destination(kind, config, allow=allow, plain_localhost=plain, resolve=resolve)
    except DestinationError as exc:
        raise UsageError(str(exc), hint=exc.hint or None) from None
    shown = None
    if kind == "webhook" and not secret:
        secret = shown = secrets.token_urlsafe(32)
    if kind == "webhook" and len(secret or "") < 16:
        raise UsageError("a webhook secret must be at least 16 characters", hint="leave it out: phaseout makes one")
    alert_id = stored.add_alert(store.engine, name, kind, checked, secret or "", entries, actor)
    return alert_id, shown


def _device(row: dict[str, Any]) -> R.Device:
    return R.Device(int(row["id"]), *(row.get(f) for f in stored.DEVICE_FIELDS[1:]))


def _wants(alerts: list[dict[str, Any]], rule: str) -> list[dict[str, Any]]:
    return [e for a in alerts for e in a["rules"] if e.get("rule") == rule]


def _facts(
    conn: Any, batch: dict[str, Any], live: list[dict[str, Any]], covered: tuple[str, ...], today: dt.date
) -> R.Facts:
    """What the rules need from one batch, read only for the rules some alert uses."""
    source = f"import {batch['file_name']}" if batch["kind"] == "devices" else f"scan {batch['scan_id']}"
    facts = R.Facts(today=today, source=source, covered=covered, batch=int(batch["id"]))
    appears = _wants(live, "covered-device-appears")
    if appears:
        makers: set[str] = set()
        for e in appears:
            makers.update(e.get("makers") or covered or R.DEFAULT_MAKERS)
        facts.appeared = [R.Device(*r) for r in stored.created_devices(conn, batch["id"], sorted(makers))]
        facts.answered = [
            R.Answered(_device(r), r["replaced_at"], r["answered_at"], r["work_order"])
            for r in stored.answered_replaced(conn, batch["id"])
        ]
    exposed = _wants(live, "device-exposed")
    if exposed:
        zones = {z for e in exposed for z in (e.get("zones") or R.DEFAULT_ZONES)}
        if "internet" in zones:
            facts.touched = [_device(r) for r in stored.touched_public_candidates(conn, batch["id"])]
        if batch.get("scan_id") is not None:
            vantage, rows = stored.reached_in_scan(conn, int(batch["scan_id"]), zones)
            facts.reached = [
                R.Reached(_device(r), str(vantage), int(batch["scan_id"]), r["rearmed_by"], r["ports"]) for r in rows
            ]
    return facts


def _queue(
    conn: Any, alert: dict[str, Any], occurrences: list[R.Occurrence], source: str, now: dt.datetime, out: Evaluation
) -> None:
    """The occurrences this alert has not fired yet, as one message per rule."""
    if not occurrences:
        return
    known = stored.known_keys(conn, alert["id"], sorted({o.stored_key for o in occurrences}))
    fresh: dict[str, list[R.Occurrence]] = defaultdict(list)
    for o in occurrences:
        if o.stored_key not in known:
            fresh[o.rule].append(o)
    for rule, found in fresh.items():
        payload = build_payload(alert["name"], rule, found, source=source, fired_at=now, version=__version__)
        fired = list(dict.fromkeys((o.stored_key, None if o.group or not o.device else o.device.id) for o in found))
        stored.queue(conn, alert["id"], rule, json.dumps(payload, sort_keys=True), fired, now)
        out.messages += 1
        out.occurrences += len(found)
        out.by_alert[alert["name"]] = out.by_alert.get(alert["name"], 0) + len(found)


def evaluate(store: Store, today: dt.date | None = None, now: dt.datetime | None = None) -> Evaluation:
    """Evaluate every enabled alert's rules over the batches not yet evaluated and the deadlines,
    and queue what fires (see the module docstring)."""
    today = today or dt.date.today()
    now = now or dt.datetime.now(dt.UTC)
    out = Evaluation()
    with store.engine.connect() as conn:  # no alert: no write transaction, no lock taken
        if not stored.enabled_alerts(conn):
            return out
    with store.engine.connect() as conn, conn.execution_options(sqlite_begin="IMMEDIATE").begin():
        stored.lock_evaluation(conn)
        live = stored.enabled_alerts(conn)
        if not live:
            return out
        covered = tuple(stored.covered_makers(conn))
        batches = stored.batches_to_evaluate(conn, min(a["since_batch"] for a in live))
        for batch in batches:
            interested = [a for a in live if batch["id"] > a["since_batch"]]
            facts = _facts(conn, batch, interested, covered, today)
            for alert in interested:
                _queue(conn, alert, R.evaluate(alert["rules"], facts), facts.source, now, out)
        watching = [a for a in live if any(e.get("rule") == "deadline-passed" for e in a["rules"])]
        if watching:
            _deadlines(conn, watching, covered, today, now, out)
        stored.mark_evaluated(conn, [b["id"] for b in batches], now)
        out.batches = len(batches)
    return out


def _deadlines(
    conn: Any,
    watching: list[dict[str, Any]],
    covered: tuple[str, ...],
    today: dt.date,
    now: dt.datetime,
    out: Evaluation,
) -> None:
    """The deadline rule: only deadlines some alert has not fired for are counted (each count
    reads the devices carrying it; the passed dates come from an index)."""
    passed = stored.passed_deadlines(conn, today)
    if not passed:
        return
    keys = [f"deadline:{d.isoformat()}" for d in passed]
    unfired = {a["id"]: set(keys) - stored.known_keys(conn, a["id"], keys) for a in watching}
    wanted = sorted({k for v in unfired.values() for k in v})
    if not wanted:
        return
    left = [stored.deadline_left(conn, dt.date.fromisoformat(k.split(":", 1)[1])) for k in wanted]
    facts = R.Facts(
        today=today,
        source="deadlines",
        covered=covered,
        deadlines=[
            R.DeadlineLeft(d["deadline"], d["devices"], d["sites"], tuple(R.Device(*x) for x in d["examples"]))
            for d in left
        ],
    )
    for alert in watching:
        _queue(conn, alert, R.evaluate(alert["rules"], facts), "deadlines", now, out)


def after_batch(store: Store) -> Evaluation | None:
    """Called by imports and scans once their batch has committed.  A failure here must not turn a
    stored import into an error: it is logged, the batch stays unevaluated and the next
    evaluation (``phaseout alert deliver``) takes it."""
    try:
        return evaluate(store)
    except Exception:  # the import itself succeeded; the batch is evaluated next time
        log.warning("alert evaluation failed; the batch is evaluated by the next one", exc_info=True)
        return None


def deliver(
    store: Store,
    actor: str,
    *,
    limit: int = 100,
    now: dt.datetime | None = None,
    timeout: float = TIMEOUT,
) -> Delivery:
    """Send up to ``limit`` due outbox rows; each attempt's outcome is recorded with its audit
    event, failures are retried with back-off (``alert.retry``)."""
    now = now or dt.datetime.now(dt.UTC)
    report = Delivery()
    with store.engine.connect() as conn:
        allow = _allow(conn)
    rows = stored.claim(store.engine, now, dt.timedelta(seconds=timeout * 3 + 30), limit)
    for row in rows:
        try:
            sent = send(
                row["kind"],
                row["config"],
                row["secret"],
                row["payload"],
                delivery=f"{row['id']}",
                sequence=int(row["id"]),
                allow=allow,
                version=__version__,
                timeout=timeout,
            )
            ok, detail = True, sent.detail
        except DeliveryError as exc:
            ok, detail = False, str(exc)
        except (OSError, ValueError) as exc:  # a sender's own fault: one row must not stop the batch
            ok, detail = False, f"could not send: {type(exc).__name__}: {exc}"
        retry_at = None if ok else next_attempt(dt.datetime.now(dt.UTC), int(row["attempts"]) + 1)
        status = stored.finish(
            store.engine, row, ok=ok, detail=detail, now=dt.datetime.now(dt.UTC), retry_at=retry_at, actor=actor
        )
        if status == "delivered":
            report.delivered += 1
        elif status == "pending":
            report.retrying += 1
        elif status == "failed":
            report.failed += 1
        report.results.append({"outbox": row["id"], "alert": row["name"], "status": status, "detail": detail})
    return report


def send_test(store: Store, actor: str, name: str, timeout: float = TIMEOUT) -> tuple[bool, str]:
    """Send a test message to one alert's destination now (not through the outbox); the outcome
    goes into the audit trail."""
    with store.engine.connect() as conn:
        alert = stored.get_alert(conn, name)
        allow = _allow(conn)
    if alert is None:
        raise UsageError(f"no alert named {name!r}", hint="phaseout alert list")
    payload = trial_payload(name, fired_at=dt.datetime.now(dt.UTC), version=__version__)
    try:
        sent = send(
            alert["kind"],
            alert["config"],
            alert["secret"],
            payload,
            delivery=f"test-{secrets.token_hex(4)}",
            sequence=os.getpid(),
            allow=allow,
            version=__version__,
            timeout=timeout,
        )
        ok, detail = True, sent.detail
    except DeliveryError as exc:
        ok, detail = False, str(exc)
    stored.record_test(store.engine, actor, name, alert["kind"], "delivered" if ok else "failed", detail)
    return ok, detail
