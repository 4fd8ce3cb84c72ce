"""Read and validate policy packs (TOML, one pack per file).

A pack is refused, with the line and the reason, when it names an unknown maker, a field that
does not exist (a typo), an impossible date or an action the product does not know.  Packs ship
in ``phaseout/policy/packs``; an organisation's own packs live in
``$XDG_DATA_HOME/phaseout/policies`` (``phaseout policy add FILE``).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from phaseout.errors import KnowledgeError
from phaseout.knowledge import load_knowledge

ACTIONS = ("remove", "do-not-procure", "do-not-deploy", "disconnect-core", "plan-replacement")
SEVERITIES = ("critical", "high", "medium", "low", "info")
SENSITIVITIES = ("sensitive", "standard")
ZONES = ("core", "camera", "guest", "internet", "unknown")
DEVICE_TYPES = ("camera", "recorder", "body-worn", "intercom", "access-control", "thermal", "other", "unknown")
NEXT_MAINTENANCE = "next-maintenance"
PACK_KEYS = {"id", "name", "version", "jurisdiction", "binding", "makers", "sources", "rule"}
RULE_KEYS = {
    "ref",
    "summary",
    "applies_to",
    "effective",
    "action",
    "deadline",
    "severity",
    "sensitivity",
    "device_types",
    "zones",
    "makers",
    "source",
}


@dataclass(frozen=True, slots=True)
class PolicyRule:
    ref: str
    summary: str
    action: str
    severity: str
    effective: dt.date
    source: str
    applies_to: str = ""
    deadline: dt.date | str | None = None  # a date, "next-maintenance", or none
    sensitivity: tuple[str, ...] = ()  # empty = every site
    device_types: tuple[str, ...] = ()  # empty = every type
    zones: tuple[str, ...] = ()  # empty = any network zone
    makers: tuple[str, ...] = ()  # empty = the pack's makers


@dataclass(frozen=True, slots=True)
class PolicyPack:
    id: str
    name: str
    version: str
    jurisdiction: str
    binding: str
    makers: tuple[str, ...]
    sources: tuple[str, ...]
    rules: tuple[PolicyRule, ...]
    path: str = ""


def user_packs_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "phaseout" / "policies"


def packaged_dir() -> Path:
    return Path(str(resources.files("phaseout.policy").joinpath("packs")))


def _line_of(text: str, needle: str, start_line: int = 1) -> int:
    """The first line (1-based, from ``start_line``) that contains ``needle``; 0 if none."""
    for number, line in enumerate(text.splitlines(), start=1):
        if number >= start_line and needle in line:
            return number
    return 0


@dataclass(slots=True)
class _Checker:
    name: str
    text: str
    problems: list[str] = field(default_factory=list)

    def fail(self, reason: str, needle: str | None = None, after: int = 1) -> None:
        line = _line_of(self.text, needle, after) if needle else 0
        self.problems.append(f"{self.name}:{line}: {reason}" if line else f"{self.name}: {reason}")


def _date(value: Any, what: str, check: _Checker) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        check.fail(f"{what} {value!r} is not a date (YYYY-MM-DD)", str(value))
        return None


def _strings(value: Any, what: str, allowed: tuple[str, ...] | None, check: _Checker) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else list(value or [])
    out = []
    for item in items:
        if allowed is not None and item not in allowed:
            check.fail(f"{what} {item!r} is not one of {', '.join(allowed)}", f'"{item}"')
        out.append(str(item))
    return tuple(out)


def parse_pack(text: str, name: str = "<pack>") -> PolicyPack:
    """Parse and validate one pack; raises :class:`KnowledgeError` listing every problem."""
    check = _Checker(name, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # carries its own line and column
        raise KnowledgeError(f"{name}: {exc}", hint="fix the TOML syntax at that line") from exc
    makers = load_knowledge().makers
    for key in sorted(set(data) - PACK_KEYS):
        check.fail(f"unknown field {key!r} (fields: {', '.join(sorted(PACK_KEYS))})", key)
    for key in ("id", "name", "version", "makers", "sources", "rule"):
        if not data.get(key):
            check.fail(f"missing {key!r}")
    pack_makers = _strings(data.get("makers"), "maker", tuple(makers), check)
    rules = []
    for i, raw in enumerate(data.get("rule", []) or []):
        ref = str(raw.get("ref", f"rule #{i + 1}"))
        where = _line_of(text, f'"{ref}"') or 1
        for key in sorted(set(raw) - RULE_KEYS):
            check.fail(f"rule {ref}: unknown field {key!r} (fields: {', '.join(sorted(RULE_KEYS))})", key, where)
        for key in ("ref", "summary", "effective", "action", "severity", "source"):
            if key not in raw:
                check.fail(f"rule {ref}: missing {key!r}", f'"{ref}"')
        action = str(raw.get("action", ""))
        if action and action not in ACTIONS:
            check.fail(f"rule {ref}: action {action!r} is not one of {', '.join(ACTIONS)}", action, where)
        severity = str(raw.get("severity", ""))
        if severity and severity not in SEVERITIES:
            check.fail(f"rule {ref}: severity {severity!r} is not one of {', '.join(SEVERITIES)}", severity, where)
        effective = _date(raw.get("effective"), f"rule {ref}: effective", check) if "effective" in raw else None
        deadline: dt.date | str | None = None
        if "deadline" in raw:
            deadline = (
                NEXT_MAINTENANCE
                if raw["deadline"] == NEXT_MAINTENANCE
                else _date(raw["deadline"], f"rule {ref}: deadline", check)
            )
            if isinstance(deadline, dt.date) and effective and deadline < effective:
                check.fail(
                    f"rule {ref}: deadline {deadline} is before it takes effect ({effective})", "deadline", where
                )
        rules.append(
            PolicyRule(
                ref=ref,
                summary=str(raw.get("summary", "")),
                action=action,
                severity=severity,
                effective=effective or dt.date.min,
                source=str(raw.get("source", "")),
                applies_to=str(raw.get("applies_to", "")),
                deadline=deadline,
                sensitivity=_strings(raw.get("sensitivity"), f"rule {ref}: sensitivity", SENSITIVITIES, check),
                device_types=_strings(raw.get("device_types"), f"rule {ref}: device type", DEVICE_TYPES, check),
                zones=_strings(raw.get("zones"), f"rule {ref}: zone", ZONES, check),
                makers=_strings(raw.get("makers"), f"rule {ref}: maker", tuple(makers), check),
            )
        )
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,63}", str(data.get("id", "x"))):
        check.fail("id must be lower-case letters, digits and hyphens", "id")
    if check.problems:
        raise KnowledgeError(
            f"{len(check.problems)} problem(s) in {name}: {check.problems[0]}",
            hint="each problem names the line; fix them and run `phaseout policy check` again",
            problems=check.problems,
        )
    return PolicyPack(
        id=str(data["id"]),
        name=str(data["name"]),
        version=str(data["version"]),
        jurisdiction=str(data.get("jurisdiction", "")),
        binding=str(data.get("binding", "")),
        makers=pack_makers,
        sources=_strings(data.get("sources"), "source", None, check),
        rules=tuple(rules),
        path=name,
    )


def read_pack(path: Path) -> PolicyPack:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KnowledgeError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise KnowledgeError(f"{path} is not UTF-8 text", hint="save the pack as UTF-8") from exc
    return parse_pack(text, str(path))


def available_packs() -> dict[str, PolicyPack]:
    """Every pack phaseout knows: the packaged ones, then the organisation's own (which win)."""
    packs: dict[str, PolicyPack] = {}
    for folder in (packaged_dir(), user_packs_dir()):
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                pack = read_pack(path)
                packs[pack.id] = pack
    return packs


def covered_makers(packs: list[PolicyPack]) -> dict[str, list[str]]:
    """Maker key -> the ids of the packs (in ``packs``) that cover it.

    The one definition of "covered": a maker is covered when a policy pack in use names it, in
    the pack's ``makers`` or in one of its rules.  Not a property of the maker in the knowledge,
    because it depends on which rules an organisation follows (a US agency, a UK department and
    a retailer's own policy cover different makers); the knowledge keeps only the sourced facts
    of which public lists name a maker."""
    covered: dict[str, list[str]] = {}
    for pack in packs:
        for maker in sorted({*pack.makers, *(m for rule in pack.rules for m in rule.makers)}):
            covered.setdefault(maker, []).append(pack.id)
    return covered
