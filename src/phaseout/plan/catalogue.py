"""The approved catalogue a plan replaces devices from, read from the user's CSV or spreadsheet
and checked against the knowledge.

Columns (header names are matched case-insensitively; spaces and hyphens count as underscores):
``sku, maker, type, form_factor, megapixels, outdoor, ir, audio, channels, unit_price,
install_hours, approved`` and optionally ``brand`` and ``description``.  ``docs/planning.md``
describes each.

An item is **refused** when its maker or its brand resolves, through the brand -> maker
relations, to a maker covered by a policy pack in use: no plan may replace a Hikvision camera
with a relabelled Hikvision camera.  An item whose maker is on other lists the knowledge records
(export controls, state procurement lists, human-rights screening) is kept but **flagged** for
the buyer, and so is one whose maker the knowledge does not know (its labels cannot be checked).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from phaseout.errors import DataError
from phaseout.ingest.tables import open_table
from phaseout.knowledge.index import Knowledge
from phaseout.policy.packs import DEVICE_TYPES, PolicyPack
from phaseout.policy.packs import covered_makers as covered_makers  # the definition lives in policy

REQUIRED = (
    "sku",
    "maker",
    "type",
    "form_factor",
    "megapixels",
    "outdoor",
    "ir",
    "audio",
    "channels",
    "unit_price",
    "install_hours",
    "approved",
)
OPTIONAL = ("brand", "description")
TRUE = {"yes", "y", "true", "1", "x"}
FALSE = {"no", "n", "false", "0", ""}
MAX_ITEMS = 100_000


@dataclass(frozen=True, slots=True)
class CatalogueItem:
    sku: str
    maker: str
    device_type: str
    form_factor: str
    megapixels: int
    outdoor: bool
    ir: bool
    audio: bool
    channels: int
    unit_price: float
    install_hours: float
    brand: str = ""
    description: str = ""
    line: int = 0


@dataclass(slots=True)
class Catalogue:
    """Items that may be planned with, and what was set aside and why."""

    items: list[CatalogueItem] = field(default_factory=list)
    refused: list[tuple[CatalogueItem, str]] = field(default_factory=list)
    flagged: list[tuple[CatalogueItem, str]] = field(default_factory=list)
    not_approved: list[CatalogueItem] = field(default_factory=list)
    source: str = ""


def _header_key(text: object) -> str:
    return "_".join(str(text or "").strip().lower().replace("-", " ").split())


def _flag(text: str, line: int, column: str, problems: list[str]) -> bool:
    value = text.strip().lower()
    if value in TRUE:
        return True
    if value not in FALSE:
        problems.append(f"line {line}: {column} must be yes or no, found {text!r}")
    return False


def _number(text: str, line: int, column: str, problems: list[str], *, integer: bool = False) -> float:
    raw = text.strip().replace(",", "").lstrip("£$€")
    if raw == "" and column in ("megapixels", "channels"):
        return 0
    try:
        value = float(raw)
    except ValueError:
        problems.append(f"line {line}: {column} must be a number, found {text!r}")
        return 0
    if value < 0 or value != value or value in (float("inf"),):
        problems.append(f"line {line}: {column} must be a number >= 0, found {text!r}")
        return 0
    if integer and not value.is_integer():
        problems.append(f"line {line}: {column} must be a whole number, found {text!r}")
    return int(value) if integer else value


def _cell(header: dict[str, int], cells: list[str], name: str) -> str:
    i = header.get(name)
    return cells[i].strip() if i is not None and i < len(cells) else ""


def parse_rows(rows: Iterable[tuple[int, list[object]]], source: str = "") -> list[tuple[CatalogueItem, bool]]:
    """Rows of the file -> (item, approved).  Every problem is collected and the whole file
    refused at once with all of them, line by line."""
    problems: list[str] = []
    header: dict[str, int] | None = None
    out: list[tuple[CatalogueItem, bool]] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        cells = ["" if c is None else str(c) for c in row]
        if not any(c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
            continue  # blank lines and comments
        if header is None:
            header = {_header_key(c): i for i, c in enumerate(cells) if c.strip()}
            unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
            missing = [c for c in REQUIRED if c not in header]
            if missing:
                problems.append(f"line {line}: missing column(s) {', '.join(missing)}")
            if unknown:
                problems.append(
                    f"line {line}: unknown column(s) {', '.join(unknown)} (known: {', '.join(REQUIRED + OPTIONAL)})"
                )
            if problems:
                break
            continue

        cell = functools.partial(_cell, header, cells)
        if len(out) >= MAX_ITEMS:
            problems.append(f"line {line}: more than {MAX_ITEMS:,} items")
            break
        sku = cell("sku")
        if not sku:
            problems.append(f"line {line}: sku is empty")
        elif sku in seen:
            problems.append(f"line {line}: sku {sku!r} already on line {seen[sku]}")
        seen[sku] = line
        maker = cell("maker")
        if not maker:
            problems.append(f"line {line}: maker is empty")
        device_type = cell("type").lower()
        if device_type not in DEVICE_TYPES or device_type == "unknown":
            problems.append(f"line {line}: type must be one of {', '.join(DEVICE_TYPES[:-1])}, found {device_type!r}")
        approved = _flag(cell("approved"), line, "approved", problems)
        item = CatalogueItem(
            sku=sku,
            maker=maker,
            device_type=device_type,
            form_factor=cell("form_factor").lower(),
            megapixels=int(_number(cell("megapixels"), line, "megapixels", problems, integer=True)),
            outdoor=_flag(cell("outdoor"), line, "outdoor", problems),
            ir=_flag(cell("ir"), line, "ir", problems),
            audio=_flag(cell("audio"), line, "audio", problems),
            channels=int(_number(cell("channels"), line, "channels", problems, integer=True)),
            unit_price=_number(cell("unit_price"), line, "unit_price", problems),
            install_hours=_number(cell("install_hours"), line, "install_hours", problems),
            brand=cell("brand"),
            description=cell("description"),
            line=line,
        )
        if item.device_type == "recorder" and item.channels < 1 and approved:
            problems.append(f"line {line}: a recorder needs its number of channels")
        out.append((item, approved))
    if header is None and not problems:
        problems.append("the file has no header row")
    if problems:
        raise DataError(
            f"the catalogue {source} has {len(problems)} problem(s); the first: {problems[0]}",
            hint="fix these lines and run again:\n" + "\n".join(f"  {p}" for p in problems[:15]),
        )
    return out


def check_item(item: CatalogueItem, knowledge: Knowledge, covered: dict[str, list[str]]) -> tuple[str, str]:
    """("ok" | "refused" | "flagged", reason)."""
    notes: list[str] = []
    makers_found: set[str] = set()
    for field_name, text in (("maker", item.maker), ("brand", item.brand)):
        if not text:
            continue
        found = knowledge.match_name(text)
        if found is None:
            if field_name == "maker":
                notes.append(f"maker {text!r} is not in the knowledge: its brands and owners cannot be checked")
            continue
        makers_found.add(found.maker)
        if found.brand and found.brand in knowledge.brands:
            brand = knowledge.brands[found.brand]
            if brand.relation != "own" and found.maker in covered:
                packs = ", ".join(covered[found.maker])
                return "refused", (
                    f"{field_name} {text!r} is {brand.name}, a {brand.relation} label of "
                    f"{knowledge.makers[found.maker].name} ({'; '.join(brand.sources[:1])}), covered by {packs}"
                )
        if found.maker in covered:
            packs = ", ".join(covered[found.maker])
            return "refused", f"{field_name} {text!r} is {knowledge.makers[found.maker].name}, covered by {packs}"
    for key in sorted(makers_found):
        maker = knowledge.makers.get(key)
        if maker and maker.lists:
            listed = "; ".join(f"{e.list} ({e.date})" for e in maker.lists)
            notes.append(f"{maker.name} is on other lists: {listed}")
    return ("flagged", " / ".join(notes)) if notes else ("ok", "")


def read_catalogue(path: str | Path, knowledge: Knowledge, packs: list[PolicyPack]) -> Catalogue:
    table = open_table(path)
    parsed = parse_rows(table.rows, source=table.name)
    catalogue = Catalogue(source=str(path))
    covered = covered_makers(packs)
    for entry, approved in parsed:
        if not approved:
            catalogue.not_approved.append(entry)
            continue
        verdict, reason = check_item(entry, knowledge, covered)
        if verdict == "refused":
            catalogue.refused.append((entry, reason))
            continue
        if verdict == "flagged":
            catalogue.flagged.append((entry, reason))
        catalogue.items.append(entry)
    return catalogue


def sample_catalogue_path() -> Path:
    """The illustrative catalogue shipped for the demo (invented SKUs and prices)."""
    return Path(__file__).with_name("data") / "sample-catalogue.csv"
