"""The senders: the only network and file I/O of alerts.  Each takes a checked destination
config and one payload, sends it within :data:`TIMEOUT` seconds, and returns what the other
side said, or raises :class:`DeliveryError` with why not (the outbox retries it later).

Webhooks connect to an address the allow list was checked against (the name is resolved
once, checked, and the connection pinned to that address, with the TLS name and ``Host``
header still the URL's), never follow redirects, and read at most :data:`MAX_REPLY` bytes."""

from __future__ import annotations

import datetime as dt
import http.client
import os
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from phaseout.alert.destinations import (
    SMTP_PASSWORD_ENV,
    AllowList,
    DestinationError,
    check_resolved,
    check_webhook_url,
)
from phaseout.alert.messages import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TCP_MAX,
    TIMESTAMP_HEADER,
    UDP_MAX,
    body_bytes,
    email_message,
    octet_counted,
    sign,
    syslog_message,
)

TIMEOUT = 10.0
MAX_REPLY = 64 * 1024


class DeliveryError(Exception):
    """A delivery that did not happen; the message says why (kept as the outbox row's last error)."""


@dataclass(frozen=True, slots=True)
class Sent:
    detail: str


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (TCP), in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self.address = address
        self.tls = context

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)


def _tls_context(ca: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def send_webhook(
    config: dict[str, Any],
    secret: str,
    payload: dict[str, Any],
    delivery: str,
    allow: AllowList,
    timeout: float = TIMEOUT,
    now: float | None = None,
) -> Sent:
    url = str(config["url"])
    try:
        scheme, host, port = check_webhook_url(url, allow, resolve)
        addresses = check_resolved(host, resolve(host, port), allow)
    except (DestinationError, OSError) as exc:
        raise DeliveryError(f"refused: {exc}") from None
    body = body_bytes(payload)
    stamp = int(now if now is not None else time.time())
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"phaseout/{payload.get('phaseout', '')}",
        TIMESTAMP_HEADER: str(stamp),
        SIGNATURE_HEADER: sign(secret, stamp, body),
        DELIVERY_HEADER: delivery,
        EVENT_HEADER: str(payload.get("rule", "")),
    }
    conn: http.client.HTTPConnection
    if scheme == "https":
        try:  # the CA file is read here, at every delivery: it may have gone since the alert was added
            context = _tls_context(config.get("ca"))
        except (OSError, ssl.SSLError) as exc:
            raise DeliveryError(f"webhook CA file {config.get('ca')}: {type(exc).__name__}: {exc}") from None
        conn = _PinnedHTTPS(host, port, addresses[0], timeout, context)
    else:
        conn = _PinnedHTTP(host, port, addresses[0], timeout)
    try:
        conn.request("POST", target, body=body, headers=headers)
        response = conn.getresponse()
        reply = response.read(MAX_REPLY)
    except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
        raise DeliveryError(f"webhook {host}:{port}: {type(exc).__name__}: {exc}") from None
    finally:
        conn.close()
    if not 200 <= response.status < 300:
        text = reply[:200].decode("utf-8", "replace").strip()
        raise DeliveryError(f"webhook answered HTTP {response.status}" + (f": {text}" if text else ""))
    return Sent(f"HTTP {response.status}")


def send_email(config: dict[str, Any], payload: dict[str, Any], timeout: float = TIMEOUT) -> Sent:
    msg = email_message(payload, sender=str(config["sender"]), to=list(config["to"]))
    password = None
    if config.get("password_env"):
        if not SMTP_PASSWORD_ENV.match(str(config["password_env"])):  # stored by an older version
            raise DeliveryError(f"the SMTP password variable {config['password_env']} is not an SMTP_ variable")
        password = os.environ.get(str(config["password_env"]))
        if password is None:
            raise DeliveryError(f"the SMTP password variable {config['password_env']} is not set in this process")
    try:
        with smtplib.SMTP(str(config["host"]), int(config["port"]), timeout=timeout) as smtp:
            smtp.ehlo()
            if not config.get("plain"):
                if not smtp.has_extn("starttls"):
                    raise DeliveryError(f"{config['host']} does not offer STARTTLS; nothing was sent")
                smtp.starttls(context=_tls_context(config.get("ca")))
                smtp.ehlo()
            if config.get("user"):
                smtp.login(str(config["user"]), password or "")
            refused = smtp.send_message(msg)
    except DeliveryError:
        raise
    except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
        raise DeliveryError(f"SMTP {config['host']}:{config['port']}: {type(exc).__name__}: {exc}") from None
    if refused:
        raise DeliveryError(f"SMTP refused recipient(s): {', '.join(sorted(refused))}")
    return Sent(f"accepted by {config['host']} for {len(config['to'])} recipient(s)")


def send_syslog(
    config: dict[str, Any], payload: dict[str, Any], sequence: int, version: str, timeout: float = TIMEOUT
) -> Sent:
    transport = str(config["transport"])
    message = syslog_message(
        payload,
        facility=str(config["facility"]),
        hostname=socket.gethostname(),
        procid=os.getpid(),
        sequence=sequence,
        version=version,
        at=dt.datetime.now(dt.UTC),
        limit=UDP_MAX if transport == "udp" else TCP_MAX,
    )
    host, port = str(config["host"]), int(config["port"])
    try:
        if transport == "udp":
            info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
            with socket.socket(info[0], socket.SOCK_DGRAM) as sock:
                sock.settimeout(timeout)
                sock.sendto(message, info[4])
        else:
            with socket.create_connection((host, port), timeout) as sock:
                sock.sendall(octet_counted(message))
    except OSError as exc:
        raise DeliveryError(f"syslog {transport}://{host}:{port}: {type(exc).__name__}: {exc}") from None
    return Sent(f"{len(message)} octets over {transport}")


def send_file(config: dict[str, Any], payload: dict[str, Any]) -> Sent:
    """Append one JSON line; the line is written with one ``write`` on an ``O_APPEND`` file and
    flushed to disk, so concurrent writers never interleave and a crash never leaves half a line
    followed by another."""
    line = body_bytes(payload) + b"\n"
    try:
        fd = os.open(str(config["path"]), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise DeliveryError(f"file {config['path']}: {exc.strerror or exc}") from None
    return Sent(f"{len(line)} bytes appended")


def send(
    kind: str,
    config: dict[str, Any],
    secret: str,
    payload: dict[str, Any],
    *,
    delivery: str,
    sequence: int,
    allow: AllowList,
    version: str,
    timeout: float = TIMEOUT,
) -> Sent:
    """Send ``payload`` to one destination (see the module docstring)."""
    if kind == "webhook":
        return send_webhook(config, secret, payload, delivery, allow, timeout)
    if kind == "email":
        return send_email(config, payload, timeout)
    if kind == "syslog":
        return send_syslog(config, payload, sequence, version, timeout)
    if kind == "file":
        return send_file(config, payload)
    raise DeliveryError(f"no destination kind {kind!r}")
