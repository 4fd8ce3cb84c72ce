"""Find the header row and map its columns to phaseout fields.

Real spreadsheets put titles, dates and blank lines above the header and name columns in a
dozen ways; the synonyms live in ``column_names.toml`` (data, not code) and ``--map``
overrides any guess.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from phaseout.errors import InputFileError, UsageError

#: How far down the sheet the header row may be.
HEADER_SEARCH_ROWS = 50


@cache
def synonyms(kind: str) -> dict[str, tuple[str, ...]]:
    """Field -> header names for ``kind`` (``devices`` or ``sites``), from the data file."""
    text = resources.files("phaseout.ingest").joinpath("column_names.toml").read_text("utf-8")
    table = tomllib.loads(text)[kind]
    return {fld: tuple(names) for fld, names in table.items()}


def header_words(header: object) -> str:
    """``"Store No."`` -> ``"store no"``: lower case, punctuation to spaces, squeezed."""
    text = str(header).lower().replace("#", " # ") if header is not None else ""
    return " ".join("".join(ch if ch.isalnum() or ch == "#" else " " for ch in text).split())


def _match(words: str, table: Mapping[str, tuple[str, ...]]) -> tuple[str, int, int] | None:
    """Best field for one header: (field, quality, preference).  Exact matches have quality
    1000; whole-word containment has the matched name's length; lower preference wins ties."""
    best: tuple[str, int, int] | None = None
    if not words:
        return None
    padded = f" {words} "
    for fld, names in table.items():
        for pref, name in enumerate(names):
            if words == name:
                quality = 1000
            elif f" {name} " in padded:
                quality = len(name)
            else:
                continue
            if best is None or (quality, -pref) > (best[1], -best[2]):
                best = (fld, quality, pref)
    return best


@dataclass(slots=True)
class ColumnMapping:
    """Where each field comes from. ``fields`` maps field -> column index; ``extra`` keeps
    the other non-empty headers so their values still reach the stored evidence."""

    header_row: int  # 1-based
    headers: list[str]
    fields: dict[str, int] = field(default_factory=dict)
    extra: dict[str, int] = field(default_factory=dict)

    def describe(self) -> list[tuple[str, str]]:
        """(column header, field or "(kept as evidence)") pairs in column order, for --dry-run."""
        by_index = {i: f for f, i in self.fields.items()}
        out = []
        for i, h in enumerate(self.headers):
            if not h:
                continue
            out.append((h, by_index.get(i, "(kept as evidence)")))
        return out

    def row_values(self, cells: Sequence[object]) -> dict[str, str]:
        """A row's non-empty cells by header, for error reports."""
        return {
            h: str(cells[i]) for i, h in enumerate(self.headers) if h and i < len(cells) and cells[i] not in ("", None)
        }

    def as_json(self) -> dict[str, str]:
        return {self.headers[i]: f for f, i in self.fields.items()}


def map_columns(
    headers: Sequence[object],
    kind: str,
    overrides: Mapping[str, str] | None = None,
    header_row: int = 1,
) -> ColumnMapping:
    """Assign fields to columns.  ``overrides`` maps a header (case-insensitive) to a field
    name, or to ``-``/``ignore`` to drop the column."""
    table = synonyms(kind)
    names = ["" if h is None else " ".join(str(h).split()) for h in headers]
    words = [header_words(h) for h in names]
    names = _distinct(names)
    mapping = ColumnMapping(header_row=header_row, headers=names)
    forced: dict[int, str] = {}
    for col, target in (overrides or {}).items():
        key = header_words(col)
        idx = next((i for i, w in enumerate(words) if w == key), None)
        if idx is None:
            raise UsageError(
                f"--map names a column {col!r} that is not in the header row",
                hint=f"columns found: {', '.join(n for n in names if n)}",
            )
        target = target.strip().lower()
        if target in ("-", "ignore", "skip"):
            forced[idx] = ""
            continue
        if target not in table:
            raise UsageError(f"--map {col}={target}: unknown field", hint=f"fields: {', '.join(table)}")
        forced[idx] = target
    for idx, target in forced.items():
        if target:
            mapping.fields[target] = idx
    candidates: list[tuple[int, int, int, str]] = []
    for i, w in enumerate(words):
        if i in forced:
            continue
        m = _match(w, table)
        if m:
            candidates.append((-m[1], m[2], i, m[0]))
    for _q, _p, i, fld in sorted(candidates):
        if fld not in mapping.fields:
            mapping.fields[fld] = i
    taken = set(mapping.fields.values()) | set(forced)
    mapping.extra = {names[i]: i for i in range(len(names)) if names[i] and i not in taken}
    return mapping


def _distinct(names: list[str]) -> list[str]:
    """``Notes, Notes, Notes`` -> ``Notes, Notes (2), Notes (3)``: each column keeps its own name,
    so its values are kept and shown under it (a repeated name used to keep only the last
    column's values, and ``--dry-run`` showed them under the first)."""
    seen: dict[str, int] = {}
    taken = {n.lower() for n in names}
    out = []
    for name in names:
        key = name.lower()
        if not name or key not in seen:
            seen.setdefault(key, 1)
            out.append(name)
            continue
        n = seen[key]
        while True:
            n += 1
            candidate = f"{name} ({n})"
            if candidate.lower() not in taken:
                break
        seen[key] = n
        taken.add(candidate.lower())
        out.append(candidate)
    return out


def score_header(row: Sequence[object], kind: str) -> int:
    """How many distinct fields a row's cells name (a header row names several)."""
    table = synonyms(kind)
    found = set()
    for cell in row:
        if isinstance(cell, str) and 0 < len(cell) <= 60:
            m = _match(header_words(cell), table)
            if m:
                found.add(m[0])
    return len(found)


def find_header(rows: Sequence[tuple[int, Sequence[object]]], kind: str) -> tuple[int, Sequence[object]]:
    """The first of the best-scoring rows among the first ``HEADER_SEARCH_ROWS``; a header
    must name at least two fields."""
    best: tuple[int, int, Sequence[object]] | None = None
    for number, row in rows[:HEADER_SEARCH_ROWS]:
        score = score_header(row, kind)
        if score >= 2 and (best is None or score > best[0]):
            best = (score, number, row)
    if best is None:
        raise InputFileError(
            f"no header row found in the first {HEADER_SEARCH_ROWS} rows",
            hint="the header needs at least two recognisable columns (e.g. 'Make', 'Model', 'MAC', 'Site'); "
            "name the row with --header-row N or rename the columns",
        )
    return best[1], best[2]
