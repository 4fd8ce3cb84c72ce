"""Which policy status counts, and by when a device must go (pure).

A device can be found by several packs at once (the NDAA and the UK statement, say); the most
pressing status wins, in the order of :data:`PRECEDENCE`, and the earliest removal date of a
``due`` or ``breach`` finding is its deadline (a breach with no date is due today)."""

from __future__ import annotations

import datetime as dt
from typing import Any

#: Most pressing first: a breach now, then a dated duty, then an undecided one, then "applies".
PRECEDENCE = ("breach", "due", "unknown", "applies")


def policy_status(findings: list[dict[str, Any]]) -> str | None:
    """The most pressing status among the policy findings (None: no pack covers the device)."""
    found = {f["status"] for f in findings if f.get("kind") == "policy"}
    return next((s for s in PRECEDENCE if s in found), None)


def removal_deadline(findings: list[dict[str, Any]], today: dt.date) -> dt.date | None:
    """The earliest date by which a policy finding says the device must go."""
    dates = []
    for f in findings:
        if f.get("kind") != "policy" or f.get("action") != "remove" or f.get("status") not in ("due", "breach"):
            continue
        deadline = f.get("deadline")
        dates.append(dt.date.fromisoformat(deadline) if deadline else today)
    return min(dates) if dates else None
