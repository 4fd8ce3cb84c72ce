"""The one record every reader yields: a device as another tool's file describes it.

Readers differ in what they parse; they agree on this shape, so the store writes nmap hosts,
VMS camera rows and DHCP leases the same way, and identification sees each record's
observations exactly as it sees the scanner's own answers (the shapes of ``phaseout
identify``).  Plain data, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Inventory fields a record may carry, in the order an ``inventory`` observation lists them.
INVENTORY_FIELDS = ("manufacturer", "brand", "model", "firmware", "serial", "description", "device_type")
#: Longest value kept for any single field (a 10 kB "model" is junk, and the caps keep memory flat).
MAX_FIELD_CHARS = 512


def clip(value: Any, limit: int = MAX_FIELD_CHARS) -> str | None:
    """A field value as one trimmed line of at most ``limit`` characters, or None when empty."""
    if value is None:
        return None
    text = " ".join(str(value).split())
    if not text or text.lower() in ("-", "n/a", "none", "null", "unknown", "(null)"):
        return None
    return text[:limit]


@dataclass(slots=True)
class SourceRecord:
    """One device (host, camera row, lease, table entry) read from another tool's file.

    ``position`` says where in the file it came from (``host 12``, ``line 40``, ``row 7``) so
    a user can find it; ``observations`` are in the shapes of the identify interface
    (``http``, ``rtsp``, ``tls``, ``banner``, ``mac``...); the inventory fields become one
    ``inventory`` observation of their own when the record is stored."""

    format: str
    file: str
    position: str
    site: str | None = None
    ip: str | None = None
    mac: str | None = None
    serial: str | None = None
    asset_id: str | None = None
    hostname: str | None = None
    manufacturer: str | None = None
    brand: str | None = None
    model: str | None = None
    firmware: str | None = None
    description: str | None = None
    device_type: str | None = None
    parent: str | None = None  # the recorder (NVR/VMS server) or switch the device hangs off
    observations: list[dict[str, Any]] = field(default_factory=list)
    cves: list[str] = field(default_factory=list)  # CVEs the source tool reported for this device
    extra: dict[str, str] = field(default_factory=dict)  # other values worth keeping as evidence

    @property
    def provenance(self) -> str:
        """``FORMAT:FILE#POSITION``: where this record's evidence came from."""
        return f"{self.format}:{self.file}#{self.position}"

    def inventory_fields(self) -> dict[str, Any]:
        """The ``inventory`` observation's fields: what the file says the device is."""
        out: dict[str, Any] = {}
        for name in INVENTORY_FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.mac:
            out["mac"] = self.mac
        if self.asset_id:
            out["asset_id"] = self.asset_id
        if self.parent:
            out["parent"] = self.parent
        if self.cves:
            out["cves"] = " ".join(self.cves[:200])
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out

    def has_identity(self) -> bool:
        """True when the record says anything that can tell one device from another."""
        return bool(
            self.ip or self.mac or self.serial or self.asset_id or self.hostname or self.model or self.manufacturer
        )

    def all_observations(self) -> list[dict[str, Any]]:
        """Everything identification should see: the inventory view, then each answer."""
        inv = self.inventory_fields()
        head: list[dict[str, Any]] = [{"kind": "inventory", "fields": inv}] if inv else []
        return head + self.observations


@dataclass(frozen=True, slots=True)
class RecordError:
    """A record a reader could not read: where, and why.  The import lists them all."""

    position: str
    reason: str

    def __str__(self) -> str:
        return f"{self.position}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ModelFact:
    """Model knowledge (NetBox device-type library): what a model is, not a device that exists."""

    manufacturer: str
    model: str
    part_number: str | None
    slug: str | None
    device_type: str | None
    source: str
