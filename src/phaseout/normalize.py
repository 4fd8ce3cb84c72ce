"""Normalise the values estates teams type into spreadsheets: MACs, IPs, whitespace.

Pure functions, called once per cell on imports of a million rows, so they avoid regexes
where ``str`` methods do and return ``None`` for "no value" markers rather than raising.
Invalid values raise :class:`ValueError` with a message fit for a row-error report.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_MAC_SEPARATORS = dict.fromkeys(map(ord, ":-. \t_"))
_HEX = frozenset("0123456789abcdefABCDEF")
_MAC_CANONICAL = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4_CANONICAL = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")

#: Cell values that mean "nobody knows" and must not become data.
BLANK_MARKERS = frozenset(
    {"", "-", "--", "—", "n/a", "na", "n.a.", "none", "null", "nil", "unknown", "?", "tbc", "tbd", "#n/a"}
)


def clean_text(value: object) -> str | None:
    """Trim, collapse inner whitespace (incl. non-breaking spaces), drop invisible characters.

    Returns ``None`` for empty cells and for placeholders such as ``N/A`` or ``-``.
    Numbers that a spreadsheet stored as floats (``1234.0``) come back as ``"1234"``.
    """
    if value is None:
        return None
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        text = str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, str):
        text = value
    else:
        text = str(value)
    if not text.isascii():
        text = text.translate(_INVISIBLE)
    text = " ".join(text.split())
    if len(text) <= 7 and text.lower() in BLANK_MARKERS:
        return None
    return text


def normalize_mac(value: str) -> str:
    """Any common MAC notation -> ``AA:BB:CC:DD:EE:FF``.

    Accepts colons, hyphens, Cisco dots (``2857.be12.3456``), spaces, bare hex and a ``0x``
    prefix.  A 12-digit decimal number is what Excel makes of a bare-hex MAC with no letters;
    it is read back as hex digits.  Raises ``ValueError`` for anything else.
    """
    raw = value.strip()
    if _MAC_CANONICAL.fullmatch(raw):  # fast path: already colon-separated
        return raw.upper()
    digits = raw.translate(_MAC_SEPARATORS)
    if digits[:2] in ("0x", "0X"):
        digits = digits[2:]
    if len(digits) == 12 and _HEX.issuperset(digits):
        d = digits.upper()
        return f"{d[0:2]}:{d[2:4]}:{d[4:6]}:{d[6:8]}:{d[8:10]}:{d[10:12]}"
    if "e+" in raw.lower():
        raise ValueError(f"MAC {raw!r} was turned into a number by a spreadsheet; re-export it as text")
    raise ValueError(f"not a MAC address: {raw!r} (expected 12 hex digits, e.g. 28:57:BE:12:34:56)")


_IP_PORT = re.compile(r"^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$")


def normalize_ip(value: str) -> str:
    """IPv4/IPv6 in canonical form; tolerates leading zeros (``010.000.001.005``) and a ``:port``.

    Raises ``ValueError`` when the value is not an address.
    """
    raw = value.strip()
    if _IPV4_CANONICAL.fullmatch(raw):  # fast path: the common case on million-row imports
        return raw
    m = _IP_PORT.match(raw)
    if m:
        raw = m.group(1)
    if raw.count(".") == 3 and ":" not in raw:
        parts = raw.split(".")
        if all(p.isdigit() and len(p) <= 3 for p in parts):
            raw = ".".join(str(int(p)) for p in parts)
    try:
        return str(ipaddress.ip_address(raw.strip("[]")))
    except ValueError:
        raise ValueError(f"not an IP address: {value.strip()!r}") from None


_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})*\.?$")


def looks_like_hostname(value: str) -> bool:
    """True for DNS names such as ``cam-012.store12.example``; used when an "ip/host" column
    holds a name instead of an address."""
    return bool(_HOSTNAME.match(value)) and not value.replace(".", "").isdigit()


_SITE_PREFIXES = frozenset({"store", "site", "shop", "branch", "unit", "no", "nr", "number"})


def site_key(value: str) -> str:
    """A matching key for site references: ``Store 0123``, ``store #123`` and ``123`` agree.

    Lower-cases, turns punctuation into spaces, drops leading words such as "store" or "no",
    and strips leading zeros from a purely numeric remainder.  Names pass through squeezed,
    so ``Leeds  Hyper`` matches ``leeds hyper``.
    """
    words = "".join(ch if ch.isalnum() else " " for ch in value.lower()).split()
    while len(words) > 1 and words[0] in _SITE_PREFIXES:
        words = words[1:]
    if len(words) == 1 and words[0].isdigit():
        return words[0].lstrip("0") or "0"
    return " ".join(words)


@dataclass(frozen=True, slots=True)
class AddressSpan:
    """A scan target as a span of addresses: ``127.20.0.5``, ``127.20.0.0/24`` or
    ``127.20.0.1-50`` (the last octet only) / ``127.20.0.1-127.20.1.9``.  The one grammar of
    targets: the scanner expands it, verification and assessment ask whether it covers an
    address."""

    version: int
    first: int
    last: int
    network: bool  # written as a network: its network (and, for IPv4, broadcast) address is no host

    def covers(self, ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return addr.version == self.version and self.first <= int(addr) <= self.last

    def hosts(self) -> Iterator[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        """The addresses a scan of this target probes (a network's own addresses left out, as
        ``ipaddress`` does for hosts)."""
        first, last = self.first, self.last
        if self.network and last - first + 1 > 2:
            first += 1
            if self.version == 4:
                last -= 1
        for value in range(first, last + 1):
            yield ipaddress.ip_address(value)


def address_span(target: str) -> AddressSpan:
    """Parse a scan target; raises ``ValueError`` naming what is wrong."""
    text = target.strip()
    if "/" in text:
        net = ipaddress.ip_network(text, strict=False)
        return AddressSpan(net.version, int(net.network_address), int(net.broadcast_address), True)
    if "-" in text:
        first, last = (part.strip() for part in text.rsplit("-", 1))
        start = ipaddress.ip_address(first)
        end = (
            ipaddress.ip_address(last)
            if "." in last or ":" in last
            else ipaddress.ip_address(first.rsplit(".", 1)[0] + "." + last)
        )
        if end.version != start.version or int(end) < int(start):
            raise ValueError(f"{target!r}: the range ends before it starts")
        return AddressSpan(start.version, int(start), int(end), False)
    addr = ipaddress.ip_address(text)
    return AddressSpan(addr.version, int(addr), int(addr), False)


def mac_key(mac: str | None) -> str | None:
    """A normalised MAC (``AA:BB:CC:DD:EE:FF``) as a matching key, or ``None`` when it cannot
    name one device: all zeros (what a register writes for "unknown", what firmware reports
    before it has read its MAC) and group addresses, whose first octet has the I/G bit set
    (IEEE 802: broadcast ``FF:FF:FF:FF:FF:FF`` and multicast are never one interface's).  Such
    a MAC stays on the record as written; it only stops merging unrelated devices."""
    if not mac:
        return None
    try:
        first = int(mac[:2], 16)
    except ValueError:
        return mac
    if first & 1 or mac == "00:00:00:00:00:00":
        return None
    return mac
