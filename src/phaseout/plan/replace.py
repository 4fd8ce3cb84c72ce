"""Like-for-like replacement: from a device's decoded spec to the cheapest approved catalogue
item that meets or beats it (pure).

What counts as meeting the spec:
- the same device type (a recorder for a recorder, a camera for a camera...);
- cameras: the same form factor (a dome where a dome was: the mount, the field of view and what
  people see stay the same); megapixels at least the old ones; outdoor and IR unless the device is
  known to lack them (an unknown is assumed needed: the plan must not under-specify a camera on a
  car-park wall); audio when the device is known to have it;
- recorders: at least as many channels as the old model has, and as the cameras recorded on it.
The cheapest is by unit price plus installation labour; equal ones go by SKU, so plans repeat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from phaseout.plan.catalogue import CatalogueItem


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    device_type: str
    form_factor: str | None = None
    megapixels: int | None = None
    channels: int | None = None
    cameras_recorded: int = 0
    outdoor: bool | None = None
    ir: bool | None = None
    audio: bool | None = None


@dataclass(frozen=True, slots=True)
class Match:
    item: CatalogueItem | None
    reason: str  # why this item, or why none


def _fits(spec: DeviceSpec, item: CatalogueItem) -> bool:
    if item.device_type != spec.device_type:
        return False
    if spec.device_type == "recorder":
        return item.channels >= max(spec.channels or 0, spec.cameras_recorded, 1)
    if spec.form_factor and item.form_factor and item.form_factor != spec.form_factor:
        return False
    if spec.megapixels and item.megapixels < spec.megapixels:
        return False
    if spec.device_type in ("camera", "thermal"):
        if spec.outdoor is not False and not item.outdoor:
            return False
        if spec.ir is not False and not item.ir:
            return False
    return not (spec.audio and not item.audio)


def _describe(spec: DeviceSpec) -> str:
    if spec.device_type == "recorder":
        need = max(spec.channels or 0, spec.cameras_recorded, 1)
        return f"recorder with at least {need} channels"
    parts = [spec.device_type]
    if spec.form_factor:
        parts.insert(0, spec.form_factor)
    if spec.megapixels:
        parts.insert(0, f"{spec.megapixels} MP")
    return " ".join(parts)


def best_match(spec: DeviceSpec, items: Sequence[CatalogueItem], labour_rate: float) -> Match:
    if spec.device_type in ("", "unknown", "other"):
        return Match(None, "device type unknown: cannot choose a like-for-like replacement")
    candidates = [item for item in items if _fits(spec, item)]
    if not candidates:
        return Match(None, f"no approved catalogue item meets a {_describe(spec)}")
    best = min(candidates, key=lambda i: (i.unit_price + i.install_hours * labour_rate, i.sku))
    notes = []
    if spec.device_type in ("camera", "thermal") and not spec.megapixels:
        notes.append("megapixels unknown: matched on type and form factor only")
    if spec.device_type in ("camera", "thermal") and not spec.form_factor:
        notes.append("form factor unknown: check the mount")
    reason = f"cheapest approved item meeting a {_describe(spec)}"
    return Match(best, reason + (f" ({'; '.join(notes)})" if notes else ""))


class Matcher:
    """Caches matches: an estate has few distinct specs and many devices."""

    def __init__(self, items: Sequence[CatalogueItem], labour_rate: float) -> None:
        self.items = list(items)
        self.labour_rate = labour_rate
        self._cache: dict[DeviceSpec, Match] = {}

    def __call__(self, spec: DeviceSpec) -> Match:
        found = self._cache.get(spec)
        if found is None:
            found = self._cache[spec] = best_match(spec, self.items, self.labour_rate)
        return found
