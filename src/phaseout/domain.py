"""Plain typed records shared by every layer.

These are the nouns of the pipeline (sources -> observations -> devices -> ...).  They hold
no behaviour that touches I/O, so the pure core (identify, assess, plan) can take and return
them, and the store maps them to tables.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Sensitivity(StrEnum):
    """How much a site matters if its cameras fail or leak (drives deadlines and risk)."""

    SENSITIVE = "sensitive"
    STANDARD = "standard"


class DeviceStatus(StrEnum):
    ACTIVE = "active"
    REPLACED = "replaced"
    RETIRED = "retired"


class DeviceType(StrEnum):
    """Coarse role of a device; identification may refine ``unknown`` later."""

    CAMERA = "camera"
    RECORDER = "recorder"
    BODY_WORN = "body-worn"
    INTERCOM = "intercom"
    ACCESS_CONTROL = "access-control"
    THERMAL = "thermal"
    OTHER = "other"
    UNKNOWN = "unknown"


#: Observations larger than this are truncated before storage (raw device answers can be
#: hostile: a "camera" may send a gigabyte).  The truncation is recorded on the row.
OBSERVATION_MAX_BYTES = 64 * 1024


@dataclass(slots=True)
class Site:
    code: str
    name: str = ""
    region: str = ""
    address: str = ""
    latitude: float | None = None
    longitude: float | None = None
    sensitivity: Sensitivity = Sensitivity.STANDARD
    next_maintenance: dt.date | None = None
    maintenance_cycle_months: int | None = None
    site_type: str = ""


@dataclass(slots=True)
class InventoryRecord:
    """One device as a spreadsheet row describes it, after normalisation.

    ``fields`` keeps every mapped value (including ones the store has no column for) so the
    observation stored for this row is the complete evidence.
    """

    row: int
    site: str | None = None
    ip: str | None = None
    mac: str | None = None
    hostname: str | None = None
    serial: str | None = None
    manufacturer: str | None = None
    brand: str | None = None
    model: str | None = None
    firmware: str | None = None
    description: str | None = None
    device_type: str | None = None
    parent: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    #: The observation fields, when the parser built them while reading (faster than rebuilding).
    fields: dict[str, Any] | None = None

    def observation_fields(self) -> dict[str, Any]:
        """The ``inventory`` observation body, in the shape ``phaseout identify`` reads."""
        if self.fields is not None:
            return self.fields
        out = {name: value for name in DEVICE_FIELDS if (value := getattr(self, name)) is not None}
        if self.extra:
            out.update(self.extra)
        return out


#: Columns of an inventory row that map onto device attributes, in display order.
DEVICE_FIELDS: tuple[str, ...] = (
    "site",
    "ip",
    "mac",
    "hostname",
    "serial",
    "manufacturer",
    "brand",
    "model",
    "firmware",
    "description",
    "device_type",
    "parent",
)

#: Columns of a sites sheet.
SITE_FIELDS: tuple[str, ...] = (
    "code",
    "name",
    "region",
    "address",
    "latitude",
    "longitude",
    "sensitivity",
    "next_maintenance",
    "maintenance_cycle_months",
    "site_type",
)
