"""When a saved scan is due.  Pure: a schedule is text, times are passed in.

Two forms, both written by people in crontabs and timers every day:

- an interval, ``every 30m`` / ``every 6h`` / ``every 1d`` / ``every 2w``: due when it never ran
  or when the interval has passed since the newest job was made from it;
- a cron expression, five fields ``minute hour day-of-month month day-of-week`` (``*``, numbers,
  ``a-b`` ranges, ``a,b`` lists, ``/n`` steps; day-of-week 0-7 with 0 and 7 Sunday), or
  ``@hourly`` / ``@daily`` / ``@weekly`` / ``@monthly``: due when a fire time has passed since the
  newest job (or, for one never run, since the definition was made).  As in cron, when both day
  fields are restricted a day matching either is a match.

All times are UTC; a fire time missed while nothing ran (the server was down) is caught up once,
not once per miss.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from phaseout.errors import UsageError

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_INTERVAL = re.compile(r"every\s+([0-9]{1,6})\s*([mhdw])", re.IGNORECASE)
_ALIASES = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *"}
_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
#: how far back a cron fire time is looked for (a yearly 29 February fits in five years)
_LOOKBACK_DAYS = 5 * 366
#: the longest each month gets (29 February in leap years)
_LONGEST = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}
HINT = 'e.g. "every 6h", "@daily" or "0 2 * * *" (minute hour day month weekday, UTC)'


@dataclass(frozen=True, slots=True)
class Schedule:
    text: str
    interval: dt.timedelta | None = None
    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    days: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    weekdays: frozenset[int] = frozenset()  # 0 = Sunday
    any_day: bool = True  # day of month was "*"
    any_weekday: bool = True  # day of week was "*"

    def day_matches(self, day: dt.date) -> bool:
        if day.month not in self.months:
            return False
        by_date = day.day in self.days
        by_week = (day.isoweekday() % 7) in self.weekdays
        if self.any_day and self.any_weekday:
            return True
        if self.any_day:
            return by_week
        if self.any_weekday:
            return by_date
        return by_date or by_week


def _number(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` takes ``²`` (which ``int`` refuses) and ``٣``."""
    return text.isascii() and text.isdigit()


def _field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, _, step_text = part.partition("/")
            if not _number(step_text) or int(step_text) < 1:
                raise UsageError(f"schedule: bad step in the {name} field", hint=HINT)
            step = int(step_text)
        if part == "*":
            start, end = low, high
        elif "-" in part:
            a, _, b = part.partition("-")
            if not (_number(a) and _number(b)):
                raise UsageError(f"schedule: bad range {part!r} in the {name} field", hint=HINT)
            start, end = int(a), int(b)
        elif _number(part):
            start = int(part)
            end = high if step > 1 else start
        else:
            raise UsageError(f"schedule: {part!r} is not a number in the {name} field", hint=HINT)
        if not (low <= start <= end <= high):
            raise UsageError(f"schedule: the {name} field takes {low}-{high}", hint=HINT)
        values.update(range(start, end + 1, step))
    return frozenset(values)


def parse_schedule(text: str) -> Schedule:
    """A schedule from its text, or a usage error saying which part is wrong."""
    clean = " ".join(text.split())
    if not clean or len(clean) > 100:
        raise UsageError("schedule: empty or over 100 characters", hint=HINT)
    found = _INTERVAL.fullmatch(clean)
    if found:
        seconds = int(found.group(1)) * _UNITS[found.group(2).lower()]
        if seconds < 60:
            raise UsageError("schedule: the shortest interval is one minute", hint=HINT)
        return Schedule(clean, interval=dt.timedelta(seconds=seconds))
    cron = _ALIASES.get(clean.lower(), clean)
    parts = cron.split(" ")
    if len(parts) != 5:
        raise UsageError(f"schedule {clean!r} is neither an interval nor five cron fields", hint=HINT)
    sets = [_field(p, name, lo, hi) for p, (name, lo, hi) in zip(parts, _FIELDS, strict=True)]
    weekdays = frozenset(d % 7 for d in sets[4])
    if parts[2] != "*" and parts[4] == "*" and not any(d <= _LONGEST[m] for d in sets[2] for m in sets[3]):
        raise UsageError(f"schedule {clean!r} never fires: no month in it has that day", hint=HINT)
    return Schedule(
        clean,
        minutes=sets[0],
        hours=sets[1],
        days=sets[2],
        months=sets[3],
        weekdays=weekdays,
        any_day=parts[2] == "*",
        any_weekday=parts[4] == "*",
    )


def _utc(at: dt.datetime) -> dt.datetime:
    """Naive times are UTC (SQLite gives them back naive)."""
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)


def previous_fire(schedule: Schedule, now: dt.datetime) -> dt.datetime | None:
    """The newest cron fire time at or before ``now`` (minute resolution), within five years."""
    now = _utc(now).replace(second=0, microsecond=0)
    hours = sorted(schedule.hours, reverse=True)
    minutes = sorted(schedule.minutes, reverse=True)
    for back in range(_LOOKBACK_DAYS):
        day = (now - dt.timedelta(days=back)).date()
        if not schedule.day_matches(day):
            continue
        for hour in hours:
            if back == 0 and hour > now.hour:
                continue
            for minute in minutes:
                if back == 0 and hour == now.hour and minute > now.minute:
                    continue
                return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)
    return None


def is_due(schedule: Schedule, now: dt.datetime, last_run: dt.datetime | None, created: dt.datetime) -> bool:
    """Whether a job should be made now (see the module's docstring for the two rules)."""
    now = _utc(now)
    if schedule.interval is not None:
        return last_run is None or now - _utc(last_run) >= schedule.interval
    fire = previous_fire(schedule, now)
    anchor = _utc(last_run) if last_run is not None else _utc(created)
    return fire is not None and fire > anchor
