"""The keys each knowledge file may hold, checked with the line of every problem.

A misspelt key (``wieght``, ``ignore_cse``) would otherwise be read as absent and silently change
what a rule does: the rule would fall back to a default weight, or match case-sensitively.  The
same strictness as the policy loader (:mod:`phaseout.policy.packs`): every unknown key is named
with its file and line, and ``phaseout knowledge check`` lists them all at once.
"""

from __future__ import annotations

import re
from typing import Any

#: Top-level tables of each file and the array-of-tables each holds.
FILE_TABLES = {
    "makers.toml": "maker",
    "brands.toml": "brand",
    "models.toml": "rule",
    "signals.toml": "rule",
}
ENTRY_KEYS = {
    "makers.toml": {
        "key",
        "name",
        "country",
        "legal_name",
        "parent",
        "state_ownership",
        "aliases",
        "registrant",
        "registrant_weight",
        "sources",
        "lists",
    },
    "brands.toml": {"key", "name", "maker", "relation", "confidence", "aliases", "sources", "since", "until", "note"},
    "models.toml": {
        "id",
        "maker",
        "weight",
        "pattern",
        "source",
        "brand",
        "device_type",
        "device_type_map",
        "form_factor",
        "form_map",
        "examples",
        "counter",
    },
    "signals.toml": {
        "id",
        "field",
        "maker",
        "weight",
        "pattern",
        "source",
        "brand",
        "examples",
        "counter",
        "ignore_case",
    },
}
#: Keys inside nested tables: (file, key of the nested table) -> allowed keys.
NESTED_KEYS = {
    ("makers.toml", "lists"): {"list", "date", "source"},
    ("models.toml", "device_type_map"): {"group", "map"},
}
#: Keys removed on purpose, with what to do instead (a clearer message than "unknown key").
RETIRED = {
    ("makers.toml", "covered"): "which makers are covered is decided by the policy packs in use "
    "(phaseout/policy/packs, `phaseout policy`), not by the knowledge: remove the key",
}
OUI_COLUMNS = ("prefix", "registrant", "maker", "brand", "relation", "confidence", "registry", "note", "source")


def _entry_lines(text: str, table: str) -> list[int]:
    """The 1-based line of each ``[[table]]`` header, in order."""
    header = re.compile(rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]", re.MULTILINE)
    return [text.count("\n", 0, m.start()) + 1 for m in header.finditer(text)]


def key_line(lines: list[str], key: str, start: int, end: int) -> int:
    """The line (1-based) in [start, end) where ``key`` is assigned, as ``key =`` or inside an
    inline table; ``start`` when it cannot be found (a key built by dotted names, say)."""
    pattern = re.compile(rf"(?:^|[\s{{,])[\"']?{re.escape(key)}[\"']?\s*=")
    for number in range(start, min(end, len(lines) + 1)):
        if pattern.search(lines[number - 1]):
            return number
    return start


def check_keys(file: str, text: str, data: dict[str, Any]) -> list[str]:
    """Problems (``file:line: ...``) for every key the file may not hold."""
    table = FILE_TABLES[file]
    problems: list[str] = []
    lines = text.splitlines()
    for key in data:
        if key != table:
            line = key_line(lines, key, 1, len(lines) + 1)
            problems.append(f"{file}:{line}: unknown table {key!r} (this file holds [[{table}]] entries)")
    starts = _entry_lines(text, table)
    entries = data.get(table, [])
    if not isinstance(entries, list):
        return [*problems, f"{file}: {table} must be an array of tables ([[{table}]])"]
    allowed = ENTRY_KEYS[file]
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        start = starts[i] if i < len(starts) else 1
        end = starts[i + 1] if i + 1 < len(starts) else len(lines) + 1
        name = entry.get("id") or entry.get("key") or f"#{i + 1}"
        for key in entry:
            if key in allowed:
                nested = NESTED_KEYS.get((file, key))
                if nested:
                    problems.extend(_nested(file, key, entry[key], nested, lines, start, end, name))
                continue
            line = key_line(lines, key, start, end)
            reason = RETIRED.get((file, key))
            if reason:
                problems.append(f"{file}:{line}: {table} {name}: {key!r} is no longer read: {reason}")
            else:
                problems.append(
                    f"{file}:{line}: {table} {name}: unknown key {key!r} (keys: {', '.join(sorted(allowed))})"
                )
    return problems


def _nested(
    file: str, key: str, value: Any, allowed: set[str], lines: list[str], start: int, end: int, name: str
) -> list[str]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if not isinstance(item, dict):
            continue
        for sub in item:
            if sub not in allowed:
                line = key_line(lines, sub, start, end)
                out.append(f"{file}:{line}: {name}: {key}: unknown key {sub!r} (keys: {', '.join(sorted(allowed))})")
    return out


def check_oui_header(header: list[str] | None) -> list[str]:
    """oui.csv must have exactly the known columns (a misspelt column would read as empty)."""
    if header is None:
        return ["oui.csv: no header line"]
    unknown = [c for c in header if c not in OUI_COLUMNS]
    missing = [c for c in OUI_COLUMNS if c not in header]
    out = [f"oui.csv: header: unknown column {c!r} (columns: {', '.join(OUI_COLUMNS)})" for c in unknown]
    out += [f"oui.csv: header: missing column {c!r}" for c in missing]
    return out
