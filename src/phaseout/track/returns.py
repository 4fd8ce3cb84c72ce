"""The installer's return (pure): rows of a CSV or spreadsheet -> checked swap records.

Columns: work order, device, old serial, new serial, new MAC, done date, and optionally
``decommissioned`` (yes / no): a device removed for good, with no replacement (a camera whose
channel is no longer needed).  Such a row names no new device; verification then still needs the
old device gone, and the recorder channel it sat on may stay dark.  Checked whole: the caller
writes nothing unless every row passes, and every problem is listed with its line."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from phaseout.errors import DataError, RowError
from phaseout.normalize import normalize_mac

RETURN_COLUMNS = ("work_order", "device", "old_serial", "new_serial", "new_mac", "done_date")
#: optional: the device was removed for good (no replacement)
DECOMMISSIONED = "decommissioned"
_YES = frozenset({"yes", "y", "true", "1", "x"})
_NO = frozenset({"", "no", "n", "false", "0"})


def _header_key(text: object) -> str:
    return "_".join(str(text or "").strip().lower().replace("-", " ").split())


def parse_return(
    name: str, rows: Iterable[tuple[int, list[Any]]]
) -> tuple[list[tuple[int, dict[str, Any]]], list[RowError]]:
    """(line, record) for every good row, and a :class:`RowError` for every bad one."""
    header: dict[str, int] | None = None
    parsed: list[tuple[int, dict[str, Any]]] = []
    problems: list[RowError] = []
    for line, row in rows:
        cells = ["" if c is None else str(c).strip() for c in row]
        if not any(cells):
            continue
        if header is None:
            header = {_header_key(c): i for i, c in enumerate(cells)}
            missing = [c for c in RETURN_COLUMNS if c not in header]
            if missing:
                raise DataError(
                    f"{name}: missing column(s) {', '.join(missing)}",
                    hint=f"the return needs: {', '.join(RETURN_COLUMNS)}",
                )
            continue
        get = {c: cells[header[c]] if header[c] < len(cells) else "" for c in RETURN_COLUMNS}
        at = header.get(DECOMMISSIONED)
        flag = (cells[at] if at is not None and at < len(cells) else "").lower()
        if flag not in _YES | _NO:
            problems.append(RowError(line, f"decommissioned is {flag[:20]!r}: write yes or no", DECOMMISSIONED))
            continue
        try:
            item = {
                "work_order": int(get["work_order"]),
                "device": int(get["device"]),
                "old_serial": get["old_serial"] or None,
                "new_serial": get["new_serial"] or None,
                "new_mac": normalize_mac(get["new_mac"]) if get["new_mac"] else None,
                "done_on": dt.date.fromisoformat(get["done_date"][:10]),
                "decommissioned": flag in _YES,
            }
        except ValueError as exc:
            problems.append(RowError(line, str(exc)))
            continue
        if item["decommissioned"]:
            if item["new_serial"] or item["new_mac"]:
                problems.append(
                    RowError(line, "a decommissioned device has no replacement: leave new_serial and new_mac empty")
                )
                continue
        elif not item["new_serial"] and not item["new_mac"]:
            problems.append(
                RowError(
                    line,
                    "give the new device's MAC or serial (verification needs one), or decommissioned = yes",
                    "new_mac",
                )
            )
            continue
        parsed.append((line, item))
    return parsed, problems


def check_return(
    parsed: list[tuple[int, dict[str, Any]]],
    stored: dict[tuple[int, int], tuple[str | None, str]],
) -> list[RowError]:
    """Rows that do not fit the stored work orders.  ``stored``: (work order, device) ->
    (recorded old serial, work order status)."""
    problems = []
    for line, item in parsed:
        found = stored.get((item["work_order"], item["device"]))
        if found is None:
            problems.append(
                RowError(line, f"device {item['device']} is not in work order {item['work_order']}", "device")
            )
            continue
        old_serial, status = found
        if item["old_serial"] and old_serial and item["old_serial"].upper() != old_serial.upper():
            problems.append(
                RowError(line, f"old serial {item['old_serial']} is not the recorded {old_serial}", "old_serial")
            )
        elif status in ("verified", "blocked"):
            problems.append(RowError(line, f"work order {item['work_order']} is {status}", "work_order"))
    return problems
