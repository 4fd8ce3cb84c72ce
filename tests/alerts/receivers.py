"""Local receivers for the alert tests, all on 127.0.0.1 and started by the test: a webhook
(http.server), syslog over UDP and TCP, and an SMTP server with STARTTLS (aiosmtpd) with a
self-signed certificate made for the test."""

from __future__ import annotations

import datetime as dt
import re
import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

#: RFC 5424 (section 6): HEADER SP STRUCTURED-DATA [SP MSG], MSG as BOM + UTF-8.
RFC5424 = re.compile(
    rb"^<(?P<pri>\d{1,3})>1 (?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{1,6}Z) (?P<host>[\x21-\x7e]{1,255}) "
    rb"(?P<app>[\x21-\x7e]{1,48}) (?P<proc>[\x21-\x7e]{1,128}) (?P<msgid>[\x21-\x7e]{1,32}) "
    rb"(?P<sd>(\[[^\]]+\])+) \xef\xbb\xbf(?P<msg>.*)$",
    re.DOTALL,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Webhook:
    port: int
    requests: list[dict[str, Any]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  # status codes to give, in turn (then 200)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@contextmanager
def webhook(port: int = 0) -> Iterator[Webhook]:
    hook = Webhook(port)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            hook.requests.append({"headers": dict(self.headers), "body": body, "path": self.path})
            status = hook.answers.pop(0) if hook.answers else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    hook.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Syslog:
    port: int
    transport: str
    messages: list[bytes] = field(default_factory=list)
    raw: bytearray = field(default_factory=bytearray)


@contextmanager
def syslog_receiver(transport: str) -> Iterator[Syslog]:
    """UDP: one datagram is one message.  TCP: the stream is kept raw and split by the octet
    counts (RFC 6587), so a framing error shows."""
    sink = Syslog(0, transport)
    if transport == "udp":

        class UDP(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sink.messages.append(self.request[0])

        server: socketserver.BaseServer = socketserver.ThreadingUDPServer(("127.0.0.1", 0), UDP)
    else:

        class TCP(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                while chunk := self.request.recv(65536):
                    sink.raw.extend(chunk)

        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), TCP)
    sink.port = server.server_address[1]  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()


def split_octet_counted(raw: bytes) -> list[bytes]:
    out = []
    rest = bytes(raw)
    while rest:
        length, sep, rest = rest.partition(b" ")
        assert sep and length.isdigit(), f"not octet-counted: {rest[:40]!r}"
        n = int(length)
        assert len(rest) >= n, "a frame is cut short"
        out.append(rest[:n])
        rest = rest[n:]
    return out


def self_signed(tmp: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and localhost) and its key, as PEM files."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "phaseout test relay")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "relay.pem", tmp / "relay.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@dataclass
class Mailbox:
    port: int
    messages: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def smtp_server(tmp: Path, *, starttls: bool = True) -> Iterator[tuple[Mailbox, Path]]:
    """aiosmtpd on 127.0.0.1 that requires STARTTLS (or offers none at all)."""
    from aiosmtpd.controller import Controller

    cert, key = self_signed(tmp)
    box = Mailbox(free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            box.messages.append(
                {
                    "from": envelope.mail_from,
                    "to": list(envelope.rcpt_tos),
                    "content": envelope.content,
                    "tls": session.ssl is not None,
                }
            )
            return "250 OK"

    context = None
    if starttls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
    controller = Controller(
        Handler(), hostname="127.0.0.1", port=box.port, tls_context=context, require_starttls=starttls
    )
    controller.start()
    try:
        yield box, cert
    finally:
        controller.stop()
