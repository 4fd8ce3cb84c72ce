"""The loaded knowledge with the indexes identification needs: name aliases, MAC prefixes,
grammar and banner rules by field."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from phaseout.errors import KnowledgeError
from phaseout.knowledge.load import RawKnowledge, data_folder, load_raw
from phaseout.knowledge.model import Brand, GrammarRule, Maker, SignalRule
from phaseout.knowledge.oui import OuiResolver, load_registry_csv, user_registry_path
from phaseout.knowledge.weights import Weights


def name_key(text: str) -> str:
    """``"Hangzhou Hikvision Digital Technology Co., Ltd."`` -> ``"hangzhou hikvision digital
    technology co ltd"``: lower case, anything but letters and digits becomes a space."""
    return " ".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


@dataclass(frozen=True, slots=True)
class NameMatch:
    """What a maker or brand name resolves to."""

    maker: str
    brand: str  # brand key, "" when the text named the maker itself
    exact: bool  # the whole text is a known alias (else: contained as whole words)


class Knowledge:
    def __init__(self, raw: RawKnowledge) -> None:
        self.raw = raw
        self.version = raw.version
        self.makers: dict[str, Maker] = raw.makers
        self.brands: dict[str, Brand] = raw.brands
        self.grammar: list[GrammarRule] = raw.grammar
        if raw.weights is None:
            raise KnowledgeError(f"knowledge in {raw.folder} has no weights", hint="it needs weights.toml")
        self.weights: Weights = raw.weights
        self.signals_by_field: dict[str, list[SignalRule]] = {}
        for rule in raw.signals:
            self.signals_by_field.setdefault(rule.field, []).append(rule)
        registry_file = user_registry_path()
        registry = load_registry_csv(registry_file) if registry_file.exists() else None
        self.oui = OuiResolver(raw.ouis, registry)
        self.aliases: dict[str, NameMatch] = {}
        for maker in self.makers.values():
            for alias in (maker.key, maker.name, *maker.aliases):
                self.aliases.setdefault(name_key(alias), NameMatch(maker.key, "", True))
        for brand in self.brands.values():  # a brand alias wins over a maker alias ("lorex", "dahua")
            for alias in (brand.key, brand.name, *brand.aliases):
                key = name_key(alias)
                if brand.relation == "own" and key in self.aliases:
                    continue
                self.aliases[key] = NameMatch(brand.maker, brand.key, True)
        # Aliases of 4+ characters may also be found, as whole words, inside longer names
        # ("Hikvision USA Inc"): looked up as word n-grams of the name, longest match wins.
        self.max_alias_words = max((len(a.split()) for a in self.aliases), default=1)
        self.registrants = [(name_key(p), m.key) for m in self.makers.values() for p in m.registrant]

    @lru_cache(maxsize=65536)  # noqa: B019 - one Knowledge per process; the cache lives as long
    def match_name(self, text: str) -> NameMatch | None:
        """A maker or brand named in free text, if any."""
        key = name_key(text)
        if not key:
            return None
        found = self.aliases.get(key)
        if found is not None:
            return found
        words = key.split()
        best = ""
        for size in range(min(len(words), self.max_alias_words), 0, -1):
            for start in range(len(words) - size + 1):
                gram = " ".join(words[start : start + size])
                if len(gram) > len(best) and len(gram) >= 4 and gram in self.aliases:
                    best = gram
        if best:
            hit = self.aliases[best]
            return NameMatch(hit.maker, hit.brand, False)
        return _near_miss(key, self.aliases)

    @lru_cache(maxsize=65536)  # noqa: B019
    def maker_of_registrant(self, registrant: str) -> str:
        key = name_key(registrant)
        for pattern, maker in self.registrants:
            if pattern in key:
                return maker
        return ""


def _near_miss(key: str, aliases: dict[str, NameMatch]) -> NameMatch | None:
    """One-word names one typo away from a known alias of 6+ letters ("hikvsion", "dahhua")."""
    if " " in key or len(key) < 6:
        return None
    for alias, hit in aliases.items():
        if len(alias) >= 6 and " " not in alias and abs(len(alias) - len(key)) <= 1 and _one_edit(key, alias):
            return NameMatch(hit.maker, hit.brand, False)
    return None


def _one_edit(a: str, b: str) -> bool:
    """True when a and b differ by one substitution, insertion, deletion or adjacent swap."""
    if a == b:
        return True
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diffs) == 1:
            return True
        return (
            len(diffs) == 2 and diffs[1] == diffs[0] + 1 and a[diffs[0]] == b[diffs[1]] and a[diffs[1]] == b[diffs[0]]
        )
    if len(a) > len(b):
        a, b = b, a
    return any(b[:i] + b[i + 1 :] == a for i in range(len(b)))


_cache: dict[str, Knowledge] = {}


def load_knowledge(folder: str | Path | None = None, *, strict: bool = True) -> Knowledge:
    """Load (once per folder and process) and index the knowledge; with ``strict`` a file with
    problems raises :class:`KnowledgeError` listing them."""
    path = str(data_folder(folder))
    if path not in _cache:
        raw, problems = load_raw(path)
        if problems and strict:
            raise KnowledgeError(
                f"{len(problems)} problem(s) in the knowledge files in {path}: {problems[0]}",
                hint="run `phaseout knowledge check` to list them all",
                problems=problems,
            )
        _cache[path] = Knowledge(raw)
    return _cache[path]


def clear_cache() -> None:
    _cache.clear()
