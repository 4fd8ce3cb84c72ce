"""Organisation settings kept in the store's ``meta`` table (so a team shares them): the
currency money is reported in, for now.  Keys are namespaced ``setting.NAME``."""

from __future__ import annotations

import ipaddress
import re

from sqlalchemy import Connection, Engine, select

from phaseout.errors import UsageError
from phaseout.store.engine import writing
from phaseout.store.schema import meta

KNOWN = {
    "currency": "ISO 4217 code money is reported in, e.g. GBP, EUR, USD (reports and dashboard)",
    "alert-webhook-allow": "hosts and CIDR blocks webhook alerts may be sent to, comma-separated (none: no webhooks)",
    "alert-smtp-plain-localhost": "yes: e-mail alerts may use plain SMTP to a relay on this host (else STARTTLS)",
}
_ALLOW_ITEM = re.compile(r"^[A-Za-z0-9_.:/-]{1,253}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


#: the widest webhook allow-list block, as a scan's ``--scope`` (``discover.scope.WIDEST_PREFIX``,
#: which the store may not import): ``10.20.0.0/0`` is a typo for every address there is
_WIDEST = {4: 8, 6: 48}
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def _allow_block_problem(item: str) -> str | None:
    """What is wrong with an allow-list item that is (or tries to be) an address block."""
    try:
        net = ipaddress.ip_network(item, strict=False)
    except ValueError:
        if "/" in item or re.fullmatch(r"[0-9.]+", item):
            return "is not an address block"
        return None  # a host name
    if net.version == 6 and net.subnet_of(_MAPPED):
        return "is an IPv4-mapped block: write its IPv4 form"
    if net.prefixlen < _WIDEST[net.version]:
        return f"is wider than a /{_WIDEST[net.version]}: it would allow every internal service (a typo?)"
    return None


def _key(name: str) -> str:
    return f"setting.{name}"


def check_setting(name: str, value: str) -> str:
    """The value as stored, or a usage error naming what is allowed."""
    if name not in KNOWN:
        raise UsageError(f"no setting {name!r}", hint=f"settings: {', '.join(sorted(KNOWN))}")
    if name == "currency":
        value = value.strip().upper()
        if not _CURRENCY.match(value):
            raise UsageError(f"currency {value!r} is not a three-letter ISO 4217 code", hint="e.g. GBP, EUR, USD")
    if name == "alert-webhook-allow":
        items = [i for i in re.split(r"[,\s]+", value.strip()) if i]
        bad = [i for i in items if not _ALLOW_ITEM.match(i)]
        if bad:
            raise UsageError(
                f"{bad[0]!r} is neither a host name nor an address block", hint="e.g. hooks.example.org, 10.20.0.0/16"
            )
        for item in items:
            problem = _allow_block_problem(item)
            if problem:
                raise UsageError(f"{item!r} {problem}", hint="e.g. hooks.example.org, 10.20.0.0/16")
        value = ", ".join(items)
    if name == "alert-smtp-plain-localhost":
        value = value.strip().lower()
        if value not in ("yes", "no"):
            raise UsageError(f"{name} is yes or no")
    return value


def get_setting(conn: Connection, name: str) -> str | None:
    value = conn.execute(select(meta.c.value).where(meta.c.key == _key(name))).scalar()
    return None if value is None else str(value)


def all_settings(conn: Connection) -> dict[str, str | None]:
    return {name: get_setting(conn, name) for name in sorted(KNOWN)}


def set_setting(engine: Engine, name: str, value: str, actor: str) -> str:
    """Store a checked setting and record the change in the audit trail."""
    from phaseout.store.audit import record_event

    value = check_setting(name, value)
    with writing(engine) as conn:
        before = get_setting(conn, name)
        if before is None:
            conn.execute(meta.insert().values(key=_key(name), value=value))
        else:
            conn.execute(meta.update().where(meta.c.key == _key(name)).values(value=value))
        record_event(conn, actor, "setting.set", "setting", name, {"value": before}, {"value": value})
    return value
