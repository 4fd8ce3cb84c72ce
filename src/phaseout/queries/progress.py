"""Progress over time, derived from what the store already records: covered devices remaining,
replaced (the installer's return, ``done_on``) and verified (the append-only audit event that
marks a work order verified) per day.

Derived rather than snapshotted: the audit trail cannot be edited, so the history it gives is
the history that happened, it covers databases that existed before this code, and no job has to
remember to take a snapshot.  The count on a day is of covered devices first seen by that day,
so devices imported later do not appear in earlier days.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Any

from sqlalchemy import Connection, func, select

from phaseout.store.schema import devices, events, work_order_devices


def _day(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC).date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def progress_days(conn: Connection, makers: list[str], today: dt.date) -> list[dict[str, Any]]:
    """One row per day on which something changed, and today: ``remaining`` (covered devices
    found and not yet verified replaced), ``replaced`` and ``verified`` (cumulative)."""
    covered = {
        int(i): _day(first)
        for i, first in conn.execute(
            select(devices.c.id, devices.c.first_seen).where(
                devices.c.vendor.in_(makers), devices.c.status.in_(("active", "replaced"))
            )
        )
    }
    if not covered:
        return []
    found: Counter[dt.date] = Counter(covered.values())
    replaced: dict[int, dt.date] = {}
    for device_id, done in conn.execute(
        select(work_order_devices.c.device_id, func.min(work_order_devices.c.done_on))
        .where(work_order_devices.c.done_on.is_not(None))
        .group_by(work_order_devices.c.device_id)
    ):
        if int(device_id) in covered:
            replaced[int(device_id)] = _day(done)
    verified: dict[int, dt.date] = {}
    for at, after in conn.execute(
        select(events.c.at, events.c.after).where(events.c.action == "work-order.status").order_by(events.c.id)
    ):
        body = json.loads(after) if after else None
        if not isinstance(body, dict) or body.get("status") != "verified":
            continue
        for device_id in body.get("devices") or []:
            if int(device_id) in covered:
                verified.setdefault(int(device_id), _day(at))
    done_by: Counter[dt.date] = Counter(replaced.values())
    verified_by: Counter[dt.date] = Counter(verified.values())
    days = sorted({*found, *done_by, *verified_by, today})
    out = []
    seen = done = checked = 0
    for day in days:
        if day > today:
            break
        seen += found[day]
        done += done_by[day]
        checked += verified_by[day]
        out.append({"day": day.isoformat(), "remaining": seen - checked, "replaced": done, "verified": checked})
    return out


def as_of(days: list[dict[str, Any]], day: dt.date) -> dict[str, Any] | None:
    """The last row on or before ``day``."""
    best = None
    for row in days:
        if row["day"] <= day.isoformat():
            best = row
    return best
