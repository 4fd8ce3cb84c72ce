"""The output records of identification."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Evidence:
    """One thing that points at (or away from) a maker.  ``rule`` names the knowledge entry that
    fired; ``weight`` is how much it counts (0 = recorded, counts for nothing).  Treated as
    immutable, but not frozen: frozen dataclasses are several times slower to create."""

    kind: str  # which observation kind it came from: inventory, mac, http, rtsp, onvif, ...
    rule: str
    matched: str
    maker: str = ""
    weight: float = 0.0
    brand: str = ""
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "rule": self.rule, "matched": self.matched}
        if self.maker:
            out["maker"] = self.maker
            out["weight"] = round(self.weight, 2)
        if self.brand:
            out["brand"] = self.brand
        if self.note:
            out["note"] = self.note
        return out


@dataclass(slots=True)
class Identification:
    """The answer for one device; shared between devices with the same inputs, so never modify one."""

    vendor: str  # maker of hardware and firmware, or "unknown"
    brand: str | None  # label on the box
    relation: str | None  # own | sub-brand | oem | formerly-owned | unknown
    model: str | None
    firmware: str | None
    device_type: str
    form_factor: str | None
    megapixels: int | None
    confidence: float
    evidence: tuple[Evidence, ...] = ()
    conflicts: tuple[str, ...] = field(default=())  # other makers that some evidence pointed at

    def as_dict(self, record_id: Any = ..., *, with_evidence: bool = True) -> dict[str, Any]:
        """The brief's output object; ``record_id`` (any JSON value, ``None`` included) is echoed
        as ``id`` when given."""
        out: dict[str, Any] = {"id": record_id} if record_id is not ... else {}
        out |= {
            "vendor": self.vendor,
            "brand": self.brand,
            "relation": self.relation,
            "model": self.model,
            "firmware": self.firmware,
            "device_type": self.device_type,
            "form_factor": self.form_factor,
            "megapixels": self.megapixels,
            "confidence": self.confidence,
        }
        if with_evidence:
            out["evidence"] = [e.as_dict() for e in self.evidence]
        if self.conflicts:
            out["conflicts"] = list(self.conflicts)
        return out
