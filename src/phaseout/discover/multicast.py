"""Discovery protocols on one named interface: ONVIF WS-Discovery, Hikvision SADP and Dahua
DHDiscover (facts: ../shared/research/identify/signals.md section 2).

One probe per protocol goes to the protocol's multicast group on the interface the user names,
with a multicast TTL of 1 (it never leaves the link); devices answer by unicast.  Only answers
from addresses inside the declared scope are kept; the others are counted and dropped, and are
never probed.  Answers are capped in size and number and collected for a fixed time.

The payloads are written for phaseout from the protocols' published shapes: an XML ``Probe`` for
SADP, a 32-byte header with the ``DHIP`` magic then a JSON ``DHDiscover.search`` for Dahua, a
SOAP ``Probe`` for WS-Discovery.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import ipaddress
import json
import socket
import struct
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from phaseout.errors import UsageError

GROUPS = {
    "wsd": ("239.255.255.250", 3702),
    "sadp": ("239.255.255.250", 37020),
    "dhdiscover": ("239.255.255.251", 37810),
}
KIND = {"wsd": "onvif", "sadp": "sadp", "dhdiscover": "dhdiscover"}  # observation kinds `identify` reads
MAX_REPLY = 64 * 1024
MAX_REPLIES = 20_000
SIOCGIFADDR = 0x8915
DHIP_MAGIC = b"DHIP"


def interface_address(name: str) -> str:
    """The IPv4 address of a network interface, or a usage error naming it."""
    try:
        socket.if_nametoindex(name)
    except OSError:
        raise UsageError(f"no network interface {name!r}", hint="list them with `ip -br addr`") from None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            packed = fcntl.ioctl(s.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
        except OSError:
            raise UsageError(f"interface {name!r} has no IPv4 address", hint="give it one, or name another") from None
    return socket.inet_ntoa(packed[20:24])


def probe_payload(protocol: str) -> bytes:
    if protocol == "sadp":
        return (
            f'<?xml version="1.0" encoding="utf-8"?><Probe><Uuid>{str(uuid.uuid4()).upper()}</Uuid>'
            "<Types>inquiry</Types></Probe>"
        ).encode()
    if protocol == "dhdiscover":
        body = json.dumps({"method": "DHDiscover.search", "params": {"mac": "", "uni": 1}}).encode()
        header = struct.pack("<I4sIIII8s", 0x20, DHIP_MAGIC, 0, 0, len(body), 0, b"\0" * 8)
        return header + body
    if protocol == "wsd":
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" '
            'xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
            'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
            'xmlns:dn="http://www.onvif.org/ver10/network/wsdl">'
            f"<e:Header><w:MessageID>uuid:{uuid.uuid4()}</w:MessageID>"
            "<w:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</w:To>"
            "<w:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</w:Action></e:Header>"
            "<e:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></e:Body></e:Envelope>"
        ).encode()
    raise UsageError(f"unknown discovery protocol {protocol!r}", hint=f"one of {', '.join(GROUPS)}")


def reply_text(protocol: str, data: bytes) -> str:
    """The text of an answer: DHDiscover's JSON after its binary header, the others as sent."""
    if protocol == "dhdiscover":
        start = data.find(b"{")
        data = data[start:] if start >= 0 else b""
    return data[:MAX_REPLY].decode("utf-8", errors="replace")


@dataclass(slots=True)
class Discovery:
    """What answered: per address, its observations; and what was dropped."""

    found: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    outside_scope: int = 0
    errors: list[str] = field(default_factory=list)


async def discover(
    interface: str,
    scope: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network],
    protocols: Sequence[str] = tuple(GROUPS),
    listen: float = 3.0,
) -> Discovery:
    """Probe once per protocol on ``interface`` and collect in-scope answers for ``listen`` s."""
    local = interface_address(interface)
    loop = asyncio.get_running_loop()
    result = Discovery()
    socks: list[tuple[str, socket.socket]] = []
    try:
        for protocol in protocols:
            group, port = GROUPS[protocol]
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
            s.setblocking(False)
            with contextlib.suppress(OSError):  # needs CAP_NET_RAW; the multicast interface below suffices
                s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
            s.bind((local, 0))
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(local))
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
            socks.append((protocol, s))
            try:
                await loop.sock_sendto(s, probe_payload(protocol), (group, port))
            except OSError as exc:
                result.errors.append(f"{protocol}: cannot send on {interface}: {exc.strerror}")
        deadline = time.monotonic() + listen
        count = 0

        async def collect(protocol: str, s: socket.socket) -> None:
            nonlocal count
            while count < MAX_REPLIES:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                try:
                    data, (addr, _port) = await asyncio.wait_for(loop.sock_recvfrom(s, MAX_REPLY), timeout=left)
                except TimeoutError:
                    return
                except OSError as exc:
                    result.errors.append(f"{protocol}: {exc.strerror}")
                    return
                count += 1
                ip = ipaddress.ip_address(addr)
                if not any(ip in net for net in scope):
                    result.outside_scope += 1
                    continue
                text = reply_text(protocol, data)
                if text:
                    result.found.setdefault(addr, []).append({"kind": KIND[protocol], "via": protocol, "raw": text})

        await asyncio.gather(*(collect(p, s) for p, s in socks))
    finally:
        for _, s in socks:
            s.close()
    return result
