"""The identification engine: facts -> evidence -> one :class:`Identification`.

How signals combine (explainable on purpose): each piece of evidence names a maker and a weight
in (0, 1].  Per maker, the strongest evidence of each rule counts once, and rules combine as
independent witnesses (noisy-or: 1 - product of (1 - weight)).  The best-scoring maker wins; a
second maker with support lowers the confidence (confidence = best x (1 - second / 2)) and is
listed as a conflict.  Below ``min_score`` the vendor is ``unknown``: a device nobody can place
is never guessed.  Every weight that is not a rule's own is data: ``knowledge/data/weights.toml``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

from phaseout.identify.facts import AnswerFacts, Facts, _merge, _value, gather, gather_cached, mac_hex
from phaseout.identify.models import Decoded, Grammar, match_serial, normalize_model
from phaseout.identify.result import Evidence, Identification
from phaseout.ingest.values import parse_device_type
from phaseout.knowledge import Knowledge, load_knowledge
from phaseout.knowledge.oui import is_locally_administered

#: Device type words that devices and discovery protocols report.
_TYPE_WORDS = {
    "ipcamera": "camera",
    "ipdome": "camera",
    "ipc": "camera",
    "ip camera": "camera",
    "camera": "camera",
    "nvr": "recorder",
    "dvr": "recorder",
    "hcvr": "recorder",
    "xvr": "recorder",
    "nvs": "recorder",
    "acs": "access-control",
    "vto": "intercom",
    "vth": "intercom",
    "thermal": "thermal",
}
#: Entries per cache.  Real estates repeat a few thousand (make, model, firmware, MAC block)
#: combinations; beyond that a workload is all-distinct and more entries only cost memory.
CACHE_LIMIT = 50_000
_HEX = frozenset("0123456789ABCDEF")
_ROW_FIELD_SET = frozenset(("manufacturer", "brand", "model", "firmware", "mac", "serial", "device_type"))


def _type_from_hint(text: str) -> str | None:
    key = " ".join(text.lower().split())
    if key in _TYPE_WORDS:
        return _TYPE_WORDS[key]
    value = parse_device_type(text).value
    return value if value not in ("other", "unknown") else None


class Identifier:
    """Identifies devices from their observations with one set of knowledge.  Pure: the same
    observations and knowledge always give the same identification."""

    def __init__(self, knowledge: Knowledge | None = None) -> None:
        self.k = knowledge or load_knowledge()
        self.w = self.k.weights
        self.grammar = Grammar(self.k.grammar)
        self.answers: AnswerFacts | None = None  # None: the process's cache (facts.ANSWERS)
        self._inventory_cache: dict[tuple[Any, ...], Identification] = {}
        self._name_cache: dict[tuple[str, str, str], Evidence] = {}
        self._oui_cache: dict[tuple[str, str], Evidence] = {}
        self._verdicts: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self._firmware_rules = tuple(self.k.signals_by_field.get("firmware", ()))
        # MA-L blocks that hold longer (MA-M / MA-S) registrations, as "AA:BB:CC"
        self._long_prefix_parents = {f"{p[0:2]}:{p[2:4]}:{p[4:6]}" for p in self.k.oui.long_prefix_parents}

    @property
    def version(self) -> str:
        """The version of the knowledge this identifier uses (stored with each identification)."""
        return self.k.version

    # -- entry points ------------------------------------------------------------------------

    def identify(self, observations: list[Any]) -> Identification:
        """Raises :class:`phaseout.identify.facts.ObservationError` for malformed input."""
        if len(observations) == 1 and isinstance(observations[0], dict) and observations[0].get("kind") == "inventory":
            fields = observations[0].get("fields")
            if isinstance(fields, dict):
                if not fields.keys() <= _ROW_FIELD_SET and any(
                    not (isinstance(k, str) and k.islower()) for k in fields
                ):
                    fields = {str(k).lower(): v for k, v in fields.items()}
                return self.identify_inventory(fields)
        return self.identify_facts(gather_cached(observations, self.answers))

    def identify_read(self, first: list[Any], facts: Facts) -> Identification:
        """``identify([*first, *rest])`` for answers ``rest`` already read into ``facts``
        (``gather_cached(rest)``, not to be used again by the caller)."""
        head = gather_cached(first, self.answers)
        _merge(head, facts)
        return self.identify_facts(head)

    def with_answers(self, answers: AnswerFacts) -> Identifier:
        """This identifier reading answers through ``answers`` (one scan's: the facts its
        collector sent); the knowledge and every other cache are shared."""
        twin = copy.copy(self)
        twin.answers = answers
        return twin

    def identify_row(
        self,
        manufacturer: Any,
        brand: Any,
        model: Any,
        firmware: Any,
        mac: Any,
        serial: Any,
        device_type: Any,
    ) -> Identification:
        """One inventory row, fields as arguments: the hot path of imports and of
        :meth:`identify_inventory`.  Raises ``TypeError`` for an unhashable value."""
        if mac:
            if type(mac) is str and len(mac) == 17 and mac[2] == ":" and mac[5] == ":":
                block = mac[:8].upper()
                oui_key: str | None = mac[:13].upper() if block in self._long_prefix_parents else block
            else:
                oui_key = self._oui_key(mac)
        else:
            oui_key = None
        key = (manufacturer, brand, model, firmware, device_type, oui_key, None if model else serial)
        cached = self._inventory_cache.get(key)
        if cached is not None:
            return cached
        result = self._compute_row(manufacturer, brand, model, firmware, mac, serial, device_type)
        if len(self._inventory_cache) < CACHE_LIMIT:
            self._inventory_cache[key] = result
        return result

    def _oui_key(self, mac: Any) -> str | None:
        """A cache key that determines the MAC's registry block (and nothing finer)."""
        hx = mac_hex(str(mac))
        return self.k.oui.key(hx) if hx else None

    def _compute_row(
        self, manufacturer: Any, brand: Any, model: Any, firmware: Any, mac: Any, serial: Any, device_type: Any
    ) -> Identification:
        """What ``identify_facts(gather([inventory]))`` computes, without building facts: the
        same steps in the same order (a test checks both agree on every demo device)."""
        evidence: list[Evidence] = []
        if manufacturer := _value(manufacturer):
            self._name("inventory", "manufacturer", manufacturer, evidence)
        if brand := _value(brand):
            self._name("inventory", "brand", brand, evidence)
        shown: str | None = None
        decoded: Decoded | None = None
        if model := _value(model):
            norm = normalize_model(model)
            if norm:
                shown = norm
                decoded = self._decode(norm)
                if decoded is not None:
                    rule = decoded.rule
                    evidence.append(Evidence("inventory", rule.id, norm, rule.maker, rule.weight, rule.brand))
        via_serial = False
        if decoded is None and (serial := _value(serial)):
            found = match_serial(self.grammar, serial)
            if found is not None:
                evidence.append(_serial_evidence("inventory", serial, found, self.w.serial_model_prefix))
                decoded = found  # the maker is known; the model is not (a serial is not a model)
                via_serial = True
        fired: tuple[str, ...] = ()
        if firmware := _value(firmware):
            for frule in self._firmware_rules:
                if m := frule.pattern.search(firmware):
                    fired += (frule.id,)
                    evidence.append(
                        Evidence("inventory", frule.id, m.group(0)[:120], frule.maker, frule.weight, frule.brand)
                    )
        oui_key = None
        if mac:
            hx = mac.replace(":", "").upper() if type(mac) is str and len(mac) == 17 and mac[2] == ":" else None
            if hx is None or not _HEX.issuperset(hx):
                hx = mac_hex(str(mac))
            if hx and len(hx) == 12:
                oui_key = self.k.oui.key(hx)
                mac_evidence = self._oui_cache.get(("inventory", oui_key))
                if mac_evidence is None:
                    mac_evidence = self._mac_evidence("inventory", hx)
                    if len(self._oui_cache) < CACHE_LIMIT:
                        self._oui_cache[("inventory", oui_key)] = mac_evidence
                evidence.append(mac_evidence)
        device_type = _value(device_type)
        # The verdict (vendor, confidence, label...) depends only on which rules fired, not on the
        # matched text: rows of the same make, brand, MAC block and model family share it.
        verdict_key = (
            manufacturer,
            brand,
            device_type,
            oui_key,
            fired,
            decoded and (decoded.rule.id, decoded.device_type, via_serial),
        )
        verdict = self._verdicts.get(verdict_key)
        if verdict is None:
            result = self._combine(
                evidence,
                shown,
                decoded,
                [("inventory", brand)] if brand else [],
                [("inventory", device_type)] if device_type else [],
                [("inventory", firmware)] if firmware else [],
                [],
            )
            if len(self._verdicts) < CACHE_LIMIT:
                self._verdicts[verdict_key] = (
                    result.vendor,
                    result.confidence,
                    result.conflicts,
                    result.brand,
                    result.relation,
                    result.device_type,
                )
            return result
        vendor, confidence, conflicts, label, relation, dtype = verdict
        return Identification(
            vendor,
            label,
            relation,
            shown,
            firmware or None,
            dtype,
            decoded.form_factor if decoded else None,
            decoded.megapixels if decoded else None,
            confidence,
            tuple(evidence),
            conflicts,
        )

    def identify_inventory(self, fields: Mapping[str, Any]) -> Identification:
        """A spreadsheet row (lower-case field names, as in the inventory observation).  Rows that
        agree on make, brand, model, firmware, type and MAC block get the same answer, so it is
        computed once and shared (estates repeat a few hundred models over many thousand rows)."""
        get = fields.get
        mac = get("mac")
        model = get("model")
        # the cache key of identify_row, inlined: this is the loop of million-row identifications
        if mac and type(mac) is str and len(mac) == 17 and mac[2] == ":" and mac[5] == ":":
            block = mac[:8].upper()
            oui_key: str | None = mac[:13].upper() if block in self._long_prefix_parents else block
        else:
            oui_key = self._oui_key(mac) if mac else None
        key = (
            get("manufacturer"),
            get("brand"),
            model,
            get("firmware"),
            get("device_type"),
            oui_key,
            None if model else get("serial"),
        )
        try:
            cached = self._inventory_cache.get(key)
        except TypeError:  # an unhashable value (a list where a string belongs): no cache
            return self.identify_facts(gather([{"kind": "inventory", "fields": dict(fields)}]))
        if cached is not None:
            return cached
        result = self._compute_row(key[0], key[1], model, key[3], mac, get("serial"), key[4])
        if len(self._inventory_cache) < CACHE_LIMIT:
            self._inventory_cache[key] = result
        return result

    def _signals(self, facts: Facts, evidence: list[Evidence]) -> None:
        for fld, items in facts.texts.items():
            for rule in self.k.signals_by_field.get(fld, ()):
                for kind, text in items:
                    m = rule.pattern.search(text)
                    if not m:
                        continue
                    evidence.append(Evidence(kind, rule.id, m.group(0)[:120], rule.maker, rule.weight, rule.brand))
                    groups = m.groupdict()
                    if groups.get("model"):
                        facts.models.append((2, kind, rule.id, groups["model"][:256]))
                    if groups.get("firmware"):
                        facts.firmware.append((kind, groups["firmware"][:256]))
                    if groups.get("serial"):
                        facts.serials.append((kind, groups["serial"][:256]))

    def _name(self, kind: str, source: str, text: str, evidence: list[Evidence]) -> None:
        key = (kind, source, text)
        cached = self._name_cache.get(key)
        if cached is None:
            cached = self._name_evidence(kind, source, text)
            if len(self._name_cache) < CACHE_LIMIT:
                self._name_cache[key] = cached
        evidence.append(cached)

    def _name_evidence(self, kind: str, source: str, text: str) -> Evidence:
        hit = self.k.match_name(text)
        if hit is None:
            return Evidence(kind, "name:unrecognised", text, note=f"{source} names no maker we know")
        weight = self.w.name[("inventory" if kind == "inventory" else "device", hit.exact)]
        if hit.brand:
            brand = self.k.brands[hit.brand]
            if brand.relation != "own":
                weight = min(
                    weight, self.w.brand_confidence.get(brand.confidence, self.w.brand_confidence["suspected"])
                )
        rule = f"name:{hit.brand or hit.maker}"
        return Evidence(kind, rule, text, hit.maker, weight, hit.brand, "" if hit.exact else "near match")

    def _macs(self, facts: Facts, evidence: list[Evidence]) -> None:
        self._macs_of(facts.macs, evidence)

    def _macs_of(self, macs: list[tuple[str, str]], evidence: list[Evidence]) -> None:
        seen: set[str] = set()
        for kind, hx in macs:
            if len(hx) != 12 or hx in seen:
                continue
            seen.add(hx)
            key = (kind, self.k.oui.key(hx))
            cached = self._oui_cache.get(key)
            if cached is None:
                cached = self._mac_evidence(kind, hx)
                if len(self._oui_cache) < CACHE_LIMIT:
                    self._oui_cache[key] = cached
            evidence.append(cached)

    def _mac_evidence(self, kind: str, hx: str) -> Evidence:
        """Evidence from a MAC's prefix: the same for every MAC of the block (hence cached)."""
        if is_locally_administered(hx):
            return Evidence(
                kind, "oui:local", _pretty(hx[:6]), note="locally administered MAC: says nothing about the maker"
            )
        found = self.k.oui.lookup(hx)
        if found is None:
            return Evidence(kind, "oui:unregistered", _pretty(hx[:6]), note="prefix not in any registry")
        if found.curated is not None:
            entry = found.curated
            weight = self.w.oui.get((entry.relation, entry.confidence), 0.0) if entry.maker else 0.0
            note = f"{entry.registrant}" + (f" ({entry.relation})" if entry.relation != "own" else "")
            return Evidence(
                kind,
                f"oui:{entry.prefix}",
                _pretty(found.prefix),
                entry.maker,
                weight,
                self._brand_key(entry.brand),
                note,
            )
        maker = self.k.maker_of_registrant(found.registrant)
        weight = 0.0
        if maker:
            own = self.k.makers[maker].registrant_weight
            weight = own if own is not None else self.w.oui_registry
        return Evidence(kind, "oui:registry", _pretty(found.prefix), maker, weight, note=found.registrant)

    def _brand_key(self, name: str) -> str:
        if not name:
            return ""
        hit = self.k.match_name(name)
        return hit.brand if hit and hit.brand else ""

    def _decode(self, model: str) -> Decoded | None:
        return self.grammar.match(model)  # the grammar shares decodes itself; no per-model cache

    def _models(self, facts: Facts, evidence: list[Evidence]) -> tuple[str | None, Decoded | None]:
        """Evidence from every model string; returns the model to show and the best decode."""
        shown: str | None = None
        best: Decoded | None = None
        seen: set[str] = set()
        for _prio, kind, source, text in sorted(facts.models, key=lambda m: m[0]):
            norm = normalize_model(text)
            if not norm or norm in seen:
                continue
            seen.add(norm)
            decoded = self._decode(norm)
            if shown is None and source != "updateSerial":
                shown = norm
            if decoded is None:
                continue
            evidence.append(
                Evidence(kind, decoded.rule.id, norm, decoded.rule.maker, decoded.rule.weight, decoded.rule.brand)
            )
            if best is None:
                best = decoded
        if best is None:
            for kind, serial in facts.serials:
                decoded = match_serial(self.grammar, serial)
                if decoded is not None:
                    evidence.append(_serial_evidence(kind, serial, decoded, self.w.serial_model_prefix))
                    best = decoded
                    break
        return shown, best

    def _serial_layouts(self, facts: Facts, evidence: list[Evidence]) -> None:
        """Serial numbers whose layout a maker's numbering scheme gives (``serial`` rules), for
        serials the model grammar did not already read: one serial is one witness, not two.  Only
        serials a device reported: a spreadsheet's serial column keeps the inventory fast path
        (``identify_row``), which reads a serial through the model grammar alone."""
        if any(e.rule.startswith("serial:") for e in evidence):
            return
        for rule in self.k.signals_by_field.get("serial", ()):
            for kind, serial in facts.serials[:20]:
                if kind == "inventory":
                    continue
                if m := rule.pattern.search(serial):
                    evidence.append(Evidence(kind, rule.id, m.group(0)[:120], rule.maker, rule.weight, rule.brand))
                    break

    # -- combination ---------------------------------------------------------------------------

    def identify_facts(self, facts: Facts) -> Identification:
        evidence: list[Evidence] = []
        self._signals(facts, evidence)
        for kind, source, text in facts.makers:
            self._name(kind, source, text, evidence)
        for kind, text in facts.brands:
            self._name(kind, "brand", text, evidence)
        model, decoded = self._models(facts, evidence)
        if facts.serials:
            self._serial_layouts(facts, evidence)
        if facts.firmware:
            for rule in self.k.signals_by_field.get("firmware", ()):
                for kind, text in facts.firmware:
                    if m := rule.pattern.search(text):
                        evidence.append(Evidence(kind, rule.id, m.group(0)[:120], rule.maker, rule.weight, rule.brand))
        self._macs(facts, evidence)
        for kind, note in facts.notes:
            evidence.append(Evidence(kind, "note", "", note=note))
        return self._combine(evidence, model, decoded, facts.brands, facts.type_hints, facts.firmware, facts.notes)

    def _combine(
        self,
        evidence: list[Evidence],
        model: str | None,
        decoded: Decoded | None,
        brands: list[tuple[str, str]],
        type_hints: list[tuple[str, str]],
        firmwares: list[tuple[str, str]],
        notes: list[tuple[str, str]],
    ) -> Identification:
        strongest: dict[tuple[str, str], float] = {}
        for e in evidence:
            if e.maker and e.weight > 0:
                key = (e.maker, e.rule)
                strongest[key] = max(strongest.get(key, 0.0), e.weight)
        scores: dict[str, float] = {}
        for (maker, _rule), weight in strongest.items():
            scores[maker] = 1 - (1 - scores.get(maker, 0.0)) * (1 - weight)
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        vendor, confidence, conflicts = "unknown", 0.0, tuple[str, ...]()
        if ranked and ranked[0][1] >= self.w.min_score:
            vendor, top = ranked[0]
            second = ranked[1][1] if len(ranked) > 1 else 0.0
            confidence = round(top * (1 - second / 2), 2)
            conflicts = tuple(m for m, s in ranked[1:] if s >= self.w.min_score)
        brand, relation = self._label(brands, notes, evidence, vendor)
        device_type = decoded.device_type if decoded else None
        if not device_type or device_type == "unknown":
            device_type = next((t for _k, hint in type_hints if (t := _type_from_hint(hint))), None)
        firmware = next((fw for kind, fw in firmwares if kind != "inventory"), None) or next(
            (fw for _k, fw in firmwares), None
        )
        return Identification(
            vendor=vendor,
            brand=brand,
            relation=relation,
            model=model,
            firmware=firmware,
            device_type=device_type or "unknown",
            form_factor=decoded.form_factor if decoded else None,
            megapixels=decoded.megapixels if decoded else None,
            confidence=confidence,
            evidence=tuple(evidence),
            conflicts=conflicts,
        )

    def _label(
        self, brands: list[tuple[str, str]], notes: list[tuple[str, str]], evidence: list[Evidence], vendor: str
    ) -> tuple[str | None, str | None]:
        """The label on the box and its relation to the vendor.  What people wrote in the brand
        column comes first, then names the device reports, then what rules imply."""
        generic = any("generic OEM firmware" in note for _k, note in notes)
        for key, text in self._label_candidates(brands, evidence, vendor, generic):
            if not key:
                return text, "unknown"
            if key in self.k.brands:
                b = self.k.brands[key]
                if vendor == "unknown":
                    return b.name, None
                return b.name, b.relation if b.maker == vendor else "unknown"
            if key in self.k.makers:
                maker = self.k.makers[key]
                if vendor == "unknown":
                    return maker.name, None
                return maker.name, "own" if key == vendor else "unknown"
        if generic and vendor != "unknown":
            return None, "oem"  # the device's own firmware says it is sold under someone else's name
        return None, None

    def _label_candidates(
        self, brands: list[tuple[str, str]], evidence: list[Evidence], vendor: str, generic: bool
    ) -> Iterator[tuple[str, str]]:
        """(brand or maker key, or "" with the text as written), best first; lazily."""
        for _kind, text in brands:
            hit = self.k.match_name(text)
            yield ((hit.brand or hit.maker) if hit else "", text if not hit else "")
        for e in evidence:
            if e.rule == "name:unrecognised" and e.kind == "inventory":
                yield "", e.matched
            elif e.brand and e.rule.startswith("name:"):
                yield e.brand, ""
        for e in evidence:
            if e.brand and e.weight > 0 and not e.rule.startswith("name:"):
                yield e.brand, ""
        for e in evidence:
            if e.maker and not e.brand and e.rule.startswith("name:"):
                yield e.maker, ""
        if vendor != "unknown" and not generic:
            yield vendor, ""


def _serial_evidence(kind: str, serial: str, decoded: Decoded, weight: float) -> Evidence:
    return Evidence(
        kind,
        f"serial:{decoded.rule.id}",
        serial[:40],
        decoded.rule.maker,
        weight,
        note="serial number begins with the model",
    )


def _pretty(hx: str) -> str:
    return ":".join(hx[i : i + 2] for i in range(0, len(hx), 2)) if len(hx) % 2 == 0 else hx
