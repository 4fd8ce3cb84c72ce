"""Plain typed records shared by every layer.

These are the nouns of the pipeline (sources -> observations -> devices -> ...).  They hold
no behaviour that touches I/O, so the pure core (identify, assess, plan) can take and return
them, and the store maps them to tables.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple, Protocol


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
    asset_id: str | None = None
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
    "asset_id",
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


class MatchKeys(NamedTuple):
    """What a record or a stored device can be matched on (all normalised; ``None`` = unknown).
    The rule that uses them is :mod:`phaseout.estate.match`.  A tuple, not a dataclass: one is
    made per imported row, a million per import."""

    mac: str | None = None
    serial: str | None = None
    asset_id: str | None = None
    site_id: int | None = None
    ip: str | None = None
    fingerprint: str | None = None

    @property
    def has_identity(self) -> bool:
        """Carries a key that names one device (MAC, serial, asset ID or address)."""
        return bool(self.mac or self.serial or self.asset_id or self.ip)


@dataclass(frozen=True, slots=True)
class MatchResult:
    """The known device a record is, and which key said so."""

    device_id: int
    by: str  # mac | serial | asset_id | address | fingerprint
    #: devices to fold into ``device_id``: a host first seen by a scan with no site that a later
    #: scan with ``--site`` shows to be one of the site's own devices.
    fold: tuple[int, ...] = ()


class Matcher(Protocol):
    """The matching rule as the store's writers see it (implemented by
    :class:`phaseout.estate.match.DeviceKeys`; the store never imports the rule itself)."""

    def find(self, keys: MatchKeys, *, bare_ip: bool = False) -> MatchResult | None: ...

    def add(self, device_id: int, keys: MatchKeys) -> None: ...

    def new_import(self) -> None: ...


class Identified(Protocol):
    """An identification as the store writes it (implemented by
    :class:`phaseout.identify.result.Identification`)."""

    vendor: str
    brand: str | None
    relation: str | None
    model: str | None
    device_type: str
    form_factor: str | None
    megapixels: int | None
    confidence: float

    @property
    def evidence(self) -> Any: ...


class Identifies(Protocol):
    """The identification engine as the store's writers see it (implemented by
    :class:`phaseout.identify.Identifier`)."""

    @property
    def version(self) -> str: ...

    def identify(self, observations: list[Any]) -> Any: ...

    def identify_inventory(self, fields: dict[str, Any]) -> Any: ...

    def identify_read(self, first: list[Any], facts: Any) -> Any: ...

    def identify_row(
        self, manufacturer: Any, brand: Any, model: Any, firmware: Any, mac: Any, serial: Any, device_type: Any
    ) -> Any: ...


@dataclass(slots=True)
class ScannedHost:
    """One host a scan probed, as the store records it.  ``state``: ``answered`` (something
    answered on ``ports_open``), ``silent`` (the probe finished, nothing answered) or
    ``incomplete`` (cut by its deadline: proves nothing about the ports it did not reach)."""

    ip: str
    state: str
    ports_open: list[int] = field(default_factory=list)
    observations: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    mac: str | None = None
    serial: str | None = None
    firmware: str | None = None
    #: cameras behind a recorder (discover.channels records) and the lists read whole
    channels: list[Any] = field(default_factory=list)
    channel_kinds: set[str] = field(default_factory=set)
    #: what the scan read from ``observations`` (identify.facts.Facts), so identifying the
    #: device it creates does not read them again; None when they were not read
    facts: Any = None


@dataclass(slots=True)
class ScanRun:
    """What one scan was asked to do and how it ended (the ``scans`` row)."""

    targets: list[str]
    ports: list[int]
    vantage: str | None
    site: str | None
    complete: bool  # False: interrupted (Ctrl-C) — the scan proves nothing about absent hosts
    probed: int  # hosts whose probe finished (answered, silent or cut by their deadline)
    planned: int  # hosts the scan meant to probe
    started: dt.datetime
    finished: dt.datetime
