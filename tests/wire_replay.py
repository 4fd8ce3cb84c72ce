"""Serve the real-capture corpus over the wire, on loopback, and scan it with the real scanner.

Why: identification measured on a capture's text (``bench/identify_accuracy.py``) proves the
parsers, not the scanner.  A scan only sees what it asks for, on the ports and paths it asks,
read the way it reads.  Here every capture that is a network answer is served *verbatim* from
its own loopback address (127.93.x.y, one per capture) at the request the real device answered
(port, method, path, SOAP action), and everything else gets a 404 (HTTP) or a closed
connection (RTSP).  Then ``phaseout.app.scans.run_probes`` (the path ``phaseout scan`` takes)
probes those addresses and the identified maker is compared with the manifest's label.

What "verbatim" means, per capture (``Plan.framing`` says what was added, per capture):

- a capture that is a whole answer (``RTSP/1.0 ...`` or ``HTTP/1.1 ...`` first line) is sent
  byte for byte; only a tool's printout is undone (curl's ``< `` prefixes dropped, a sniffer's
  literal ``\\r\\n`` markers and line ends lost in a paste turned back into CRLF), since those
  are not what the device sent;
- a capture that is a body (ISAPI XML, magicBox key=value, SOAP, SDP) or one header value
  (``Server``, ``WWW-Authenticate``, a page title) gets the transport framing the source did not
  show: status line, that header's name, ``Content-Type``, ``Content-Length``, ``CSeq`` echoed
  from the request (RTSP), ``Connection: close`` (HTTP);
- a certificate's subject (``tls-subject``) is presented on 443 in a self-signed certificate
  carrying that subject (the source gives the names only);
- an HTTP answer is followed by a close (the scanner sends ``Connection: close``); an RTSP
  connection is kept open after a reply, as RTSP servers do, until the client closes it.

Captures that are not served, and why (``Plan.skip``): tool printouts that are not answer bytes
(dict dumps, console lines, key/value notes, log fragments), protocols the scanner has no unicast
probe for (FTP, telnet, SNMP; SADP, DHDiscover, WS-Discovery and UPnP are multicast discovery,
which needs an interface, see ``phaseout.discover.multicast``), certificate printouts and a
lone issuer name, and answers whose request the source does not name.

Hard rule: every listener binds a 127.0.0.0/8 address; ``_serve`` refuses anything else.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import ipaddress
import os
import re
import ssl
import tempfile
import threading
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from phaseout.app.scans import run_probes
from phaseout.discover.scanner import ScanSettings
from phaseout.identify import Identifier
from tests.corpus_loader import Capture, observation, read_payload

#: Largest request head the replay server reads (the scanner's are < 1 KiB).
MAX_REQUEST = 16 * 1024
#: A connection that sends nothing for this long is closed (the port check connects and leaves).
IDLE_SECONDS = 5.0
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
ONVIF_DEVICE = "/onvif/device_service"
ONVIF_MEDIA = "/onvif/media_service"


@dataclass(frozen=True)
class Answer:
    """One captured answer and the request it answers.

    ``target``: the HTTP path (with query) for GET, ``path#Action`` for a SOAP POST, empty for
    RTSP (matched on the method).  ``echo_cseq``: the framing adds ``CSeq`` from the request
    (the capture had none)."""

    protocol: str  # "http" | "rtsp"
    port: int
    method: str
    target: str
    payload: bytes
    echo_cseq: bool = False


@dataclass
class Plan:
    """How one capture is served: its answers, the framing added, or why it is not served."""

    capture: Capture
    answers: list[Answer] = field(default_factory=list)
    framing: str = ""
    skip: str = ""
    #: a certificate (PEM) and its key, presented on 443, for a capture of a certificate's names
    tls_cert: bytes = b""
    tls_key: bytes = b""
    #: requests of the scanner that drew a captured answer (filled while serving)
    hits: list[str] = field(default_factory=list)

    @property
    def served(self) -> bool:
        return not self.skip and bool(self.answers or self.tls_cert)

    @property
    def ports(self) -> list[int]:
        return sorted({a.port for a in self.answers} | ({443} if self.tls_cert else set()))


# -- building the answers ------------------------------------------------------------------------

_CRLF = "\r\n"
_ISAPI_PATH = re.compile(r"(/ISAPI/[A-Za-z0-9_/]+)")
_CGI_ACTION = re.compile(r"\b(get[A-Z][A-Za-z]+)\b")
_CONFIG_NAME = re.compile(r"name=([A-Za-z0-9_.]+)")
_CGI_PATH = re.compile(r"(/cgi-bin/[A-Za-z0-9_.]+)")
_GET_PATH = re.compile(r"\bGET (/[^\s)\]]*)")  # a note writes "(GET /path)": the bracket is not the path
_STATUS = re.compile(r"^(?:RTSP|HTTP)/1\.[01] \d{3}", re.M)
_RTSP_METHOD_NOTE = re.compile(r"\b(OPTIONS|DESCRIBE|SETUP|PLAY) (?:answer|reply)")

_NOT_WIRE = {
    "isapi-deviceinfo-printout": "a client library's printout of a parsed body, not the answer bytes",
    "dahua-rpc2-printout": "a console printout of RPC replies, not the answer bytes",
    "dhip-rpc": "DHIP frames as a tool printed them (hex words + JSON), not the answer bytes",
    "onvif-deviceinfo-text": "key/value notes or a client's printout, not the answer bytes",
    "wsd-printout": "a probe tool's printout, not the answer bytes",
    "scan-nmap": "a scanner's printout, not the answer bytes",
    "wsd-probematch": "WS-Discovery is multicast discovery (UDP 3702 on an interface), not a unicast probe",
    "wsd-hello": "WS-Discovery is multicast discovery (UDP 3702 on an interface), not a unicast probe",
    "sadp": "SADP is multicast discovery on an interface, not a unicast probe",
    "dhdiscover": "DHDiscover is multicast/broadcast discovery on an interface, not a unicast probe",
    "dhdiscover-record": "a scan dataset's record of a DHDiscover reply, not the answer bytes",
    "upnp": "SSDP/UPnP is multicast discovery, not a probe of the scanner",
    "ftp-banner": "the scanner has no FTP probe (port 21 is not among its ports)",
    "telnet-banner": "the scanner has no telnet probe (port 23 is not among its ports)",
    "snmp-sysdescr": "the scanner has no SNMP probe",
    "snmp-sysobjectid": "the scanner has no SNMP probe",
    "snmp-walk": "the scanner has no SNMP probe",
    "tls-issuer": "only the issuer's name was captured; a certificate needs its subject too",
    "tls-cert": "a tool's printout of a certificate, not the certificate",
    "vendor-api": "the source does not name the request this answer came from",
}


def _http_framed(status: str, headers: Sequence[str], body: bytes) -> bytes:
    head = [status, *headers, f"Content-Length: {len(body)}", "Connection: close"]
    return (_CRLF.join(head) + _CRLF + _CRLF).encode() + body


def _undo_printout(text: str) -> tuple[str, list[str]]:
    """The answer bytes behind a paste: curl ``< `` prefixes dropped, literal ``\\r\\n``
    markers and lost CRs restored.  Returns (text, what was done)."""
    done: list[str] = []
    lines = text.split("\n")
    if lines and all(line.startswith("< ") or line.strip() in ("", "<") for line in lines if line.strip()):
        text = "\n".join(line[2:] if line.startswith("< ") else line.lstrip("<") for line in lines)
        done.append("curl '< ' prefixes removed")
    if "\\r\\n" in text:
        text = re.sub(r"\\r\\n\n?", "\r\n", text)
        done.append("literal \\r\\n markers turned into CRLF")
    if "\n" in text and "\r\n" not in text:
        text = text.replace("\n", "\r\n")
        done.append("LF line ends of the paste turned into CRLF")
    return text, done


def _split_replies(text: str) -> list[str]:
    """Several RTSP replies in one capture, each from its status line; the blank LF-only lines
    a paste put between them are dropped (a CRLF ending is the reply's own)."""
    starts = [m.start() for m in _STATUS.finditer(text)]
    replies = []
    for a, b in zip(starts, [*starts[1:], len(text)], strict=True):
        reply = text[a:b]
        while reply.endswith("\n") and not reply.endswith("\r\n"):
            reply = reply[:-1]
        replies.append(reply)
    return replies


def _rtsp_method(reply: str, note: str, single: bool) -> str:
    """Which request drew this reply: named by the source for a single reply, else read from
    the reply's own headers (Public: OPTIONS; Transport: SETUP; RTP-Info: PLAY; else DESCRIBE,
    whose answer is the SDP or the challenge)."""
    if single and (m := _RTSP_METHOD_NOTE.search(note)):
        return m.group(1)
    head = reply.split("\r\n\r\n", 1)[0].lower()
    if "\npublic:" in head:
        return "OPTIONS"
    if "\ntransport:" in head:
        return "SETUP"
    if "\nrtp-info:" in head:
        return "PLAY"
    return "DESCRIBE"


def _rtsp_whole(text: str, note: str) -> tuple[list[Answer], list[str]]:
    text, done = _undo_printout(text)
    replies = _split_replies(text)
    answers = []
    for reply in replies:
        raw = reply if reply.endswith("\r\n") else reply + "\r\n"
        if "\r\n\r\n" not in raw:
            raw += "\r\n"
            done.append("closing blank line added (the paste ended after the last header)")
        answers.append(Answer("rtsp", 554, _rtsp_method(raw, note, len(replies) == 1), "", raw.encode()))
    return answers, done


def _http_path(capture: Capture, default: str) -> str:
    for pattern in (_GET_PATH, _ISAPI_PATH, _CGI_PATH):
        if m := pattern.search(capture.notes):
            return m.group(1).rstrip(";,.")
    return default


def plan_for(capture: Capture) -> Plan:
    """The answers a device of this capture gives, at the request it answers."""
    plan = Plan(capture)
    kind = capture.kind
    text = read_payload(capture.path)
    body = capture.path.read_bytes()
    if kind in _NOT_WIRE:
        plan.skip = _NOT_WIRE[kind]
        return plan
    if kind.startswith("isapi-"):
        default = {"isapi-deviceinfo": "/ISAPI/System/deviceInfo", "isapi-usercheck": "/ISAPI/Security/userCheck"}
        path = _http_path(capture, default.get(kind, ""))
        if not path.startswith("/ISAPI"):
            plan.skip = "the source does not name the ISAPI request this answer came from"
            return plan
        plan.answers = [
            Answer("http", 80, "GET", path, _http_framed("HTTP/1.1 200 OK", ["Content-Type: application/xml"], body))
        ]
        plan.framing = "HTTP 200 status line, Content-Type, Content-Length"
        return plan
    if kind == "dahua-magicbox":
        action = _CGI_ACTION.search(capture.notes) or _CGI_ACTION.search(capture.file.replace("-get", " get"))
        if not action:
            plan.skip = "the source does not name the magicBox action"
            return plan
        name = "get" + action.group(1)[3:]
        path = f"/cgi-bin/magicBox.cgi?action={name[0].lower() + name[1:]}"
        path = {p.lower(): p for p in _MAGICBOX_ACTIONS}.get(path.lower(), path)
        plan.answers = [
            Answer("http", 80, "GET", path, _http_framed("HTTP/1.1 200 OK", ["Content-Type: text/plain"], body))
        ]
        plan.framing = "HTTP 200 status line, Content-Type, Content-Length"
        return plan
    if kind == "dahua-configmanager":
        name = _CONFIG_NAME.search(capture.notes)
        if not name:
            plan.skip = "the source does not name the configManager table"
            return plan
        path = f"/cgi-bin/configManager.cgi?action=getConfig&name={name.group(1)}"
        plan.answers = [
            Answer("http", 80, "GET", path, _http_framed("HTTP/1.1 200 OK", ["Content-Type: text/plain"], body))
        ]
        plan.framing = "HTTP 200 status line, Content-Type, Content-Length"
        return plan
    if kind == "axis-vapix":
        if "param" not in capture.file:
            plan.skip = "basicdeviceinfo is a JSON POST re-serialised from a dict, not the answer bytes"
            return plan
        path = "/axis-cgi/param.cgi?action=list&group=root.Brand"
        plan.answers = [
            Answer("http", 80, "GET", path, _http_framed("HTTP/1.1 200 OK", ["Content-Type: text/plain"], body))
        ]
        plan.framing = "HTTP 200 status line, Content-Type, Content-Length"
        return plan
    if kind == "http-response":
        whole, done = _undo_printout(text)
        if "\r\n\r\n" not in whole:
            whole += "\r\n"
            done.append("closing blank line added (the paste ended after the last header)")
        plan.answers = [Answer("http", 80, "GET", _http_path(capture, "/"), whole.encode())]
        plan.framing = "; ".join(done) or "none (whole answer)"
        return plan
    if kind in ("http-server", "http-wwwauth", "http-title", "http-401-body", "http-body"):
        value = text.strip()
        if kind == "http-server":
            payload = _http_framed("HTTP/1.1 200 OK", [f"Server: {value}"], b"")
        elif kind == "http-wwwauth":
            payload = _http_framed("HTTP/1.1 401 Unauthorized", [f"WWW-Authenticate: {value}"], b"")
        elif kind == "http-title":
            page = f"<html><head><title>{value}</title></head></html>".encode()
            payload = _http_framed("HTTP/1.1 200 OK", ["Content-Type: text/html"], page)
        else:
            status = "HTTP/1.1 401 Unauthorized" if kind == "http-401-body" else "HTTP/1.1 200 OK"
            payload = _http_framed(status, ["Content-Type: text/html"], body)
        plan.answers = [Answer("http", 80, "GET", _http_path(capture, "/"), payload)]
        plan.framing = "status line, header name / minimal page, Content-Length (the source gave the value only)"
        return plan
    if kind.startswith("onvif-"):
        action, service = _ONVIF_ACTIONS[kind]
        headers = ["Content-Type: application/soap+xml; charset=utf-8"]
        plan.answers = [
            Answer("http", 80, "POST", f"{service}#{action}", _http_framed("HTTP/1.1 200 OK", headers, body))
        ]
        plan.framing = "HTTP 200 status line, Content-Type, Content-Length"
        return plan
    if kind in ("rtsp-reply", "rtsp-transcript", "rtsp-fragment"):
        if not _STATUS.match(text.lstrip()):
            plan.skip = "a client's log around the answer, not the answer bytes"
            return plan
        plan.answers, done = _rtsp_whole(text, capture.notes)
        plan.framing = "; ".join(dict.fromkeys(done)) or "none (whole answers)"
        return plan
    if kind == "rtsp-server":
        head = f"RTSP/1.0 200 OK{_CRLF}Server: {text.strip()}{_CRLF}{_CRLF}"
        plan.answers = [Answer("rtsp", 554, "OPTIONS", "", head.encode(), echo_cseq=True)]
        plan.framing = "RTSP 200 status line, CSeq echoed, 'Server:' header name (the source gave the value only)"
        return plan
    if kind == "rtsp-sdp":
        head = f"RTSP/1.0 200 OK{_CRLF}Content-Type: application/sdp{_CRLF}Content-Length: {len(body)}{_CRLF}{_CRLF}"
        plan.answers = [Answer("rtsp", 554, "DESCRIBE", "", head.encode() + body, echo_cseq=True)]
        plan.framing = "RTSP 200 status line, CSeq echoed, Content-Type, Content-Length (the source gave the SDP)"
        return plan
    if kind == "tls-subject":
        try:
            plan.tls_cert, plan.tls_key = certificate(text.strip())
        except ValueError as exc:
            plan.skip = f"the captured subject is not an RFC 4514 name ({exc})"
            return plan
        plan.framing = "a self-signed certificate carrying the captured subject (the source gives the names only)"
        return plan
    plan.skip = f"no wire form known for kind {kind}"
    return plan


def certificate(subject: str) -> tuple[bytes, bytes]:
    """A self-signed certificate (PEM) and key carrying ``subject``: the device presents its
    names in a certificate, and the capture is those names.  Self-signed because factory
    certificates of cameras are; the capture does not say otherwise."""
    name = x509.Name.from_rfc4514_string(subject)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


_MAGICBOX_ACTIONS = (
    "/cgi-bin/magicBox.cgi?action=getSystemInfo",
    "/cgi-bin/magicBox.cgi?action=getDeviceType",
    "/cgi-bin/magicBox.cgi?action=getSoftwareVersion",
    "/cgi-bin/magicBox.cgi?action=getVendor",
    "/cgi-bin/magicBox.cgi?action=getMachineName",
    "/cgi-bin/magicBox.cgi?action=getSerialNo",
    "/cgi-bin/magicBox.cgi?action=getHardwareVersion",
)

#: capture kind -> (SOAP action, service path) of the request that draws it
_ONVIF_ACTIONS = {
    "onvif-deviceinfo": ("GetDeviceInformation", ONVIF_DEVICE),
    "onvif-scopes": ("GetScopes", ONVIF_DEVICE),
    "onvif-capabilities": ("GetCapabilities", ONVIF_DEVICE),
    "onvif-services": ("GetServices", ONVIF_DEVICE),
    "onvif-fault": ("GetDeviceInformation", ONVIF_DEVICE),
    "onvif-profiles": ("GetProfiles", ONVIF_MEDIA),
    "onvif-streamuri": ("GetStreamUri", ONVIF_MEDIA),
    "onvif-snapshoturi": ("GetSnapshotUri", ONVIF_MEDIA),
}


def address(index: int) -> str:
    """The loopback address of the index-th served capture (127.93.0.1, 127.93.0.2, ...).  Each
    pytest-xdist worker serves from its own block (worker gw1 from 127.93.16.x, and so on), so two
    workers setting up the same module never bind the same address."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    block = 16 * (int(worker) if worker.isdigit() else 0)
    return f"127.93.{block + index // 250}.{index % 250 + 1}"


# -- serving -------------------------------------------------------------------------------------

_ACTION = re.compile(r'action="?[^"\s;]*/([A-Za-z]+)"?', re.I)
_BODY_ACTION = re.compile(r"<(?:\w+:)?Body[^>]*>\s*<(?:\w+:)?([A-Za-z]+)", re.S)


def _request_key(head: str, body: str) -> tuple[str, str, str]:
    """(protocol, method, target) of one request."""
    first = head.split("\r\n", 1)[0].split(" ")
    method = first[0].upper() if first else ""
    uri = first[1] if len(first) > 1 else ""
    if first[-1].startswith("RTSP/"):
        return "rtsp", method, ""
    if method == "POST":
        m = _ACTION.search(head) or _BODY_ACTION.search(body)
        return "http", method, f"{uri}#{m.group(1) if m else ''}"
    return "http", method, uri


class _Host:
    """The answers of one plan on one address, per port."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.queues: dict[tuple[str, str, str], list[Answer]] = defaultdict(list)
        for answer in plan.answers:
            self.queues[(answer.protocol, answer.method, answer.target)].append(answer)
        self.served: dict[tuple[str, str, str], int] = defaultdict(int)

    def match(self, key: tuple[str, str, str]) -> Answer | None:
        """The captured answer for this request: exact target, else (HTTP GET) an answer
        captured for the same path without a query (a CGI refusing every action alike).
        Several answers to one method are given in the order captured, the last repeated."""
        queue = self.queues.get(key)
        if not queue and key[0] == "http" and key[1] == "GET":
            queue = self.queues.get((key[0], key[1], key[2].split("?", 1)[0]))
        if not queue:
            return None
        n = self.served[key]
        self.served[key] += 1
        self.plan.hits.append(f"{key[1]} {key[2]}".strip())
        return queue[min(n, len(queue) - 1)]

    async def handle_tls(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """A TLS connection: the handshake presented the certificate (the captured answer);
        what follows is plain HTTP, answered like port 80."""
        self.plan.hits.append("TLS handshake")
        await self.handle(reader, writer)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head_bytes = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_SECONDS)
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
                    return
                head = head_bytes.decode("latin-1")
                length = re.search(r"^Content-Length:\s*(\d+)", head, re.I | re.M)
                body = ""
                if length and int(length.group(1)) <= MAX_REQUEST:
                    body = (await reader.readexactly(int(length.group(1)))).decode("latin-1")
                key = _request_key(head, body)
                answer = self.match(key)
                if key[0] == "http":
                    writer.write(answer.payload if answer else NOT_FOUND)
                    await writer.drain()
                    return  # the scanner asks Connection: close
                if answer is None:
                    return  # nothing captured for this RTSP method: close, as a refusing server might
                payload = answer.payload
                if answer.echo_cseq and (cseq := re.search(r"^CSeq:\s*(\d+)", head, re.I | re.M)):
                    status, _sep, rest = payload.partition(b"\r\n")
                    payload = status + f"\r\nCSeq: {cseq.group(1)}\r\n".encode() + rest
                writer.write(payload)
                await writer.drain()  # RTSP: the connection stays open for the next request
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def _serve(plans: Sequence[Plan], first: int = 0) -> AsyncIterator[list[str]]:
    """Serve each served plan on its own loopback address; yields the addresses in plan order."""
    servers: list[asyncio.Server] = []
    addresses: list[str] = []
    folder = tempfile.TemporaryDirectory(prefix="wire-replay-")
    try:
        for i, plan in enumerate(plans, start=first):
            ip = address(i)
            if not ipaddress.ip_address(ip).is_loopback:  # the hard rule, checked, not assumed
                raise ValueError(f"{ip} is not a loopback address")
            host = _Host(plan)
            for port in plan.ports:
                if port == 443:
                    context = _tls_context(plan, folder)
                    servers.append(
                        await asyncio.start_server(host.handle_tls, ip, port, ssl=context, limit=MAX_REQUEST)
                    )
                else:
                    servers.append(await asyncio.start_server(host.handle, ip, port, limit=MAX_REQUEST))
            addresses.append(ip)
        yield addresses
    finally:
        for server in servers:
            server.close()
        for server in servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        folder.cleanup()


def _tls_context(plan: Plan, folder: tempfile.TemporaryDirectory[str]) -> ssl.SSLContext:
    """A server context presenting the plan's certificate (files in a private temp folder:
    ``load_cert_chain`` reads files only)."""
    base = f"{folder.name}/{len(plan.hits)}-{id(plan)}"
    with open(f"{base}.crt", "wb") as fh:
        fh.write(plan.tls_cert)
    with open(f"{base}.key", "wb") as fh:
        fh.write(plan.tls_key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(f"{base}.crt", f"{base}.key")
    return context


@contextlib.contextmanager
def serving(plans: Sequence[Plan], first: int = 0) -> Iterator[list[str]]:
    """``_serve`` in a thread of its own (the scanner runs its own event loop, as
    ``phaseout scan`` does); yields the addresses once every listener is bound."""
    loop = asyncio.new_event_loop()
    ready: concurrent.futures.Future[list[str]] = concurrent.futures.Future()
    stop = asyncio.Event()

    async def main() -> None:
        try:
            async with _serve(plans, first) as addresses:
                ready.set_result(addresses)
                await stop.wait()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:  # connections the scanner left open (RTSP keeps them)
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            raise

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    try:
        yield ready.result(timeout=60)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)
        loop.close()


# -- measuring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One served capture: the maker identified on its text and over the wire."""

    plan: Plan
    text_vendor: str
    wire_vendor: str
    errors: tuple[str, ...] = ()

    @property
    def truth(self) -> str:
        return self.plan.capture.true_vendor

    def verdict(self, vendor: str) -> str:
        """``correct``, ``unknown`` or ``wrong`` against the manifest's maker."""
        if vendor == self.truth:
            return "correct"
        return "unknown" if vendor in ("unknown", "") else "wrong"


def scan_settings() -> ScanSettings:
    """The scanner's defaults, on the ports a capture can be served on (80, 443, 554): the
    other default ports are closed on these addresses anyway; leaving them out only saves
    the refused connections."""
    return ScanSettings(ports=(80, 443, 554))


def replay(captures: Sequence[Capture], settings: ScanSettings | None = None) -> tuple[list[Outcome], list[Plan]]:
    """Serve every servable capture and scan it through the app's probe path.

    Returns (outcomes of the served captures, plans of those not served with their reasons)."""
    identifier = Identifier()
    plans = [plan_for(c) for c in captures]
    served = [p for p in plans if p.served]
    skipped = [p for p in plans if not p.served]
    with serving(served) as addresses:
        outcome = run_probes(addresses, settings or scan_settings())
    by_ip = {r.ip: r for r in outcome.results}
    rows = []
    for plan, ip in zip(served, addresses, strict=True):
        text = identifier.identify([observation(plan.capture.kind, read_payload(plan.capture.path))]).vendor
        result = by_ip.get(ip)
        wire = identifier.identify(result.observations).vendor if result and result.observations else "unknown"
        rows.append(Outcome(plan, text, wire, tuple(result.errors) if result else ()))
    return rows, skipped
