"""Read and validate the knowledge files.

The files ship inside the package (``phaseout/knowledge/data``); a user who edits copies points
``PHASEOUT_KNOWLEDGE`` (or ``phaseout knowledge check DIR``) at their folder.  Every problem is
collected and reported together, so one run of ``phaseout knowledge check`` lists them all.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from phaseout.errors import KnowledgeError
from phaseout.knowledge.model import (
    CONFIDENCES,
    DEVICE_TYPES,
    RELATIONS,
    SIGNAL_FIELDS,
    Brand,
    Example,
    GrammarRule,
    ListEntry,
    Maker,
    OuiEntry,
    SignalRule,
)
from phaseout.knowledge.schema import check_keys, check_oui_header
from phaseout.knowledge.weights import Weights, parse_weights

ENV_VAR = "PHASEOUT_KNOWLEDGE"
FILES = ("makers.toml", "brands.toml", "oui.csv", "models.toml", "signals.toml", "weights.toml")


@dataclass(slots=True)
class RawKnowledge:
    """The parsed files, before indexes are built."""

    folder: str
    version: str  # sha256 of the files' bytes: identifications record which knowledge made them
    makers: dict[str, Maker] = field(default_factory=dict)
    brands: dict[str, Brand] = field(default_factory=dict)
    ouis: dict[str, OuiEntry] = field(default_factory=dict)
    grammar: list[GrammarRule] = field(default_factory=list)
    signals: list[SignalRule] = field(default_factory=list)
    weights: Weights | None = None


def data_folder(folder: str | Path | None = None) -> Path:
    """The folder to read: ``folder``, else ``$PHASEOUT_KNOWLEDGE``, else the packaged files."""
    chosen = folder or os.environ.get(ENV_VAR)
    if chosen:
        return Path(chosen)
    return Path(str(resources.files("phaseout.knowledge").joinpath("data")))


def _read(folder: Path, name: str) -> bytes:
    try:
        return (folder / name).read_bytes()
    except FileNotFoundError:
        raise KnowledgeError(
            f"knowledge file {name} is missing from {folder}", hint=f"it needs: {', '.join(FILES)}"
        ) from None


def _tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _examples(items: Any, text_key: str) -> tuple[Example, ...]:
    out = []
    for item in items or []:
        if isinstance(item, str):
            out.append(Example(item))
        else:
            data = dict(item)
            out.append(Example(str(data.pop(text_key)), data))
    return tuple(out)


def _compile(pattern: str, where: str, problems: list[str], flags: int = 0) -> re.Pattern[str]:
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        problems.append(f"{where}: pattern does not compile: {exc}")
        return re.compile(r"(?!)")


def _toml(file: str, text: bytes, problems: list[str]) -> dict[str, Any]:
    """A knowledge file parsed, after its keys are checked against the schema (with lines)."""
    source = text.decode("utf-8")
    data = tomllib.loads(source)
    problems.extend(check_keys(file, source, data))
    return data


def _makers(text: bytes, problems: list[str]) -> dict[str, Maker]:
    out: dict[str, Maker] = {}
    for i, m in enumerate(_toml("makers.toml", text, problems).get("maker", [])):
        where = f"makers.toml maker #{i + 1} ({m.get('key', '?')})"
        if not m.get("key") or not m.get("name"):
            problems.append(f"{where}: needs key and name")
            continue
        if not m.get("sources"):
            problems.append(f"{where}: has no sources")
        lists = tuple(ListEntry(str(x["list"]), str(x["date"]), str(x["source"])) for x in m.get("lists", []))
        out[m["key"]] = Maker(
            key=m["key"],
            name=m["name"],
            country=m.get("country", ""),
            legal_name=m.get("legal_name", ""),
            parent=m.get("parent", ""),
            state_ownership=m.get("state_ownership", ""),
            registrant_weight=_weight_or_none(m.get("registrant_weight"), where, problems),
            aliases=_tuple(m.get("aliases")),
            registrant=_tuple(m.get("registrant")),
            sources=_tuple(m.get("sources")),
            lists=lists,
        )
    return out


def _weight_or_none(value: Any, where: str, problems: list[str]) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        problems.append(f"{where}: registrant_weight must be a number in (0, 1]")
        return None
    return float(value)


def _brands(text: bytes, makers: dict[str, Maker], problems: list[str]) -> dict[str, Brand]:
    out: dict[str, Brand] = {}
    for i, b in enumerate(_toml("brands.toml", text, problems).get("brand", [])):
        where = f"brands.toml brand #{i + 1} ({b.get('key', '?')})"
        if b.get("maker") not in makers:
            problems.append(f"{where}: unknown maker {b.get('maker')!r}")
        if b.get("relation") not in RELATIONS:
            problems.append(f"{where}: relation must be one of {', '.join(RELATIONS)}")
        if b.get("confidence") not in CONFIDENCES:
            problems.append(f"{where}: confidence must be one of {', '.join(CONFIDENCES)}")
        if not b.get("sources"):
            problems.append(f"{where}: has no sources")
        out[b.get("key", f"#{i}")] = Brand(
            key=b.get("key", f"#{i}"),
            name=b.get("name", ""),
            maker=b.get("maker", ""),
            relation=b.get("relation", ""),
            confidence=b.get("confidence", ""),
            aliases=_tuple(b.get("aliases")),
            sources=_tuple(b.get("sources")),
            since=str(b.get("since", "")),
            until=str(b.get("until", "")),
            note=b.get("note", ""),
        )
    return out


def _ouis(text: bytes, makers: dict[str, Maker], problems: list[str]) -> dict[str, OuiEntry]:
    lines = [ln for ln in text.decode("utf-8").splitlines() if not ln.startswith("#")]
    out: dict[str, OuiEntry] = {}
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    problems.extend(check_oui_header(list(reader.fieldnames) if reader.fieldnames else None))
    for n, row in enumerate(reader, start=1):
        prefix = (row.get("prefix") or "").strip().upper()
        if len(prefix) not in (6, 7, 9) or not all(c in "0123456789ABCDEF" for c in prefix):
            problems.append(f"oui.csv row {n}: prefix {prefix!r} is not 6, 7 or 9 hex digits")
            continue
        if row.get("maker") and row["maker"] not in makers:
            problems.append(f"oui.csv row {n} ({prefix}): unknown maker {row['maker']!r}")
        if not row.get("source"):
            problems.append(f"oui.csv row {n} ({prefix}): has no source")
        out[prefix] = OuiEntry(
            prefix=prefix,
            registrant=row.get("registrant", ""),
            maker=row.get("maker", ""),
            brand=row.get("brand", ""),
            relation=row.get("relation", ""),
            confidence=row.get("confidence", ""),
            registry=row.get("registry", ""),
            note=row.get("note", ""),
            source=row.get("source", ""),
        )
    return out


def _rule_common(
    r: dict[str, Any], where: str, makers: dict[str, Maker], brands: dict[str, Brand], problems: list[str]
) -> None:
    if r.get("maker") not in makers:
        problems.append(f"{where}: unknown maker {r.get('maker')!r}")
    if r.get("brand") and r["brand"] not in brands:
        problems.append(f"{where}: unknown brand {r['brand']!r}")
    weight = r.get("weight")
    if not isinstance(weight, (int, float)) or not 0 < weight <= 1:
        problems.append(f"{where}: weight must be a number in (0, 1]")
    if not r.get("source"):
        problems.append(f"{where}: has no source")
    if not r.get("examples"):
        problems.append(f"{where}: has no examples")
    if not r.get("counter"):
        problems.append(f"{where}: has no counter-examples")


def _rules(
    text: bytes, file: str, makers: dict[str, Maker], brands: dict[str, Brand], problems: list[str]
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(id, where, rule) for each ``[[rule]]`` of a rules file, after the checks all rules share."""
    seen: set[str] = set()
    for i, r in enumerate(_toml(file, text, problems).get("rule", [])):
        rid = r.get("id", f"#{i + 1}")
        where = f"{file} rule {rid}"
        if rid in seen:
            problems.append(f"{where}: duplicate id")
        seen.add(rid)
        _rule_common(r, where, makers, brands, problems)
        yield rid, where, r


def _grammar(text: bytes, makers: dict[str, Maker], brands: dict[str, Brand], problems: list[str]) -> list[GrammarRule]:
    out = []
    for rid, where, r in _rules(text, "models.toml", makers, brands, problems):
        dtype = r.get("device_type", "")
        dmap = r.get("device_type_map")
        if not dtype and not dmap:
            problems.append(f"{where}: needs device_type or device_type_map")
        for value in [dtype, *((dmap or {}).get("map", {}).values())]:
            if value and value not in DEVICE_TYPES:
                problems.append(f"{where}: device type {value!r} is not one of {', '.join(DEVICE_TYPES)}")
        out.append(
            GrammarRule(
                id=rid,
                maker=r.get("maker", ""),
                weight=float(r.get("weight", 0.5)),
                pattern=_compile(r.get("pattern", "(?!)"), where, problems),
                source=r.get("source", ""),
                brand=r.get("brand", ""),
                device_type=dtype,
                device_type_map=(dmap["group"], dict(dmap["map"])) if dmap else None,
                form_factor=r.get("form_factor", ""),
                form_map=dict(r.get("form_map", {})),
                examples=_examples(r.get("examples"), "model"),
                counter=_tuple(r.get("counter")),
            )
        )
    return out


def _signals(text: bytes, makers: dict[str, Maker], brands: dict[str, Brand], problems: list[str]) -> list[SignalRule]:
    out = []
    for rid, where, r in _rules(text, "signals.toml", makers, brands, problems):
        if r.get("field") not in SIGNAL_FIELDS:
            problems.append(f"{where}: field must be one of {', '.join(SIGNAL_FIELDS)}")
        flags = re.IGNORECASE if r.get("ignore_case") else 0
        out.append(
            SignalRule(
                id=rid,
                field=r.get("field", ""),
                maker=r.get("maker", ""),
                weight=float(r.get("weight", 0.5)),
                pattern=_compile(r.get("pattern", "(?!)"), where, problems, flags),
                source=r.get("source", ""),
                brand=r.get("brand", ""),
                examples=_examples(r.get("examples"), "text"),
                counter=_tuple(r.get("counter")),
            )
        )
    return out


def load_raw(folder: str | Path | None = None) -> tuple[RawKnowledge, list[str]]:
    """Parse every file; returns the knowledge and the list of problems found (empty = valid)."""
    path = data_folder(folder)
    blobs = {name: _read(path, name) for name in FILES}
    digest = hashlib.sha256()
    for name in FILES:
        digest.update(name.encode() + b"\0" + blobs[name])
    problems: list[str] = []
    try:
        makers = _makers(blobs["makers.toml"], problems)
        brands = _brands(blobs["brands.toml"], makers, problems)
        ouis = _ouis(blobs["oui.csv"], makers, problems)
        grammar = _grammar(blobs["models.toml"], makers, brands, problems)
        signals = _signals(blobs["signals.toml"], makers, brands, problems)
        weights_text = blobs["weights.toml"].decode("utf-8")
        weights = parse_weights(weights_text, tomllib.loads(weights_text), problems)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as exc:
        raise KnowledgeError(
            f"cannot parse the knowledge files in {path}: {exc}",
            hint="run `phaseout knowledge check` after fixing the syntax",
        ) from exc
    raw = RawKnowledge(str(path), digest.hexdigest()[:16], makers, brands, ouis, grammar, signals, weights)
    return raw, problems
