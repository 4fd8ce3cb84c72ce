"""Model numbers -> maker, device type, form factor, megapixels, through the grammar rules."""

from __future__ import annotations

import re
from dataclasses import dataclass

from phaseout.knowledge.model import GrammarRule

_VENDOR_WORDS = re.compile(r"^(?:HIKVISION|HIK|DAHUA|HILOOK|HIWATCH|EZVIZ|IMOU|AMCREST|LOREX)\s+")
_DASHES = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2212": "-", "_": "-"})


def normalize_model(text: str) -> str:
    """``" hikvision ds-2cd2143g2-i "`` -> ``"DS-2CD2143G2-I"``: upper case, squeezed, en and em
    dashes and underscores made hyphens, a leading maker word dropped."""
    model = " ".join(text.upper().translate(_DASHES).split())
    return _VENDOR_WORDS.sub("", model, count=1) if " " in model else model


@dataclass(slots=True)
class Decoded:
    """A model decoded by a grammar rule (treated as immutable; cached and shared)."""

    rule: GrammarRule
    device_type: str
    form_factor: str | None
    megapixels: int | None
    channels: int | None


def _lookup(groups: dict[str, str | None], name: str) -> str | None:
    """The first non-empty group called ``name``, ``name2``, ``name3``... (alternatives)."""
    value = groups.get(name)
    if value:
        return value
    for suffix in range(2, 6):
        value = groups.get(f"{name}{suffix}")
        if value:
            return value
    return None


def decode(rule: GrammarRule, groups: dict[str, str | None]) -> Decoded:
    """Turn a rule's named groups into the decoded fields."""
    device_type = rule.device_type
    if rule.device_type_map is not None:
        group, mapping = rule.device_type_map
        device_type = mapping.get(_lookup(groups, group) or "", device_type or "unknown")
    form = rule.form_factor or None
    if rule.form_map and (code := _lookup(groups, "form")):
        form = rule.form_map.get(code, form)
    mp = groups.get("mp")
    megapixels = int(mp) if mp and mp.isdigit() and int(mp) > 0 else None
    ch = groups.get("channels")
    return Decoded(rule, device_type or "unknown", form, megapixels, int(ch) if ch and ch.isdigit() else None)


class Grammar:
    """All grammar rules compiled into one alternation, so a model is tried against every rule
    in one pass of the regex engine instead of one Python call per rule.  The semantics are the
    rules' own: alternatives are tried in file order and the first full match wins."""

    def __init__(self, rules: list[GrammarRule]) -> None:
        self.rules = rules
        parts = []
        #: per rule: the groups decoding reads, as (own name, name in the combined pattern)
        self.groups: list[list[tuple[str, str]]] = []
        for i, rule in enumerate(rules):
            body = re.sub(r"\(\?P<(\w+)>", rf"(?P<g{i}_\1>", rule.pattern.pattern)
            parts.append(f"(?P<R{i}>{body})")
            wanted = {"mp", "form", "channels"}
            if rule.device_type_map is not None:
                wanted.add(rule.device_type_map[0])
            self.groups.append(
                [
                    (name, f"g{i}_{name}")
                    for name in rule.pattern.groupindex
                    if name in wanted or name.rstrip("0123456789") in wanted
                ]
            )
        self.combined = re.compile("|".join(parts)) if parts else re.compile(r"(?!)")
        self._decoded: dict[tuple[str | int | None, ...], Decoded] = {}

    def match(self, model: str) -> Decoded | None:
        m = self.combined.fullmatch(model)
        if m is None or m.lastgroup is None:
            return None
        index = int(m.lastgroup[1:])
        wanted = self.groups[index]
        key = (index, *(m.group(combined) for _own, combined in wanted))
        decoded = self._decoded.get(key)
        if decoded is None:  # decodes repeat (same rule, same digits): share them
            decoded = decode(self.rules[index], {own: m.group(combined) for own, combined in wanted})
            if len(self._decoded) < 50_000:
                self._decoded[key] = decoded
        return decoded


def match_model(grammar: Grammar | list[GrammarRule], text: str) -> Decoded | None:
    """The first grammar rule that fully matches the normalised model."""
    model = normalize_model(text)
    if not model:
        return None
    if isinstance(grammar, Grammar):
        return grammar.match(model)
    for rule in grammar:
        m = rule.pattern.fullmatch(model)
        if m:
            return decode(rule, m.groupdict())
    return None


def match_serial(grammar: Grammar | list[GrammarRule], serial: str) -> Decoded | None:
    """Hikvision serial numbers begin with the model (``DS-2CD2386G2-IU20200101AAWR...``):
    try the longest leading part that a grammar rule accepts."""
    text = normalize_model(serial)
    if not text.startswith(("DS-", "IDS-")):
        return None
    for end in range(min(len(text), 40), 8, -1):
        found = match_model(grammar, text[:end])
        if found is not None and found.rule.maker == "hikvision":
            return found
    return None
