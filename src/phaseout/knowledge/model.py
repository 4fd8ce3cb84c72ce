"""Typed records for the knowledge files (makers, brands, MAC prefixes, model grammars, banner
rules).  Loaded once, immutable, shared by every identification."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

RELATIONS = ("own", "sub-brand", "oem", "formerly-owned")
CONFIDENCES = ("confirmed", "reported", "suspected")
DEVICE_TYPES = ("camera", "recorder", "body-worn", "intercom", "access-control", "thermal", "other", "unknown")
SIGNAL_FIELDS = (
    "http.server",
    "http.body",
    "http.path",
    "auth",
    "rtsp.server",
    "rtsp.body",
    "tls.subject",
    "tls.issuer",
    "banner",
    "firmware",
    "sadp",
    "dhdiscover",
    "onvif",
    "url",
    "http.title",
    "favicon",
    "snmp.sysdescr",
    "snmp.oid",
    "serial",
)


@dataclass(frozen=True, slots=True)
class ListEntry:
    list: str
    date: str
    source: str


@dataclass(frozen=True, slots=True)
class Maker:
    key: str
    name: str
    country: str = ""
    legal_name: str = ""
    parent: str = ""
    state_ownership: str = ""
    registrant_weight: float | None = None  # weight of an IEEE registry block under this maker's name
    aliases: tuple[str, ...] = ()
    registrant: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    lists: tuple[ListEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class Brand:
    key: str
    name: str
    maker: str
    relation: str
    confidence: str
    aliases: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    since: str = ""
    until: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class OuiEntry:
    prefix: str  # upper-case hex, 6, 7 or 9 digits
    registrant: str
    maker: str  # "" = says nothing about the maker (namesake, unverified)
    brand: str
    relation: str  # own | formerly-owned | oem | namesake | unverified
    confidence: str
    registry: str
    note: str
    source: str


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    expect: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GrammarRule:
    """A model-number grammar: full match on the normalised model string."""

    id: str
    maker: str
    weight: float
    pattern: re.Pattern[str]
    source: str
    brand: str = ""
    device_type: str = ""
    device_type_map: tuple[str, dict[str, str]] | None = None
    form_factor: str = ""
    form_map: dict[str, str] = field(default_factory=dict)
    examples: tuple[Example, ...] = ()
    counter: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SignalRule:
    """A banner rule: a regular expression searched in one extracted field."""

    id: str
    field: str
    maker: str
    weight: float
    pattern: re.Pattern[str]
    source: str
    brand: str = ""
    examples: tuple[Example, ...] = ()
    counter: tuple[str, ...] = ()
