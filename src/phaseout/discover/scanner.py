"""The active scanner: asyncio probes with caps and deadlines, results as observations.

Per host: TCP connect on the camera ports; HTTP ``GET /`` (one same-host redirect followed), the
Hikvision ISAPI and Dahua CGI information endpoints, ONVIF ``GetDeviceInformation``; HTTPS
``GET /`` with the certificate presented (subject, issuer); RTSP ``OPTIONS`` and ``DESCRIBE``.  Every
answer is kept as an observation in the shape ``phaseout identify`` reads, then the host is
identified.  Each read is capped in size and time and each host has a deadline, so a device that
drips, floods or never answers costs one host's deadline and an error line, not the scan.
Passwords are never guessed: requests are unauthenticated unless the user gave credentials,
which are then used only to answer a digest challenge on the information endpoints (the
answers' realms and headers identify a device anyway; credentials add its serial and MAC) and,
on a recorder, to read its channel lists (:mod:`phaseout.discover.channels`): the cameras behind
it are recorded from what the recorder says, and their addresses are never contacted, so a
recorder's list can never take the scan outside its scope.
"""

from __future__ import annotations

import asyncio
import functools
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from phaseout.discover import channels as ch
from phaseout.discover.digest import Credentials, authorization, parse_challenge
from phaseout.identify import Identifier

PORTS = (80, 443, 554, 8000, 8080, 37777)
MAX_RESPONSE = 64 * 1024
MAX_CHANNEL_LIST = 1024 * 1024  # a 256-channel recorder's list is ~250 KiB
HTTP_PATHS = ("/ISAPI/System/deviceInfo", "/cgi-bin/magicBox.cgi?action=getSystemInfo")
#: Asked only of a host the first round left unidentified or identified as another maker (so a
#: Hikvision or Dahua device found at once costs nothing more).  ``userCheck`` is the first
#: request Hikvision's own web client sends; older recorders answer it with a ``<userCheck>``
#: body without credentials.  ``sessionLogin/capabilities`` is the first step of ISAPI's session
#: login: the device hands out the challenge and salt for a user name, so it answers without
#: credentials, in the ISAPI namespace, where ``deviceInfo`` asks for them (real answers of AX PRO
#: hubs in tests/data/captures/isapi-other; clients that call it unauthenticated: hikaxpro_hacs
#: ``Endpoints.Session_Capabilities``).  The user name is Hikvision's default ``admin``; no
#: password is sent and nothing is logged in.  tests/wire_replay.py measured the scan losing
#: such answers.
FOLLOW_UP_PATHS = ("/ISAPI/Security/userCheck", "/ISAPI/Security/sessionLogin/capabilities?username=admin")
ONVIF_PATH = "/onvif/device_service"
MAX_CERTIFICATE = 16 * 1024
MAX_DEFAULT_LOGINS = 20  # a check list, not a dictionary attack


@dataclass(slots=True)
class ScanSettings:
    connect_timeout: float = 1.0
    read_timeout: float = 2.0
    host_deadline: float = 8.0
    concurrency: int = 512
    ports: tuple[int, ...] = PORTS
    rate: float = 0.0  # new hosts started per second at most; 0 = no limit
    retries: int = 1  # extra connection attempts after a timeout (a refusal is an answer: no retry)
    credentials: Credentials | None = None  # given by the user; used only to answer a digest challenge
    #: the user's list of makers' default logins, tried (opt-in) against a digest challenge on the
    #: information endpoints to find devices still on them; the answer records the user name only
    default_check: tuple[Credentials, ...] = ()


@dataclass(slots=True)
class HostResult:
    ip: str
    ports: list[int] = field(default_factory=list)
    observations: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    #: False when the host's deadline cut the probe short: its silence on a port proves nothing.
    complete: bool = True
    #: the cameras behind a recorder, read from its lists with the user's credentials
    channels: list[ch.Channel] = field(default_factory=list)
    #: the lists read whole (``ip``, ``analog``): only those may say a stored channel went missing
    channel_kinds: set[str] = field(default_factory=set)

    def as_dict(self, identifier: Identifier) -> dict[str, Any]:
        ident = identifier.identify(self.observations).as_dict() if self.observations else {"vendor": "unknown"}
        out = {"ip": self.ip, "ports": self.ports, **ident, "errors": self.errors}
        if self.channels:
            out["channels"] = [channel_dict(c, identifier) for c in self.channels]
        return out


def channel_dict(channel: ch.Channel, identifier: Identifier) -> dict[str, Any]:
    """A channel with the identification of what the recorder reported about its camera."""
    found = identifier.identify([channel.inventory()])
    return channel.as_dict() | {"vendor": found.vendor, "brand": found.brand, "relation": found.relation}


async def _open(
    ip: str, port: int, timeout: float, retries: int = 0
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    """Connect, trying again after a timeout (a lost SYN on a busy network); a refusal or any
    other error means the port is closed."""
    for _attempt in range(1 + retries):
        try:
            return await asyncio.wait_for(asyncio.open_connection(ip, port), timeout=timeout)
        except TimeoutError:
            continue
        except OSError:
            return None
    return None


class RateLimit:
    """Spaces out starts to at most ``rate`` per second (0: no limit), so a scan does not flood
    a fragile network or trip an intrusion-detection threshold."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.next_slot = 0.0
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self.lock:
            now = time.monotonic()
            slot = max(now, self.next_slot)
            self.next_slot = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


async def _read_capped(
    reader: asyncio.StreamReader, port: int, settings: ScanSettings, cap: int = MAX_RESPONSE
) -> tuple[bytes, str | None]:
    """Read an answer until close, the size cap or the read deadline; returns (bytes, error)."""
    data = b""
    error = None
    try:
        deadline = time.monotonic() + settings.read_timeout
        while len(data) < cap:
            left = deadline - time.monotonic()
            if left <= 0:
                error = f"port {port}: answer not finished within {settings.read_timeout:.0f} s (kept what came)"
                break
            chunk = await asyncio.wait_for(reader.read(8192), timeout=left)
            if not chunk:
                break
            data += chunk
            if answer_complete(data):
                break
        else:
            error = f"port {port}: answer cut at {cap // 1024} KiB"
    except TimeoutError:
        error = (
            f"port {port}: no answer within {settings.read_timeout:.0f} s"
            if not data
            else (f"port {port}: answer not finished within {settings.read_timeout:.0f} s (kept what came)")
        )
    except (OSError, ssl.SSLError) as exc:
        error = f"port {port}: connection failed ({exc.__class__.__name__})"
    return data[:cap], error


_CONTENT_LENGTH = re.compile(rb"^Content-Length:[ \t]*(\d{1,9})[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)
_CHUNKED = re.compile(rb"^Transfer-Encoding:[^\r\n]*chunked", re.IGNORECASE | re.MULTILINE)


def answer_complete(data: bytes) -> bool:
    """True once ``data`` holds one whole HTTP or RTSP answer, so the read need not wait for a
    close that a keep-alive server never sends: RTSP servers keep the session's connection open
    after every reply (RFC 2326), and some HTTP servers ignore ``Connection: close``.

    Framing per the protocols: the head ends at the first blank line; a body is
    ``Content-Length`` bytes long (RFC 9112 6.3, RFC 2326 12.14); an RTSP reply without
    ``Content-Length`` has no body; a chunked HTTP body ends with the zero-size chunk.  An HTTP
    answer without either is delimited by the close, so it is never complete here."""
    end = data.find(b"\r\n\r\n")
    if end < 0 or not data.startswith((b"HTTP/", b"RTSP/")):
        return False
    head, body = data[:end], data[end + 4 :]
    if data.startswith(b"HTTP/") and (data[9:10] == b"1" or data[9:12] in (b"204", b"304")):
        return True  # 1xx, 204 and 304 answers carry no body
    if m := _CONTENT_LENGTH.search(head):
        return len(body) >= int(m.group(1))
    if data.startswith(b"RTSP/"):
        return True
    if _CHUNKED.search(head):
        return body == b"0\r\n\r\n" or body.endswith(b"\r\n0\r\n\r\n")
    return False


def dechunk(data: bytes) -> bytes:
    """An HTTP answer with a chunked body turned into head + plain body (the chunk-size lines
    would otherwise sit inside the XML or key=value text the identifier reads).  The head is
    kept as sent; a malformed or cut chunk stream keeps what decoded cleanly plus the rest raw,
    so nothing the device said is dropped."""
    end = data.find(b"\r\n\r\n")
    if end < 0 or not data.startswith(b"HTTP/") or not _CHUNKED.search(data[:end]):
        return data
    head, rest = data[: end + 4], data[end + 4 :]
    out = bytearray()
    pos = 0
    while pos < len(rest):
        line_end = rest.find(b"\r\n", pos)
        size_text = rest[pos:line_end].split(b";", 1)[0].strip() if line_end >= 0 else b""
        try:
            size = int(size_text, 16)
        except ValueError:
            return head + bytes(out) + rest[pos:]
        if size == 0:
            return head + bytes(out)
        start = line_end + 2
        out += rest[start : start + size]
        pos = start + size + 2
    return head + bytes(out)


async def _exchange(
    ip: str, port: int, request: bytes, settings: ScanSettings, cap: int = MAX_RESPONSE
) -> tuple[str, str | None]:
    """Send one request, read the answer until close, the size cap or the read deadline.
    Returns (text, error)."""
    conn = await _open(ip, port, settings.connect_timeout)
    if conn is None:
        return "", f"port {port}: no connection"
    reader, writer = conn
    try:
        writer.write(request)
        await writer.drain()
        data, error = await _read_capped(reader, port, settings, cap)
    except OSError as exc:
        data, error = b"", f"port {port}: connection failed ({exc.__class__.__name__})"
    finally:
        writer.close()
    return dechunk(data).decode("utf-8", errors="replace"), error


def _client_tls() -> ssl.SSLContext:
    """Accept any certificate: the point is to read what the device presents (factory-default
    self-signed certificates name their maker), not to trust it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def certificate_observation(der: bytes | None) -> dict[str, Any] | None:
    """The ``tls`` observation for a DER certificate: subject, issuer, validity; None when
    absent, oversized or unparseable (a hostile device's garbage is simply not evidence)."""
    if not der or len(der) > MAX_CERTIFICATE:
        return None
    try:
        cert = x509.load_der_x509_certificate(der)
        return {
            "kind": "tls",
            "port": 443,
            "subject": cert.subject.rfc4514_string()[:4096],
            "issuer": cert.issuer.rfc4514_string()[:4096],
            "not_after": cert.not_valid_after_utc.date().isoformat(),
            "self_signed": cert.subject == cert.issuer,
        }
    except ValueError:
        return None


async def _tls_exchange(
    ip: str, request: bytes, settings: ScanSettings
) -> tuple[dict[str, Any] | None, str, str | None]:
    """HTTPS on 443: the certificate presented, then the answer to ``request``."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(ip, 443, ssl=_client_tls(), server_hostname=""),
            timeout=settings.connect_timeout + settings.read_timeout,
        )
    except TimeoutError:
        return None, "", "port 443: TLS handshake not finished in time"
    except (OSError, ssl.SSLError) as exc:
        return None, "", f"port 443: TLS failed ({exc.__class__.__name__})"
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        cert = certificate_observation(ssl_object.getpeercert(binary_form=True) if ssl_object else None)
        writer.write(request)
        await writer.drain()
        data, error = await _read_capped(reader, 443, settings)
    except (OSError, ssl.SSLError) as exc:
        return None, "", f"port 443: TLS failed ({exc.__class__.__name__})"
    finally:
        writer.close()
    return cert, dechunk(data).decode("utf-8", errors="replace"), error


def _http_request(ip: str, path: str, authorization: str | None = None) -> bytes:
    auth = f"Authorization: {authorization}\r\n" if authorization else ""
    return (
        f"GET {path} HTTP/1.1\r\nHost: {ip}\r\nUser-Agent: phaseout-scan\r\nAccept: */*\r\n{auth}"
        "Connection: close\r\n\r\n"
    ).encode()


_DIGEST = re.compile(r"^WWW-Authenticate:\s*(Digest\s.*)$", re.IGNORECASE | re.MULTILINE)


#: The ONVIF device-service requests sent without credentials.  ``GetCapabilities`` and
#: ``GetServices`` are in the PRE_AUTH access class of the ONVIF Core specification (a device
#: must answer them without credentials); ``GetDeviceInformation`` and ``GetScopes`` are
#: READ_SYSTEM, yet many devices answer them, and the rest answer a NotAuthorized fault (kept
#: too: it says the device speaks ONVIF).  Scopes carry ``onvif://www.onvif.org/name/...`` and
#: ``/hardware/...``; capabilities and services carry the makers' extension namespaces.
ONVIF_ACTIONS: tuple[tuple[str, str], ...] = (
    ("GetDeviceInformation", '<GetDeviceInformation xmlns="http://www.onvif.org/ver10/device/wsdl"/>'),
    ("GetScopes", '<GetScopes xmlns="http://www.onvif.org/ver10/device/wsdl"/>'),
    (
        "GetCapabilities",
        '<GetCapabilities xmlns="http://www.onvif.org/ver10/device/wsdl"><Category>All</Category></GetCapabilities>',
    ),
    (
        "GetServices",
        '<GetServices xmlns="http://www.onvif.org/ver10/device/wsdl"><IncludeCapability>false</IncludeCapability>'
        "</GetServices>",
    ),
)
_SOAP = (
    '<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">'
    "<s:Body>{}</s:Body></s:Envelope>"
)


def _onvif_request(ip: str, action: str = "GetDeviceInformation") -> bytes:
    body = _SOAP.format(dict(ONVIF_ACTIONS)[action]).encode()
    return (
        f"POST {ONVIF_PATH} HTTP/1.1\r\nHost: {ip}\r\nUser-Agent: phaseout-scan\r\n"
        'Content-Type: application/soap+xml; charset=utf-8; action="http://www.onvif.org/ver10/device/wsdl/'
        f'{action}"\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n'
    ).encode() + body


def _rtsp_request(ip: str, method: str, cseq: int) -> bytes:
    return (
        f"{method} rtsp://{ip}:554/ RTSP/1.0\r\nCSeq: {cseq}\r\nUser-Agent: phaseout-scan\r\n"
        + ("Accept: application/sdp\r\n" if method == "DESCRIBE" else "")
        + "\r\n"
    ).encode()


_LOCATION = re.compile(r"^Location:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


async def probe_host(ip: str, settings: ScanSettings, result: HostResult | None = None) -> HostResult:
    """Probe one host, filling ``result`` as answers come (so a deadline keeps what was found)."""
    result = result if result is not None else HostResult(ip)
    opened = await asyncio.gather(*(_open(ip, p, settings.connect_timeout, settings.retries) for p in settings.ports))
    for port, conn in zip(settings.ports, opened, strict=True):
        if conn is not None:
            result.ports.append(port)
            conn[1].close()

    async def http(path: str) -> None:
        text, error = await _exchange(ip, 80, _http_request(ip, path), settings)
        if error:
            result.errors.append(error)
        if text:
            result.observations.append({"kind": "http", "port": 80, "tls": False, "path": path, "raw": text})
        head = text.split("\r\n\r\n", 1)[0]
        if settings.credentials and path in HTTP_PATHS and " 401" in head[:13] and (m := _DIGEST.search(head)):
            challenge = parse_challenge(m.group(1).strip())
            if challenge:
                header = authorization(settings.credentials, "GET", path, challenge)
                text2, error2 = await _exchange(ip, 80, _http_request(ip, path, header), settings)
                if error2:
                    result.errors.append(error2)
                if " 401" in text2[:13]:
                    result.errors.append(f"port 80: the credentials given were refused for {path}")
                elif text2:
                    result.observations.append(
                        {"kind": "http", "port": 80, "tls": False, "path": path, "raw": text2, "authenticated": True}
                    )
        if settings.default_check and path in HTTP_PATHS and " 401" in head[:13] and (m := _DIGEST.search(head)):
            await default_logins(path, m.group(1).strip())
        if path == "/" and (m := _LOCATION.search(text.split("\r\n\r\n", 1)[0])):
            target = m.group(1)
            if target.startswith("/") or target.startswith(f"http://{ip}/"):
                local = target.split(ip, 1)[1] if target.startswith("http") else target
                text2, error2 = await _exchange(ip, 80, _http_request(ip, local), settings)
                if error2:
                    result.errors.append(error2)
                if text2:
                    result.observations.append({"kind": "http", "port": 80, "tls": False, "path": local, "raw": text2})

    checked: list[str] = []

    async def default_logins(path: str, header: str) -> None:
        """Try the user's list of default logins once per host; record which user name worked
        (never a password), or that none did."""
        challenge = parse_challenge(header)
        if not challenge or checked:
            return
        checked.append(path)  # set before any await: the information paths are probed concurrently
        tried = 0
        for creds in settings.default_check[:MAX_DEFAULT_LOGINS]:
            tried += 1
            answer, error = await _exchange(
                ip, 80, _http_request(ip, path, authorization(creds, "GET", path, challenge)), settings
            )
            if error:
                result.errors.append(error)
                break
            if answer and " 401" in answer[:13]:  # refused: the next try answers the fresh challenge
                fresh = _DIGEST.search(answer.split("\r\n\r\n", 1)[0])
                challenge = (parse_challenge(fresh.group(1).strip()) if fresh else None) or challenge
                continue
            if answer:
                result.observations.append(
                    {
                        "kind": "credential-check",
                        "port": 80,
                        "path": path,
                        "result": "accepted",
                        "username": creds.username,
                    }
                )
                return
        result.observations.append(
            {"kind": "credential-check", "port": 80, "path": path, "result": "refused", "tried": tried}
        )

    async def onvif(action: str) -> None:
        """One ONVIF device-service request without credentials (``ONVIF_ACTIONS`` says why
        these four)."""
        text, error = await _exchange(ip, 80, _onvif_request(ip, action), settings)
        if error:
            result.errors.append(error)
        _status, _sep, body = text.partition("\r\n\r\n")
        if "Envelope" in body[:4096]:
            result.observations.append({"kind": "onvif", "port": 80, "path": ONVIF_PATH, "action": action, "raw": body})

    async def https() -> None:
        cert, text, error = await _tls_exchange(ip, _http_request(ip, "/"), settings)
        if error:
            result.errors.append(error)
        if cert:
            result.observations.append(cert)
        if text:
            result.observations.append({"kind": "http", "port": 443, "tls": True, "path": "/", "raw": text})

    async def rtsp() -> None:
        for cseq, method in enumerate(("OPTIONS", "DESCRIBE"), start=1):
            text, error = await _exchange(ip, 554, _rtsp_request(ip, method, cseq), settings)
            if error:
                result.errors.append(error)
            if text:
                result.observations.append({"kind": "rtsp", "port": 554, "raw": text})

    jobs = []
    if 80 in result.ports:
        jobs += [http("/"), *(http(p) for p in HTTP_PATHS), onvif(ONVIF_ACTIONS[0][0])]
    if 443 in result.ports:
        jobs.append(https())
    if 554 in result.ports:
        jobs.append(rtsp())
    if jobs:
        await asyncio.gather(*jobs)
    if 80 in result.ports and not result.errors and worth_following_up(result.observations):
        await asyncio.gather(*(http(p) for p in FOLLOW_UP_PATHS), *(onvif(a) for a, _body in ONVIF_ACTIONS[1:]))
    if 80 in result.ports and _answered(result.observations, DAHUA_SYSTEM_INFO):
        await dahua_software_version(ip, settings, result)
    if settings.credentials and 80 in result.ports:
        await recorder_channels(ip, settings, result)
    return result


@functools.cache
def _identifier() -> Identifier:
    return Identifier()


#: An identification at least this sure, with no other maker's evidence against it, is settled:
#: the follow-up requests are for hosts the first round left unknown or in doubt.
SETTLED_CONFIDENCE = 0.9


def worth_following_up(observations: list[dict[str, Any]]) -> bool:
    """Whether a host on port 80 gets the follow-up requests (userCheck, sessionLogin
    capabilities, ONVIF GetScopes,
    GetCapabilities, GetServices).  Not when the answers so far already name Hikvision or Dahua
    (OEM labels included: nothing more could change that decision), nor when they name another
    maker surely and without conflict (an Axis or Bosch camera answering its own API).  The caller
    also skips hosts whose first round already failed somewhere (a timeout, a reset, an answer cut
    at its cap): four more questions to a host that drips, resets or floods made a 4,096-host scan
    a third slower, and such a host is reported with its errors either way."""
    if not observations:
        return True
    found = _identifier().identify(observations)
    if found.vendor in ("hikvision", "dahua"):
        return False
    return found.vendor == "unknown" or found.confidence < SETTLED_CONFIDENCE or bool(found.conflicts)


DAHUA_SYSTEM_INFO = "/cgi-bin/magicBox.cgi?action=getSystemInfo"
DAHUA_SOFTWARE_VERSION = "/cgi-bin/magicBox.cgi?action=getSoftwareVersion"


def _answered(observations: list[dict[str, Any]], path: str) -> bool:
    return any(o.get("path") == path and " 200" in str(o.get("raw", ""))[:13] for o in observations)


async def dahua_software_version(ip: str, settings: ScanSettings, result: HostResult) -> None:
    """A host that answered Dahua's getSystemInfo is asked its firmware too (``version=...,
    build:...``): the vulnerability decisions need it, and only magicBox says it on recorders
    whose ONVIF wants WS-Security.  Asked only of hosts that already spoke magicBox."""
    status, text, _body, error = await _get(ip, DAHUA_SOFTWARE_VERSION, settings, MAX_RESPONSE)
    if error:
        result.errors.append(error)
    if status == 200:
        obs = {"kind": "http", "port": 80, "tls": False, "path": DAHUA_SOFTWARE_VERSION, "raw": text}
        result.observations.append(obs | ({"authenticated": True} if settings.credentials else {}))


_DEVICE_TYPE = re.compile(r"<deviceType>\s*([^<]{0,40})<", re.IGNORECASE)
_MODEL = re.compile(r"<model>\s*([^<]{0,64})<", re.IGNORECASE)
_SERIAL = re.compile(r"<serialNumber>\s*([^<]{0,96})<|^serialNumber=(.{0,96})$", re.IGNORECASE | re.MULTILINE)
_DAHUA_TYPE = re.compile(r"^(?:deviceType|updateSerial)=(.{0,64})$", re.MULTILINE)
_RECORDER_WORD = re.compile(r"NVR|DVR|XVR|HVR|HCVR|DVS", re.IGNORECASE)
_HIK_RECORDER_MODEL = re.compile(r"^i?DS-(?:7|8|9)\d", re.IGNORECASE)


def recorder_kind(observations: list[dict[str, Any]]) -> str | None:
    """``hikvision`` or ``dahua`` when the answers show a recorder of that firmware family (an
    ISAPI deviceInfo with an NVR/DVR device type or recorder model; a magicBox answer naming a
    recorder or Lorex's numeric device type), else None.  Only these get their lists read."""
    for obs in observations:
        raw = str(obs.get("raw", ""))
        body = raw.split("\r\n\r\n", 1)[-1]
        if obs.get("path") == "/ISAPI/System/deviceInfo" and obs.get("authenticated"):
            kind = _DEVICE_TYPE.search(body)
            model = _MODEL.search(body)
            if (kind and _RECORDER_WORD.search(kind.group(1))) or (
                model and _HIK_RECORDER_MODEL.match(model.group(1).strip())
            ):
                return "hikvision"
        if str(obs.get("path", "")).startswith("/cgi-bin/magicBox.cgi") and " 200" in raw[:13]:
            for m in _DAHUA_TYPE.finditer(body):
                value = m.group(1).strip()
                if _RECORDER_WORD.search(value) or (value.isdigit() and len(value) <= 3):
                    return "dahua"
    return None


def _own_serials(observations: list[dict[str, Any]]) -> list[str]:
    out = []
    for obs in observations:
        for m in _SERIAL.finditer(str(obs.get("raw", ""))):
            out.append((m.group(1) or m.group(2) or "").strip())
    return [s for s in out if s]


async def _get(
    ip: str, path: str, settings: ScanSettings, cap: int = MAX_CHANNEL_LIST
) -> tuple[int, str, str, str | None]:
    """GET ``path`` answering a digest challenge with the user's credentials: (status, whole
    answer, body, error).  Status 0 when nothing usable came."""
    text, error = await _exchange(ip, 80, _http_request(ip, path), settings, cap)
    head, _sep, body = text.partition("\r\n\r\n")
    if " 401" in head[:13] and settings.credentials and (m := _DIGEST.search(head)):
        challenge = parse_challenge(m.group(1).strip())
        if challenge:
            header = authorization(settings.credentials, "GET", path, challenge)
            text, error = await _exchange(ip, 80, _http_request(ip, path, header), settings, cap)
            head, _sep, body = text.partition("\r\n\r\n")
    status = head[9:12] if head.startswith("HTTP/") else ""
    return (int(status) if status.isdigit() else 0), text, body, error


async def recorder_channels(ip: str, settings: ScanSettings, result: HostResult) -> None:
    """Read a recorder's channel lists with the user's credentials into ``result.channels``;
    problems (refused credentials, cut or malformed lists, hostile entries) go to its errors."""
    kind = recorder_kind(result.observations)
    if kind is None:
        return
    if kind == "hikvision":
        (s1, _t1, proxy_text, e1), (s2, _t2, status_text, _e2), (s3, _t3, inputs_text, _e3) = await asyncio.gather(
            _get(ip, ch.HIK_PROXY_PATH, settings),
            _get(ip, ch.HIK_STATUS_PATH, settings),
            _get(ip, ch.HIK_INPUTS_PATH, settings),
        )
        problems = [f"channels: {e}" for e in (e1,) if e]
        if s1 == 401:
            problems.append("channels: the credentials given were refused for the channel list")
        proxy = ch.parse_hikvision_proxy_channels(proxy_text) if s1 == 200 else ch.ChannelReport()
        status, status_errors = ch.parse_hikvision_proxy_status(status_text) if s2 == 200 else ({}, [])
        inputs = ch.parse_hikvision_video_inputs(inputs_text) if s3 == 200 else ch.ChannelReport()
        report = ch.merge_hikvision(proxy, status, inputs)
        report.errors.extend(status_errors)
        result.channel_kinds = {
            k for k, ok in (("ip", s1 == 200 and not proxy.errors), ("analog", s3 == 200 and not inputs.errors)) if ok
        }
    else:
        (s1, _t1, remote_text, e1), (s2, _t2, titles_text, _e2) = await asyncio.gather(
            _get(ip, ch.DAHUA_REMOTE_PATH, settings), _get(ip, ch.DAHUA_TITLE_PATH, settings)
        )
        problems = [f"channels: {e}" for e in (e1,) if e]
        if s1 == 401:
            problems.append("channels: the credentials given were refused for the remote device list")
        remote = ch.parse_dahua_remote_devices(remote_text) if s1 == 200 else ch.ChannelReport()
        result.channel_kinds = {"ip"} if s1 == 200 and not remote.errors else set()
        report = ch.merge_dahua(remote, ch.parse_dahua_channel_titles(titles_text) if s2 == 200 else {})
    report = ch.drop_self(report, ip, _own_serials(result.observations))
    result.channels = report.channels
    result.errors.extend(problems + [f"channels: {e}" for e in report.errors])


async def scan(
    hosts: list[str],
    settings: ScanSettings | None = None,
    progress: Callable[[HostResult], None] | None = None,
    found: list[HostResult] | None = None,
) -> list[HostResult]:
    """Probe every host (already checked against the scope), ``settings.concurrency`` at a time,
    each within ``settings.host_deadline``.  Hosts that answer nothing are left out.

    Finished hosts are appended to ``found`` as they finish, so a caller interrupted by Ctrl-C
    still holds what was found; a host cut by its deadline keeps the answers it gave."""
    settings = settings or ScanSettings()
    gate = asyncio.Semaphore(settings.concurrency)
    limit = RateLimit(settings.rate)
    results: list[HostResult] = found if found is not None else []

    async def one(ip: str) -> None:
        async with gate:
            await limit.wait()
            start = time.monotonic()
            result = HostResult(ip)
            try:
                await asyncio.wait_for(probe_host(ip, settings, result), timeout=settings.host_deadline)
            except TimeoutError:
                result.complete = False
                result.errors.append(f"host deadline of {settings.host_deadline:.0f} s reached (kept what came)")
            result.elapsed = time.monotonic() - start
            if result.ports or result.observations:
                results.append(result)
            if progress:
                progress(result)

    await asyncio.gather(*(one(ip) for ip in hosts))
    results.sort(key=lambda r: tuple(int(x) for x in r.ip.split(".")) if "." in r.ip else (0,))
    return results
