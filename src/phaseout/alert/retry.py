"""When to try a failed delivery again (pure): exponential back-off from :data:`FIRST_DELAY`,
doubling, capped at :data:`MAX_DELAY`; after :data:`MAX_ATTEMPTS` the row is ``failed`` (kept,
listed by ``phaseout alert outbox``, sent again by ``phaseout alert deliver --retry-failed``)."""

from __future__ import annotations

import datetime as dt

FIRST_DELAY = 30.0
MAX_DELAY = 3600.0
#: 30 s, 1, 2, 4, 8, 16, 32 min, then hourly: about 5 hours of trying before a person must look.
MAX_ATTEMPTS = 12


def retry_delay(attempts: int, first: float = FIRST_DELAY, cap: float = MAX_DELAY) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt."""
    return float(min(cap, first * 2.0 ** max(0, attempts - 1)))


def next_attempt(now: dt.datetime, attempts: int, max_attempts: int = MAX_ATTEMPTS) -> dt.datetime | None:
    """When to try again after ``attempts`` failures, or ``None``: give up (status ``failed``)."""
    if attempts >= max_attempts:
        return None
    return now + dt.timedelta(seconds=retry_delay(attempts))
