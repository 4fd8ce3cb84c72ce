"""MAC address -> who registered its prefix.

Two sources, longest match first: the curated table of the covered makers, their subsidiaries,
OEM brands and namesakes (``data/oui.csv``, MA-L/MA-M/MA-S), then the full IEEE registry for
everyone else: a copy the user loaded with ``phaseout knowledge update --oui FILE`` if there is
one, else the copy shipped in ``netaddr``.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from phaseout.knowledge.model import OuiEntry


def user_registry_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "phaseout" / "knowledge" / "oui-registry.csv"


@dataclass(frozen=True, slots=True)
class OuiMatch:
    prefix: str  # the matched prefix, as hex
    registrant: str
    curated: OuiEntry | None  # set when the curated table matched


def is_locally_administered(mac_hex: str) -> bool:
    """The second-least-significant bit of the first octet: random / virtual MACs carry no maker."""
    return len(mac_hex) >= 2 and bool(int(mac_hex[1], 16) & 2)


def load_registry_csv(path: Path) -> dict[str, str]:
    """An IEEE registry CSV (``Registry,Assignment,Organization Name,Organization Address``),
    as downloaded from the IEEE (MA-L, MA-M or MA-S file)."""
    out: dict[str, str] = {}
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        for row in csv.DictReader(fh):
            assignment = (row.get("Assignment") or "").strip().upper()
            org = (row.get("Organization Name") or "").strip()
            if assignment and org and all(c in "0123456789ABCDEF" for c in assignment):
                out[assignment] = org
    return out


class OuiResolver:
    def __init__(self, curated: dict[str, OuiEntry], registry: dict[str, str] | None = None) -> None:
        self.curated = curated
        self.registry = registry
        self.long_prefix_parents = {p[:6] for p in curated if len(p) > 6}
        if registry:
            self.long_prefix_parents |= {p[:6] for p in registry if len(p) > 6}

    def key(self, mac_hex: str) -> str:
        """The shortest part of the MAC that decides the lookup: 6 hex digits, or 9 where a
        MA-M / MA-S block sits inside the MA-L range.  Lets callers cache by prefix."""
        return mac_hex[:9] if mac_hex[:6] in self.long_prefix_parents else mac_hex[:6]

    def lookup(self, mac_hex: str) -> OuiMatch | None:
        for size in (9, 7, 6):
            entry = self.curated.get(mac_hex[:size])
            if entry is not None:
                return OuiMatch(entry.prefix, entry.registrant, entry)
        if self.registry is not None:  # the user's newer copy first, netaddr's for anything it lacks
            for size in (9, 7, 6):
                org = self.registry.get(mac_hex[:size])
                if org:
                    return OuiMatch(mac_hex[:size], org, None)
        org = netaddr_registry().get(mac_hex[:6], "")
        return OuiMatch(mac_hex[:6], org, None) if org else None


@lru_cache(maxsize=1)
def netaddr_registry() -> dict[str, str]:
    """The IEEE MA-L registry shipped in netaddr (``netaddr/eui/oui.txt``) as a dict, read once:
    netaddr's own lookup re-reads the file per prefix, far too slow for a million devices."""
    from importlib import resources

    out: dict[str, str] = {}
    text = resources.files("netaddr.eui").joinpath("oui.txt").read_bytes().decode("utf-8", errors="replace")
    for line in text.splitlines():
        if "(hex)" in line:
            prefix, _, org = line.partition("(hex)")
            key = prefix.strip().replace("-", "").upper()
            if len(key) == 6:
                out.setdefault(key, org.strip())
    return out
