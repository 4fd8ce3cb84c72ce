"""Which addresses a scan may touch.  Nothing outside the declared scope is ever contacted, and
public addresses need an explicit ``allow_public``: a typo in a target must not become a scan
of somebody else's network."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from phaseout.errors import UsageError
from phaseout.normalize import address_span

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_HOSTS = 65_536
#: The widest scope accepted without ``allow_wide``: an IPv4 /8 (all of 10.0.0.0/8, the largest
#: private block, RFC 1918) and an IPv6 /48 (one site's allocation, RFC 6177).  ``0.0.0.0/0``,
#: ``::/0`` or the typo ``127.0.0.0/0`` (which means every IPv4 address) would make the scope
#: guard meaningless, so they are refused unless forced.
WIDEST_PREFIX = {4: 8, 6: 48}
#: IPv4-mapped IPv6 (RFC 4291 2.5.5.2): a connection to ``::ffff:10.1.2.3`` goes to 10.1.2.3, so
#: a scope in it is an IPv4 scope in disguise (``::ffff:0:0/96`` is IPv4's /0): refused, with
#: the IPv4 form as the hint.
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def parse_scope(cidrs: list[str], allow_wide: bool = False) -> list[Network]:
    if not cidrs:
        raise UsageError("a scan needs --scope", hint="declare the networks you may scan, e.g. --scope 127.20.0.0/16")
    out: list[Network] = []
    for text in cidrs:
        try:
            net = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            raise UsageError(
                f"--scope {text!r} is not a network", hint="use CIDR notation, e.g. 10.20.0.0/16"
            ) from None
        if net.version == 6 and net.subnet_of(_MAPPED):
            raise UsageError(
                f"--scope {text} is an IPv4-mapped IPv6 block: its addresses are IPv4 addresses "
                f"({_as_ipv4(net)}), and ::ffff:0:0/96 is all of them",
                hint=f"write the IPv4 form: --scope {_as_ipv4(net)}",
            )
        widest = WIDEST_PREFIX[net.version]
        if net.prefixlen < widest and not allow_wide:
            meaning = (
                f"every IPv{net.version} address" if net.prefixlen == 0 else f"{net} ({net.num_addresses:,} addresses)"
            )
            raise UsageError(
                f"--scope {text} is wider than /{widest}: it means {meaning}",
                hint=f"a typo? Scopes up to /{widest} are accepted (e.g. {_narrowed(text, widest)}); "
                "a wider one needs --allow-wide-scope",
            )
        out.append(net)
    return out


def _as_ipv4(net: ipaddress.IPv6Network) -> str:
    """``::ffff:10.9.0.0/120`` as ``10.9.0.0/24``."""
    first = net.network_address.ipv4_mapped
    assert first is not None
    return str(ipaddress.ip_network(f"{first}/{net.prefixlen - 96}"))


def _narrowed(text: str, prefix: int) -> str:
    """What the user probably meant: the address as typed, at the widest accepted size."""
    return str(ipaddress.ip_network(f"{text.strip().split('/')[0]}/{prefix}", strict=False))


def expand_targets(targets: list[str]) -> Iterator[IPAddress]:
    """Addresses from ``127.20.0.5``, ``127.20.0.0/24`` or ``127.20.0.1-50`` forms (the one
    grammar: :func:`phaseout.normalize.address_span`)."""
    for target in targets:
        try:
            span = address_span(target)
        except ValueError:
            raise UsageError(
                f"target {target!r} is not an address, a network or a range",
                hint="e.g. 127.20.0.5, 127.20.0.0/24 or 127.20.0.1-50",
            ) from None
        yield from span.hosts()


def in_scope(
    targets: list[str],
    scope: list[str],
    allow_public: bool = False,
    max_hosts: int = MAX_HOSTS,
    allow_wide: bool = False,
) -> list[str]:
    """The target addresses, every one inside the scope; refuses the whole scan otherwise."""
    networks = parse_scope(scope, allow_wide)
    hosts: list[str] = []
    for addr in expand_targets(targets):
        if not any(addr in net for net in networks):
            raise UsageError(
                f"{addr} is outside the declared scope ({', '.join(scope)})",
                hint="nothing was sent; fix the target or widen --scope deliberately",
            )
        if addr.is_global and not allow_public:
            raise UsageError(f"{addr} is a public address", hint="scanning public addresses needs --allow-public")
        hosts.append(str(addr))
        if len(hosts) > max_hosts:
            raise UsageError(f"more than {max_hosts:,} hosts", hint="split the scan or raise --max-hosts")
    return list(dict.fromkeys(hosts))
