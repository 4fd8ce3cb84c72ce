"""Emulated devices: profiles (data files in ``profiles/``) served on loopback addresses.

Each device gets its own 127.x.y.z address and listens on its profile's real ports (80, 554,
8000, 37777...): HTTP answers with the profile's headers, login page and information endpoints
(digest-protected ones answer 401 with the realm, as real firmware does), RTSP answers OPTIONS
and DESCRIBE, 443 (when the profile names a certificate subject) answers HTTP over TLS with a
self-signed certificate of that subject, other ports accept and stay silent.  Each profile names
the published captures it was rebuilt from (``sources``): field order, header order, realms,
error and 401 bodies are theirs, quirks included.  Recorders serve their channel lists
(:mod:`phaseout.emulate.recorder`) behind digest auth.  Hostile behaviours test the scanner's caps
and deadlines: ``silent`` never answers, ``drip`` sends an endless body a byte at a time, ``bomb``
answers every request with an XML entity-expansion bomb, ``reset`` aborts the connection as soon
as a request arrives, ``garbage`` sends malformed headers, NUL bytes and markup.  Only loopback addresses are accepted.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.utils
import ipaddress
import random
import re
import socket
import struct
import time
import tomllib
import uuid
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any
from xml.sax.saxutils import escape

from phaseout.discover.digest import Credentials, check_authorization
from phaseout.emulate import recorder
from phaseout.emulate.tls import server_context
from phaseout.errors import UsageError

MAX_REQUEST = 16 * 1024
BEHAVIOURS = ("", "silent", "drip", "bomb", "reset", "garbage")


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    maker: str
    model: str
    firmware: str
    build: str
    mac_prefix: str
    ports: tuple[int, ...]
    http: dict[str, Any] = field(default_factory=dict)
    rtsp: dict[str, Any] = field(default_factory=dict)
    onvif: dict[str, Any] = field(default_factory=dict)
    tls: dict[str, Any] = field(default_factory=dict)  # subject of the certificate served on 443
    behaviour: str = ""
    #: discovery answers: ``sadp`` / ``dhdiscover`` templates, ``wsd = true`` for a ProbeMatch
    discovery: dict[str, Any] = field(default_factory=dict)
    #: the published captures the profile was rebuilt from (repo+path+commit or URL)
    sources: tuple[str, ...] = ()
    #: a recorder's channels: ``family`` (hikvision | dahua), ``ip`` entries, counts, quirk
    channels: dict[str, Any] = field(default_factory=dict)


@cache
def load_profiles() -> dict[str, Profile]:
    out = {}
    for item in resources.files("phaseout.emulate").joinpath("profiles").iterdir():
        if item.name.endswith(".toml"):
            data = tomllib.loads(item.read_text("utf-8"))
            if data.get("behaviour", "") not in BEHAVIOURS:
                raise ValueError(f"profile {item.name}: unknown behaviour {data['behaviour']!r}; one of {BEHAVIOURS}")
            if data.get("channels", {}).get("quirk", "") not in recorder.QUIRKS:
                raise ValueError(f"profile {item.name}: unknown channel quirk; one of {recorder.QUIRKS}")
            out[data["name"]] = Profile(
                name=data["name"],
                maker=data["maker"],
                model=data["model"],
                firmware=data["firmware"],
                build=data["build"],
                mac_prefix=data["mac_prefix"],
                ports=tuple(data["ports"]),
                http=data.get("http", {}),
                rtsp=data.get("rtsp", {}),
                onvif=data.get("onvif", {}),
                tls=data.get("tls", {}),
                behaviour=data.get("behaviour", ""),
                discovery=data.get("discovery", {}),
                sources=tuple(data.get("sources", ())),
                channels=data.get("channels", {}),
            )
    return out


def _bomb_answer(device: Device) -> bytes:
    """A classic entity-expansion bomb: ten levels of ten references, a few GB if expanded."""
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{"".join(f"&lol{i - 1};" for _ in range(10))}">' for i in range(1, 10)
    ]
    body = (
        '<?xml version="1.0"?>\n<!DOCTYPE DeviceInfo [\n' + "\n".join(levels) + "\n]>\n"
        "<DeviceInfo><deviceName>&lol9;</deviceName><model>&lol9;</model></DeviceInfo>\n"
    ).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def _garbage_answer(device: Device) -> bytes:
    """Broken framing: no reason phrase, header lines without colons, NULs, a lying length."""
    return (
        b"HTTP/1.1 200\r\nServer\x00: \xff\xfe<script>alert(1)</script>\r\nno colon here\r\n"
        b"Content-Length: -5\r\nContent-Length: 999999999\r\n\r\n"
        b"<html><title>"
        + device.profile.model.encode()
        + b"\x00\x01</title><model>"
        + device.profile.model.encode()
        + b"</model>"
    )


_HOSTILE_ANSWERS = {"bomb": _bomb_answer, "garbage": _garbage_answer}


@dataclass(slots=True)
class Device:
    profile: Profile
    ip: str
    serial: str
    mac: str
    #: a recorder's channels (plain dicts a test may change between scans)
    channels: list[dict[str, Any]] = field(default_factory=list)

    def fill(self, template: str) -> str:
        return template.format(
            model=self.profile.model,
            firmware=self.profile.firmware,
            build=self.profile.build,
            serial=self.serial,
            serial_tail=self.serial[-4:],
            mac=self.mac,
            mac_lower=self.mac.lower(),
            name=f"{self.profile.name} {self.ip}",
            ip=self.ip,
            mac_dashes=self.mac.replace(":", "-").lower(),
            serial9=self.serial[:9],
            mac_hex=self.mac.replace(":", "").upper(),
            mac_hex_lower=self.mac.replace(":", "").lower(),
            serial_tail5=self.serial[4:9],
            device_id=str(uuid.uuid5(uuid.NAMESPACE_OID, self.ip + self.serial)),
            message_id=str(uuid.uuid4()),
            channel_count=sum(1 for c in self.channels if not c.get("analog")),
            analog_count=sum(1 for c in self.channels if c.get("analog")),
        )


def in_private_namespace() -> bool:
    """True inside a named network namespace (``ip netns exec NAME``): there an emulated device
    may take any address, as nothing it does can reach a real network.  Found by comparing this
    process's namespace with those ``ip netns`` registered under /run/netns."""
    import os

    try:
        mine = os.stat("/proc/self/ns/net").st_ino
        folder = "/run/netns"
        return any(os.stat(os.path.join(folder, name)).st_ino == mine for name in os.listdir(folder))
    except OSError:
        return False


def plan_devices(
    profiles: list[str], count: int, base: str, seed: int = 1, channels: int | None = None
) -> list[Device]:
    """``count`` devices cycling through ``profiles`` on consecutive loopback addresses;
    ``channels`` sets how many IP channels each recorder serves (default: its profile's)."""
    known = load_profiles()
    unknown = [p for p in profiles if p not in known]
    if unknown:
        raise UsageError(f"unknown profile(s): {', '.join(unknown)}", hint=f"profiles: {', '.join(sorted(known))}")
    start = ipaddress.ip_address(base)
    rng = random.Random(seed)
    devices = []
    for i in range(count):
        ip = start + i
        if not ip.is_loopback and not in_private_namespace():
            raise UsageError(
                f"{ip} is not a loopback address",
                hint="emulated devices live in 127.0.0.0/8, or in a network namespace of their own (ip netns)",
            )
        profile = known[profiles[i % len(profiles)]]
        serial = "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(12))
        mac = profile.mac_prefix + "".join(f":{rng.randrange(256):02X}" for _ in range(3))
        device = Device(profile, str(ip), serial, mac)
        device.channels = recorder.plan_channels(profile.channels, str(ip), serial, channels)
        devices.append(device)
    return devices


_CONTENT_LENGTH = re.compile(rb"^content-length:\s*(\d{1,6})\s*$", re.IGNORECASE | re.MULTILINE)


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    """Head and (for a POST) the body its Content-Length announces, within MAX_REQUEST."""
    data = b""
    while b"\r\n\r\n" not in data and len(data) < MAX_REQUEST:
        chunk = await asyncio.wait_for(reader.read(4096), timeout=10)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    m = _CONTENT_LENGTH.search(head)
    want = min(int(m.group(1)), MAX_REQUEST) if m else 0
    while len(body) < want:
        chunk = await asyncio.wait_for(reader.read(4096), timeout=10)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


_SOAP_OPEN = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:ter="http://www.onvif.org/ver10/error"><env:Body>'
)
_SOAP_CLOSE = "</env:Body></env:Envelope>\n"


def _onvif_answer(device: Device, request: bytes, base: dict[str, str]) -> bytes:
    """The ONVIF device service: ``GetDeviceInformation`` answered, or refused with the
    standard NotAuthorized fault when the profile wants WS-Security (as newer firmware does)."""
    onvif = device.profile.onvif
    soap = base | {"Content-Type": "application/soap+xml; charset=utf-8"}
    if b"GetDeviceInformation" not in request:
        fault = "ter:ActionNotSupported"
    elif onvif.get("auth", False):
        fault = "ter:NotAuthorized"
    elif onvif.get("device_information"):  # the profile's captured answer, filled
        return _response("200 OK", soap, device.fill(onvif["device_information"]))
    else:
        info = (
            f"<tds:GetDeviceInformationResponse><tds:Manufacturer>{escape(onvif.get('manufacturer', ''))}"
            f"</tds:Manufacturer><tds:Model>{escape(device.profile.model)}</tds:Model>"
            f"<tds:FirmwareVersion>{escape(f'{device.profile.firmware} {device.profile.build}'.strip())}"
            "</tds:FirmwareVersion>"
            f"<tds:SerialNumber>{escape(device.fill(onvif.get('serial', '{serial}')))}</tds:SerialNumber>"
            f"<tds:HardwareId>{escape(onvif.get('hardware_id', '1.0'))}</tds:HardwareId>"
            "</tds:GetDeviceInformationResponse>"
        )
        return _response("200 OK", soap, _SOAP_OPEN + info + _SOAP_CLOSE)
    body = (
        f"<env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>{fault}</env:Value>"
        '</env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">Sender not authorized</env:Text>'
        "</env:Reason></env:Fault>"
    )
    return _response("400 Bad Request", soap, _SOAP_OPEN + body + _SOAP_CLOSE)


def _response(status: str, headers: dict[str, str], body: str = "", proto: str = "HTTP/1.1") -> bytes:
    payload = body.encode("utf-8")
    lines = [f"{proto} {status}"] + [f"{k}: {v}" for k, v in headers.items() if v]
    if proto.startswith("HTTP"):
        lines.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


_AUTHORIZATION = re.compile(r"^authorization:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)


def _authorized(device: Device, request: bytes) -> bool:
    """A digest answer for the profile's account (``http.username`` / ``http.password``)."""
    m = _AUTHORIZATION.search(request.decode("latin-1"))
    http = device.profile.http
    creds = Credentials(http.get("username", "admin"), http.get("password", "emulated-only"))
    return m is not None and check_authorization(m.group(1), creds, "GET")


def _nonce(style: str) -> str:
    """A fresh nonce in the firmware's style: Hikvision's is the hex of base64("<hex>:<hex>"), two
    32-bit numbers printed without zero padding (the nonce of a whole recorded 401, MissiaL/
    hikvision-client cassette test_auth_firmware_v5_5, decodes to "1e130819:d95c495": the second
    number has 7 digits), others 32 hex digits."""
    if style == "hikvision":
        inner = f"{random.getrandbits(32):x}:{random.getrandbits(32):x}"
        return base64.b64encode(inner.encode()).hex()
    if style == "HEX":  # upper-case hex, as Hanwha's RTSP sends it
        return f"{random.getrandbits(128):032X}"
    if style == "axis":  # "0000" + 4 hex + "Y" + 10 digits + 28 hex, as the Axis transcript shows
        return f"0000{random.getrandbits(16):04x}Y{random.randrange(10**9, 10**10)}{random.getrandbits(112):028x}"
    if style == "hex-colon-ms":  # "<32 hex>:<epoch milliseconds>", as older recorders send
        return f"{random.getrandbits(128):032x}:{random.randrange(1_500_000_000_000, 1_800_000_000_000)}"
    return f"{random.getrandbits(128):032x}"


def _unauthorized(device: Device, base: dict[str, str]) -> bytes:
    """The profile's 401: its header lines in its order (``http.headers_401``, values filled with
    realm, nonce, date and body length) and its body (``http.body_401``)."""
    http = device.profile.http
    realm = device.fill(http.get("realm", "device"))
    nonce = _nonce(http.get("nonce_style", ""))
    body = str(http.get("body_401", ""))
    lines = http.get("headers_401")
    if not lines:
        challenge = f'Digest qop="auth", realm="{realm}", nonce="{nonce}", stale="FALSE"'
        return _response("401 Unauthorized", base | {"WWW-Authenticate": challenge}, body)
    values = {
        "realm": realm,
        "nonce": nonce,
        "date": email.utils.formatdate(usegmt=True),
        "length": str(len(body.encode())),
    }
    head = ["HTTP/1.1 401 Unauthorized"] + [f"{k}: {v.format(**values)}".rstrip() for k, v in lines]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body.encode()


_HIK_NOT_SUPPORTED = (
    '<?xml version="1.0" encoding="UTF-8" ?>\n<ResponseStatus version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema">\n'
    "<requestURL>{path}</requestURL>\n<statusCode>4</statusCode>\n<statusString>Invalid Operation</statusString>\n"
    "<subStatusCode>notSupport</subStatusCode>\n</ResponseStatus>\n"
)


def _channel_answer(device: Device, path: str) -> tuple[str, str] | None:
    """(status, body) for a recorder's channel-list paths; None for any other path."""
    spec = device.profile.channels
    family = spec.get("family", "")
    own = {"address": device.ip, "serial": f"{device.profile.model}{device.serial}"}
    if family == "hikvision":
        if path == "/ISAPI/ContentMgmt/InputProxy/channels":
            return "200 OK", recorder.hikvision_proxy_channels(device.channels, spec, own)
        if path == "/ISAPI/ContentMgmt/InputProxy/channels/status":
            return "200 OK", recorder.hikvision_proxy_status(device.channels, spec)
        if path == "/ISAPI/System/Video/inputs/channels":
            inputs = recorder.hikvision_video_inputs(device.channels, spec)
            return ("200 OK", inputs) if inputs else ("403 Forbidden", _HIK_NOT_SUPPORTED.format(path=path))
    if family == "dahua":
        own["serial"] = device.serial
        if path == "/cgi-bin/configManager.cgi?action=getConfig&name=RemoteDevice":
            return "200 OK", recorder.dahua_remote_devices(device.channels, spec, own)
        if path == "/cgi-bin/configManager.cgi?action=getConfig&name=ChannelTitle":
            return "200 OK", recorder.dahua_channel_titles(device.channels, spec)
    return None


def _http_answer(device: Device, request: bytes) -> bytes:
    line = request.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    path = parts[1] if len(parts) > 1 else "/"
    http = device.profile.http
    base = {"Server": http.get("server", ""), "Connection": "close"}
    if http.get("date_header"):  # firmware that dates every answer (the profile names the capture)
        base = {"Date": email.utils.formatdate(usegmt=True)} | base
    if path == "/onvif/device_service" and device.profile.onvif:
        return _onvif_answer(device, request, base)
    if path == "/" and http.get("redirect_root"):
        return _response("302 Found", base | {"Location": http.get("login_path", "/")})
    if path == http.get("login_path", "/"):
        return _response("200 OK", base | {"Content-Type": "text/html"}, device.fill(http.get("login_body", "")))
    if path in http.get("open_paths", {}):
        return _response("200 OK", base | {"Content-Type": "text/plain"}, device.fill(http["open_paths"][path]))
    listing = _channel_answer(device, path) if device.profile.channels else None
    if listing is not None or path in http.get("auth_paths", {}):
        if not _authorized(device, request):
            return _unauthorized(device, base)
        if listing is not None:
            kind = "application/xml" if path.startswith("/ISAPI") else "text/plain;charset=utf-8"
            return _response(listing[0], base | {"Content-Type": kind}, listing[1])
        kind = http.get("auth_content_type", "application/xml")
        body = device.fill(http["auth_paths"][path])
        if http.get("crlf_bodies"):  # bodies whose lines end in CR LF, as the profile's capture shows
            body = body.replace("\r\n", "\n").replace("\n", "\r\n")
        return _response("200 OK", base | {"Content-Type": kind}, body)
    if http.get("realm") and path.startswith(("/ISAPI", "/cgi-bin")) and not _authorized(device, request):
        return _unauthorized(device, base)
    return _response("404 Not Found", base)


def _header_lines(status: str, lines: list[list[str]], values: dict[str, str], proto: str = "RTSP/1.0") -> bytes:
    """A head written line by line in the profile's order (``[name, template]`` pairs; a repeated
    name gives a repeated header, as Hikvision's two WWW-Authenticate lines)."""
    head = [f"{proto} {status}"] + [f"{k}: {v.format(**values)}".rstrip() for k, v in lines]
    return ("\r\n".join(head) + "\r\n\r\n").encode()


def _rtsp_answer(device: Device, request: bytes) -> bytes:
    """OPTIONS answered, DESCRIBE refused with the realm: in the profile's header lines and order
    (``rtsp.options`` / ``rtsp.unauthorized``) when it has them, as the published transcripts
    show (Hikvision's Date with two spaces and no comma after the day, Dahua's bare 401,
    Hanwha's Expires/Cache-Control, Axis's GStreamer Server line)."""
    text = request.decode("latin-1")
    method = text.split(" ", 1)[0]
    cseq = next((ln.split(":", 1)[1].strip() for ln in text.split("\r\n") if ln.lower().startswith("cseq:")), "1")
    rtsp = device.profile.rtsp
    now = email.utils.formatdate(usegmt=True)
    values = {
        "cseq": cseq,
        "realm": device.fill(rtsp.get("realm", "device")),
        "nonce": _nonce(rtsp.get("nonce_style", "")),
        "date": now,
        "rtsp_date": time.strftime("%a, %b %d %Y %H:%M:%S GMT", time.gmtime()),
    }
    if method == "OPTIONS" and rtsp.get("options"):
        return _header_lines("200 OK", rtsp["options"], values)
    if method != "OPTIONS" and rtsp.get("unauthorized"):
        return _header_lines("401 Unauthorized", rtsp["unauthorized"], values)
    headers = {"CSeq": cseq, "Server": rtsp.get("server", "")}
    if method == "OPTIONS":
        return _response(
            "200 OK", headers | {"Public": "OPTIONS, DESCRIBE, SETUP, TEARDOWN, PLAY, PAUSE"}, proto="RTSP/1.0"
        )
    challenge = f'Digest realm="{values["realm"]}", nonce="{values["nonce"]}", stale="FALSE"'
    return _response("401 Unauthorized", headers | {"WWW-Authenticate": challenge}, proto="RTSP/1.0")


def _discovery_answer(device: Device, protocol: str, probe: bytes) -> bytes | None:
    """A device's answer to a discovery probe, or None when the probe is not one it answers."""
    profile = device.profile
    if protocol == "sadp" and b"<Types>inquiry</Types>" in probe:
        return device.fill(profile.discovery["sadp"]).encode()
    if protocol == "dhdiscover" and b"DHDiscover.search" in probe:
        body = device.fill(profile.discovery["dhdiscover"]).encode()
        return struct.pack("<I4sIIII8s", 0x20, b"DHIP", 0, 0, len(body), 0, b"\0" * 8) + body
    if protocol == "wsd" and b"Probe" in probe and isinstance(profile.discovery.get("wsd"), str):
        return device.fill(profile.discovery["wsd"]).encode()  # the profile's captured ProbeMatches
    if protocol == "wsd" and b"Probe" in probe:
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" '
            'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><e:Body><d:ProbeMatches><d:ProbeMatch>'
            f"<d:Types>dn:NetworkVideoTransmitter</d:Types><d:Scopes>onvif://www.onvif.org/type/video_encoder "
            f"onvif://www.onvif.org/hardware/{escape(profile.model)} "
            f"onvif://www.onvif.org/name/{escape(str(profile.onvif.get('manufacturer', profile.maker)))}</d:Scopes>"
            f"<d:XAddrs>http://{device.ip}/onvif/device_service</d:XAddrs>"
            "</d:ProbeMatch></d:ProbeMatches></e:Body></e:Envelope>"
        ).encode()
    return None


class Emulator:
    """Serves a set of devices until :meth:`stop`; usable as ``async with``."""

    def __init__(self, devices: list[Device]) -> None:
        self.devices = devices
        self.servers: list[asyncio.Server] = []
        self.connections: set[asyncio.Task[None]] = set()
        self.udp: list[socket.socket] = []
        self.udp_tasks: list[asyncio.Task[None]] = []
        #: TCP connections accepted, per device address: tests check no scan went where it must not
        self.hits: Counter[str] = Counter()

    async def start(self) -> Emulator:
        for device in self.devices:
            for port in device.profile.ports:
                handler = self._handler(device, port)
                tls = server_context(device.profile.tls["subject"]) if port == 443 and device.profile.tls else None
                self.servers.append(await asyncio.start_server(handler, device.ip, port, reuse_address=True, ssl=tls))
        await self._start_discovery()
        return self

    def _handler(self, device: Device, port: int) -> Any:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.hits[device.ip] += 1
            task = asyncio.current_task()
            if task is not None:
                self.connections.add(task)
            try:
                await self._serve(device, port, reader, writer)
            except (TimeoutError, OSError, asyncio.IncompleteReadError):
                pass
            finally:
                if task is not None:
                    self.connections.discard(task)
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

        return handle

    async def _serve(
        self, device: Device, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        behaviour = device.profile.behaviour
        if behaviour == "silent" or port not in (80, 443, 554) or (port == 443 and not device.profile.tls):
            await reader.read()  # accept, say nothing, wait for the client to go
            return
        request = await _read_request(reader)
        if behaviour == "drip":
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><title>"
                + device.profile.model.encode()
                + b"</title>"
            )
            while True:
                writer.write(b"A")
                await writer.drain()
                await asyncio.sleep(0.05)
        if behaviour == "reset":
            sock = writer.get_extra_info("socket")
            if sock is not None:  # linger 0: close sends RST, not FIN, as a crashing device does
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return
        if behaviour in _HOSTILE_ANSWERS:
            writer.write(_HOSTILE_ANSWERS[behaviour](device))
            await writer.drain()
            return
        answer = _rtsp_answer(device, request) if port == 554 else _http_answer(device, request)
        writer.write(answer)
        await writer.drain()

    async def _start_discovery(self) -> None:
        """UDP responders for the discovery protocols the profiles speak: each device joins the
        protocol's group on the interface holding its address and answers by unicast, from that
        address, as real devices do."""
        from phaseout.discover.multicast import GROUPS

        loop = asyncio.get_running_loop()
        for device in self.devices:
            for protocol, (group, port) in GROUPS.items():
                if not device.profile.discovery.get(protocol):
                    continue
                listen = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
                listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listen.bind((group, port))
                member = struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton(device.ip))
                try:
                    listen.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, member)
                except OSError:  # no multicast on this interface (plain loopback): nothing to answer
                    listen.close()
                    continue
                listen.setblocking(False)
                reply = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
                reply.bind((device.ip, 0))
                reply.setblocking(False)
                self.udp.extend([listen, reply])
                self.udp_tasks.append(loop.create_task(self._answer(device, protocol, listen, reply)))

    async def _answer(self, device: Device, protocol: str, listen: socket.socket, reply: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                data, source = await loop.sock_recvfrom(listen, 65536)
            except OSError:
                return
            answer = _discovery_answer(device, protocol, data)
            if answer:
                with contextlib.suppress(OSError):
                    await loop.sock_sendto(reply, answer, source)

    async def stop(self) -> None:
        for task in self.udp_tasks:
            task.cancel()
        for sock in self.udp:
            sock.close()
        self.udp, self.udp_tasks = [], []
        for server in self.servers:
            server.close()
        for task in list(self.connections):
            task.cancel()
        for server in self.servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        self.servers = []

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()
