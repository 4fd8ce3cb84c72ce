"""Where alerts go, checked before anything is stored (pure).

A destination is a kind and a small JSON config:

* ``webhook``: ``{"url": ...}`` (http or https); the host must be in the admin's allow list
  (setting ``alert-webhook-allow``: host names and CIDR blocks), checked when the alert is added
  and again, against the addresses the name resolves to, at every delivery;
* ``email``: ``{"to": [...], "sender": ..., "host": ..., "port": 587, "user": ...,
  "password_env": ..., "plain": false, "ca": ...}``: STARTTLS is required unless the admin
  allowed plain SMTP to the local host (setting ``alert-smtp-plain-localhost``) and the host is
  a loopback address;
* ``syslog``: ``{"transport": "udp"|"tcp", "host": ..., "port": 514, "facility": "local0"}``
  (RFC 5424 messages; TCP with octet-counting framing, RFC 6587);
* ``file``: ``{"path": ...}``: one JSON line per alert, appended (air-gapped sites, the demo).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from phaseout.discover.scope import WIDEST_PREFIX

KINDS = ("webhook", "email", "syslog", "file")
FACILITIES = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
    "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "local0": 16, "local1": 17, "local2": 18,
    "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}  # fmt: skip
MAX_URL = 2000
_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")
_EMAIL = re.compile(r"^[^@\s<>,;\"]{1,64}@[^@\s<>,;\"]{1,253}$")
#: the variables an e-mail alert may take its SMTP password from: the relay is sent the value,
#: and whoever adds an alert (a dashboard admin) must not be able to name the server's other
#: secrets (``PHASEOUT_DB``, cloud keys) and point the alert at a relay of their own
SMTP_PASSWORD_ENV = re.compile(r"^(PHASEOUT_)?SMTP_[A-Za-z0-9_]{1,120}$")
#: IPv4-mapped IPv6: a block in it is an IPv4 block in disguise (``::ffff:0:0/96`` is all of IPv4)
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


class DestinationError(ValueError):
    """A destination that cannot be used, with what to do about it."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True, slots=True)
class AllowList:
    """The admin's allow list for webhook hosts: exact host names and address blocks."""

    names: frozenset[str]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    @classmethod
    def parse(cls, text: str | None) -> AllowList:
        names: set[str] = set()
        nets = []
        for item in re.split(r"[,\s]+", text or ""):
            item = item.strip().lower().rstrip(".")
            if not item:
                continue
            try:
                net = ipaddress.ip_network(item, strict=False)
            except ValueError:
                if not _HOST.match(item):
                    raise DestinationError(
                        f"{item!r} in the webhook allow list is neither a host name nor an address block",
                        "e.g. phaseout settings set alert-webhook-allow 'hooks.example.org, 10.20.0.0/16'",
                    ) from None
                names.add(item)
                continue
            if net.prefixlen < WIDEST_PREFIX[net.version] or (net.version == 6 and net.subnet_of(_MAPPED)):
                raise DestinationError(
                    f"{item!r} in the webhook allow list is wider than a /{WIDEST_PREFIX[net.version]} "
                    "or an IPv4-mapped block: it would allow the server's own loopback, the cloud "
                    "metadata address and every internal service",
                    "name the receivers' hosts or a narrow block, e.g. 10.20.0.0/16",
                )
            nets.append(net)
        return cls(frozenset(names), tuple(nets))

    def text(self) -> str:
        return ", ".join([*sorted(self.names), *(str(n) for n in self.networks)])

    def allows_name(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.names

    def allows_address(self, address: str) -> bool:
        try:
            addr = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(addr.version == n.version and addr in n for n in self.networks)


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


Resolve = Callable[[str, int], list[str]]


def check_webhook_url(url: str, allow: AllowList, resolve: Resolve | None = None) -> tuple[str, str, int]:
    """(scheme, host, port) of an allowed webhook URL, or :class:`DestinationError`.  A host
    name the list does not name is allowed only when ``resolve`` (DNS, at the caller's edge)
    puts every address it has inside an allowed block."""
    if len(url) > MAX_URL:
        raise DestinationError(f"the webhook URL is longer than {MAX_URL} characters")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise DestinationError(f"a webhook URL must start with https:// or http:// (got {url[:60]!r})")
    if parts.username or parts.password:
        raise DestinationError("a webhook URL must not carry a user name or password", "the body is signed instead")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise DestinationError(f"{url[:80]!r} has a bad port") from None
    if not host:
        raise DestinationError(f"{url[:80]!r} names no host")
    host = host.lower()
    literal = _literal(host)
    port = port or (443 if parts.scheme == "https" else 80)
    if literal:
        allowed = allow.allows_address(literal)
    elif allow.allows_name(host):
        allowed = True
    elif _HOST.match(host) and allow.networks and resolve is not None:
        try:
            addresses = resolve(host, port)
        except OSError as exc:
            raise DestinationError(f"webhook host {host} does not resolve: {exc}") from None
        check_resolved(host, addresses, allow)
        allowed = True
    else:
        allowed = False
    if not allowed:
        listed = allow.text() or "nothing"
        raise DestinationError(
            f"webhook host {host} is outside what the admin allowed (allowed: {listed})",
            "the admin allows hosts with: phaseout settings set alert-webhook-allow 'HOST, CIDR, ...'",
        )
    return parts.scheme, host, port


def check_resolved(host: str, addresses: Iterable[str], allow: AllowList) -> list[str]:
    """At delivery: the addresses to connect to.  A host allowed by name may resolve anywhere
    the admin's DNS says; any other host must resolve only inside an allowed block (a name that
    points outside, or is re-pointed later, is refused)."""
    found = list(dict.fromkeys(addresses))
    if not found:
        raise DestinationError(f"{host} does not resolve")
    if allow.allows_name(host):
        return found
    outside = [a for a in found if not allow.allows_address(a)]
    if outside:
        raise DestinationError(
            f"webhook host {host} resolves to {', '.join(outside[:3])}, outside what the admin allowed",
            "phaseout settings show (alert-webhook-allow)",
        )
    return found


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    literal = _literal(host)
    return literal is not None and ipaddress.ip_address(literal).is_loopback


def _port(value: Any, default: int) -> int:
    try:
        port = int(value if value not in (None, "") else default)
    except (TypeError, ValueError):
        raise DestinationError(f"port {value!r} is not a number") from None
    if not 1 <= port <= 65535:
        raise DestinationError(f"port {port} is out of range (1-65535)")
    return port


def _host(value: Any) -> str:
    host = str(value or "").strip().lower()
    if not host or not (_HOST.match(host) or _literal(host)):
        raise DestinationError(f"{value!r} is not a host name or address")
    return host


def check_destination(
    kind: str, config: dict[str, Any], *, allow: AllowList, plain_localhost: bool, resolve: Resolve | None = None
) -> dict[str, Any]:
    """The config as stored, checked; :class:`DestinationError` says what is wrong."""
    if kind == "webhook":
        url = str(config.get("url") or "")
        check_webhook_url(url, allow, resolve)
        out: dict[str, Any] = {"url": url.strip()}
        if config.get("ca"):
            out["ca"] = str(config["ca"])
        return out
    if kind == "email":
        to = [str(a).strip() for a in _list(config.get("to")) if str(a).strip()]
        if not to or len(to) > 50:
            raise DestinationError("an e-mail alert needs 1 to 50 recipients (--email ADDRESS)")
        sender = str(config.get("sender") or "").strip()
        for address in [*to, sender]:
            if not _EMAIL.match(address):
                raise DestinationError(f"{address!r} is not an e-mail address", "e.g. --from phaseout@example.org")
        host = _host(config.get("host"))
        plain = bool(config.get("plain"))
        if plain and not (plain_localhost and is_loopback(host)):
            raise DestinationError(
                "SMTP without STARTTLS is refused",
                "plain SMTP is allowed only to a loopback relay, and only once the admin ran: "
                "phaseout settings set alert-smtp-plain-localhost yes",
            )
        out = {"to": to, "sender": sender, "host": host, "port": _port(config.get("port"), 587), "plain": plain}
        if config.get("user"):
            out["user"] = str(config["user"])
        env = config.get("password_env")
        if env:
            if not SMTP_PASSWORD_ENV.match(str(env)):
                raise DestinationError(
                    f"{str(env)[:130]!r}: the SMTP password variable's name must begin with SMTP_ or PHASEOUT_SMTP_",
                    "e.g. --smtp-password-env SMTP_PASSWORD (the relay is sent its value: name no other secret)",
                )
            out["password_env"] = str(env)
        if config.get("ca"):
            out["ca"] = str(config["ca"])
        return out
    if kind == "syslog":
        transport = str(config.get("transport") or "udp").lower()
        if transport not in ("udp", "tcp"):
            raise DestinationError(f"syslog transport {transport!r}: udp or tcp")
        facility = str(config.get("facility") or "local0").lower()
        if facility not in FACILITIES:
            raise DestinationError(f"syslog facility {facility!r} unknown", f"one of: {', '.join(FACILITIES)}")
        return {
            "transport": transport,
            "host": _host(config.get("host")),
            "port": _port(config.get("port"), 514),
            "facility": facility,
        }
    if kind == "file":
        path = str(config.get("path") or "").strip()
        if not path or "\x00" in path:
            raise DestinationError("a file alert needs a path (--file PATH)")
        return {"path": path}
    raise DestinationError(f"no alert destination {kind!r}", f"one of: {', '.join(KINDS)}")


def _list(value: Any) -> Sequence[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in re.split(r"[,;\s]+", value) if v]
    return list(value)


def parse_syslog_target(text: str) -> dict[str, Any]:
    """``udp://host:514`` or ``tcp://host:6514`` (``host`` alone: UDP, port 514)."""
    scheme, sep, rest = text.strip().partition("://")
    if not sep:
        scheme, rest = "udp", text.strip()
    parts = urlsplit(f"//{rest}")
    try:
        port = parts.port
    except ValueError:
        raise DestinationError(f"{text!r} has a bad port") from None
    return {"transport": scheme.lower(), "host": parts.hostname or "", "port": port or 514}


def describe(kind: str, config: dict[str, Any]) -> str:
    """One line for listings (never a secret)."""
    if kind == "webhook":
        return str(config.get("url"))
    if kind == "email":
        tls = "plain" if config.get("plain") else "STARTTLS"
        return f"{', '.join(config.get('to', []))} via {config.get('host')}:{config.get('port')} ({tls})"
    if kind == "syslog":
        return f"{config.get('transport')}://{config.get('host')}:{config.get('port')} ({config.get('facility')})"
    return str(config.get("path"))
