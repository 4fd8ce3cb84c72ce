"""Text that network teams paste: switch MAC address tables and ARP tables (Cisco, Aruba/HPE,
Juniper CLI output), ISC ``dhcpd.leases``, and plain scanner listings (arp-scan, "IP  MAC
vendor" lines).  The cheapest way to find cameras behind PoE switches without scanning.

Lines are read one at a time (``safe.iter_lines``: a 100 MB line is an error, not a memory
spike).  A table line is any line holding a MAC address; the IP, VLAN and port around it are
picked out by their shapes, so column order and spacing differences between vendors and
versions do not matter.  Broadcast, multicast and switch-own (CPU) entries are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from phaseout.ingest.formats.common import ip_or_none, mac_or_none
from phaseout.ingest.formats.record import RecordError, SourceRecord, clip
from phaseout.ingest.formats.registry import Format, Item
from phaseout.ingest.formats.safe import iter_lines

_MAC = re.compile(
    r"(?<![0-9A-Fa-f:.-])(?:[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}"
    r"|[0-9A-Fa-f]{6}-[0-9A-Fa-f]{6})(?![0-9A-Fa-f:.-])"
)
_IP = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")
_PORT = re.compile(
    r"^(?:(?:Gi|Fa|Te|Tw|Fo|Hu|Eth?|GigabitEthernet|FastEthernet|TenGigabitEthernet|Ethernet|Po|Port-channel)"
    r"[\d/.:]+|(?:ge|xe|et|mge)-\d+/\d+/\d+(?:\.\d+)?|\d+/\d+(?:/\d+)?|[A-Z]?\d{1,3}|Vlan\d+|irb\.\d+|vlan\.\d+)$",
    re.I,
)
_SKIP_PORTS = {"cpu", "router", "switch", "self"}


def _usable_mac(mac: str) -> bool:
    first = int(mac[:2], 16)
    return mac != "FF:FF:FF:FF:FF:FF" and not first & 1 and mac != "00:00:00:00:00:00"


_HEADER_PORT = re.compile(r"\b(ports?|interface|logical|destination)\b", re.I)
_HEADER_VLAN = re.compile(r"\b(vlan|vid)\b", re.I)


def header_columns(line: str) -> dict[str, int]:
    """Where the port and VLAN columns start, from a table's header line (fixed-width CLI
    output keeps every value under its label)."""
    if _MAC.search(line) or not re.search(r"\b(mac|hardware|address)\b", line, re.I):
        return {}
    out = {}
    if m := _HEADER_PORT.search(line):
        out["port"] = m.start()
    if m := _HEADER_VLAN.search(line):
        out["vlan"] = m.start()
    return out


def _token_at(line: str, column: int) -> str | None:
    for m in re.finditer(r"\S+", line):
        if m.start() - 3 <= column <= m.end():
            return m.group(0)
    return None


def table_line(
    fmt: str, file: str, number: int, line: str, columns: dict[str, int] | None = None
) -> SourceRecord | None:
    """One line of a MAC or ARP table: a record when it holds a usable unicast MAC."""
    match = _MAC.search(line)
    if not match or line.lstrip().startswith(("Interface:", "Starting ", "Ending ")):
        return None  # arp-scan's own interface line and banners are not devices
    mac = mac_or_none(match.group(0))
    if mac is None or not _usable_mac(mac):
        return None
    words = line.replace("\t", " ").split()
    if any(w.lower() in _SKIP_PORTS for w in words):
        return None
    rec = SourceRecord(fmt, file, f"line {number}", mac=mac)
    rec.observations.append({"kind": "mac", "value": mac})
    ip_match = _IP.search(line)
    if ip_match:
        rec.ip = ip_or_none(ip_match.group(1))
    rest = [w for w in words if w != match.group(0) and (not ip_match or w != ip_match.group(1))]
    ports = [w for w in rest if _PORT.match(w) and not w.isdigit()]
    vlans = [w for w in rest if w.isdigit() and 0 < int(w) < 4095]
    columns = columns or {}
    port = _token_at(line, columns["port"]) if "port" in columns else None
    vlan = _token_at(line, columns["vlan"]) if "vlan" in columns else None
    if port or ports:
        rec.extra["switch_port"] = port or ports[-1]
    if vlan or (fmt == "mac-table" and vlans):
        rec.extra["vlan"] = vlan or vlans[0]
    if fmt == "listing":
        text = " ".join(w for w in rest if not _PORT.match(w))
        if vendor := clip(text):
            rec.extra["vendor_text"] = vendor
            rec.manufacturer = vendor  # what the scanner printed for the MAC's maker
    return rec


def _reader(fmt: str) -> object:
    def read(path: Path) -> Iterator[Item]:
        seen: set[str] = set()
        columns: dict[str, int] = {}
        for number, line in iter_lines(path):
            if found := header_columns(line):
                columns = found
                continue
            rec = table_line(fmt, path.name, number, line, columns)
            if rec is None:
                continue
            key = f"{rec.mac}|{rec.ip}"
            if key in seen:
                continue  # the same MAC on several VLAN lines or learnt twice: one device
            seen.add(key)
            yield rec

    return read


# ---------------------------------------------------------------- ISC dhcpd.leases

_LEASE_START = re.compile(r"^\s*lease\s+(\d{1,3}(?:\.\d{1,3}){3})\s*\{")
_HOST_START = re.compile(r"^\s*host\s+(\S+)\s*\{")
MAX_LEASE_LINES = 500


def read_isc_leases(path: Path) -> Iterator[Item]:
    """``lease IP { ... }`` blocks; the newest block for an address wins (the file is a log)."""
    leases: dict[str, SourceRecord] = {}
    current: SourceRecord | None = None
    lines_in_block = 0
    for number, line in iter_lines(path):
        text = line.strip()
        if current is None:
            if m := _LEASE_START.match(line):
                current = SourceRecord("dhcpd-leases", path.name, f"line {number}", ip=ip_or_none(m.group(1)))
                lines_in_block = 0
            elif m := _HOST_START.match(line):
                current = SourceRecord("dhcpd-leases", path.name, f"line {number}", hostname=clip(m.group(1)))
                lines_in_block = 0
            continue
        lines_in_block += 1
        if lines_in_block > MAX_LEASE_LINES:
            yield RecordError(current.position, f"block longer than {MAX_LEASE_LINES} lines; truncated file?")
            current = None
            continue
        if text.startswith("}"):
            if current.mac or current.ip:
                leases[current.ip or current.hostname or current.position] = current
            current = None
            continue
        if m := re.match(r"hardware ethernet\s+([0-9A-Fa-f:]+);", text):
            current.mac = mac_or_none(m.group(1))
            if current.mac:
                current.observations = [{"kind": "mac", "value": current.mac}]
        elif m := re.match(r'client-hostname\s+"([^"]*)";', text):
            current.hostname = clip(m.group(1))
        elif m := re.match(r"fixed-address\s+([\d.]+);", text):
            current.ip = ip_or_none(m.group(1))
        elif m := re.match(r'set vendor-class-identifier\s*=\s*"([^"]*)";', text):
            current.extra["dhcp_vendor_class"] = clip(m.group(1)) or ""
            current.observations.append({"kind": "banner", "raw": f"DHCP vendor class: {m.group(1)[:256]}"})
        elif m := re.match(r"binding state\s+(\w+);", text):
            current.extra["binding_state"] = m.group(1)
        elif m := re.match(r"ends\s+\d\s+([\d/]+ [\d:]+);", text):
            current.extra["lease_ends"] = m.group(1)
    if current is not None:
        yield RecordError(current.position, "lease block not closed: truncated file?")
    yield from leases.values()


# ---------------------------------------------------------------- sniffing


def _sniff_mac_table(head: str, name: str) -> float:
    low = head.lower()
    if "mac address table" in low or "ethernet switching table" in low or "ethernet-switching table" in low:
        return 0.9
    if re.search(r"^\s*(?:vlan|vid)\s+mac\s+address\s+type\b", head, re.I | re.M):
        return 0.9
    if re.search(r"^\s*mac address\s+(?:vlan|port)", head, re.I | re.M) and not _IP.search(head):
        return 0.85
    return 0.0


def _sniff_arp(head: str, name: str) -> float:
    if re.search(r"^\s*protocol\s+address\s+age\s*\(min\)\s+hardware addr", head, re.I | re.M):
        return 0.95  # Cisco show ip arp
    if re.search(r"^\s*mac address\s+address\s+(?:name\s+)?interface", head, re.I | re.M):
        return 0.95  # Juniper show arp
    if re.search(r"^\s*ip(?:v4)? address\s+mac address\s+(?:type\s+)?port", head, re.I | re.M):
        return 0.9  # HPE/Aruba show arp
    if re.search(r"^\s*protocol\s+ip address\s+hardware address", head, re.I | re.M):
        return 0.9  # ArubaOS show arp
    if re.search(r"^\s*address\s+hwtype\s+hwaddress", head, re.I | re.M):
        return 0.9  # Linux arp -n
    return 0.0


def _sniff_listing(head: str, name: str) -> float:
    lines = [ln for ln in head.splitlines()[:60] if ln.strip()]
    if not lines or head.lstrip().startswith(("{", "[", "<")):
        return 0.0
    hits = sum(1 for ln in lines if _MAC.search(ln) and _IP.search(ln))
    if "arp-scan" in head.lower() and hits:
        return 0.9
    return 0.7 * hits / len(lines) if hits >= 2 else 0.0


def _sniff_leases(head: str, name: str) -> float:
    if _LEASE_START.search(head) or ("dhcpd.leases" in head and "lease" in head):
        return 0.95
    return 0.0


FORMATS: tuple[Format, ...] = (
    Format(
        "mac-table",
        "switch MAC address table (show mac address-table, show ethernet-switching table, show mac-address)",
        (".txt", ".log"),
        _sniff_mac_table,
        _reader("mac-table"),  # type: ignore[arg-type]
        "ssh switch 'show mac address-table' > mac-table.txt; phaseout import mac-table.txt --site 12",
    ),
    Format(
        "arp-table",
        "ARP table (Cisco show ip arp, Juniper/HPE/Aruba show arp, arp -n)",
        (".txt", ".log"),
        _sniff_arp,
        _reader("arp-table"),  # type: ignore[arg-type]
        "ssh router 'show ip arp' > arp.txt; phaseout import arp.txt --site 12",
    ),
    Format(
        "dhcpd-leases",
        "ISC dhcpd.leases",
        (".leases",),
        _sniff_leases,
        read_isc_leases,
        "phaseout import /var/lib/dhcp/dhcpd.leases --site 12",
    ),
    Format(
        "listing",
        "plain scanner listing: lines with IP, MAC and vendor text (arp-scan, pasted lists)",
        (".txt",),
        _sniff_listing,
        _reader("listing"),  # type: ignore[arg-type]
        "arp-scan --localnet > lan.txt; phaseout import lan.txt --site 12",
    ),
)
