"""One rule for "is this the same device?", shared by imports, scans and other tools' exports.

A record (a spreadsheet row, a scanned host, a line of an nmap report) is the same device as a
stored one when, in this order:

1. their MACs are equal (a MAC that cannot name one device, all zeros or a group address such
   as broadcast, is no key: :func:`mac_key`);
2. their serial numbers agree (see :func:`serials_agree`) and their MACs do not contradict;
3. their asset IDs (the organisation's own tag) are equal and neither MAC nor serial contradicts;
4. they hold the same address: the same (site, IP), or, for a scan that names no site, an IP
   that exactly one known device holds (estates reuse one address plan in every store, so a
   bare IP is only trusted when it is unambiguous) — and no MAC, serial or asset ID contradicts;
5. for rows that carry none of those keys, the same row fingerprint (the row's own values)
   within the same site, taken in order: the n-th such row of a file is the n-th stored device
   with that fingerprint, so re-importing a register with no MAC, serial or IP column stores
   nothing twice while two identical rows stay two devices.

A contradiction (two different MACs, serials that do not agree, two asset tags) always means
two devices: a replacement that took the old camera's address is a new device, never an
overwrite.

Serials: Hikvision writes the same serial with or without the model in front
(``DS-2CD2386G2-IU20210101AAWRJ12345678`` on the label and in ISAPI, ``J12345678`` in some
exports), so two serials agree when they are equal, or when the longer ends with the shorter and
the shorter has at least :data:`MIN_SERIAL_TAIL` characters.  Serials are compared upper-cased
with spaces removed.  Decided once here; imports and scans used to disagree (exact versus
"contains anywhere").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from phaseout.domain import MatchKeys as Keys
from phaseout.domain import MatchResult as Match
from phaseout.normalize import mac_key

#: The shortest serial that may match the end of a longer one (Hikvision's short form is 9).
MIN_SERIAL_TAIL = 8


def serial_key(serial: str | None) -> str | None:
    """A serial as compared: upper case, no spaces; ``None`` for blanks."""
    if not serial:
        return None
    if " " not in serial and "\t" not in serial:  # the common case: one word
        return serial.upper()
    key = "".join(serial.split()).upper()
    return key or None


def serials_agree(a: str, b: str) -> bool:
    """Two normalised serials name the same device (see the module's docstring)."""
    if a == b:
        return True
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= MIN_SERIAL_TAIL and long.endswith(short)


def asset_key(asset_id: str | None) -> str | None:
    if not asset_id:
        return None
    key = " ".join(asset_id.split()).upper()
    return key or None


#: One device id, or several when a key is shared (kept as an int in the common case: a list
#: per device would cost a million allocations per import).
_Ids = int | list[int]


#: ``by_ip``'s mark for an address several devices hold.
SHARED = -1


def _put(index: dict[str, _Ids], key: str, device_id: int) -> None:
    held = index.get(key)
    if held is None:
        index[key] = device_id
    elif isinstance(held, int):
        if held != device_id:
            index[key] = [held, device_id]
    elif device_id not in held:
        held.append(device_id)


def _ids(index: dict[str, _Ids], key: str) -> tuple[int, ...] | list[int]:
    held = index.get(key)
    if held is None:
        return ()
    return (held,) if isinstance(held, int) else held


def _drop(index: dict[str, _Ids], key: str, device_id: int) -> None:
    held = index.get(key)
    if held == device_id:
        del index[key]
    elif isinstance(held, list) and device_id in held:
        held.remove(device_id)


@dataclass(slots=True)
class DeviceKeys:
    """An in-memory index of the keys of every known device (a million devices fit)."""

    known: dict[int, Keys] = field(default_factory=dict)
    by_mac: dict[str, int] = field(default_factory=dict)
    by_tail: dict[str, _Ids] = field(default_factory=dict)
    by_asset: dict[str, int] = field(default_factory=dict)
    by_site_ip: dict[tuple[int, str], int] = field(default_factory=dict)
    #: the one device holding an address, or SHARED when several do (a bare IP then matches none)
    by_ip: dict[str, int] = field(default_factory=dict)
    by_fingerprint: dict[tuple[int | None, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    #: fingerprints already taken by the current import: key -> how many matched so far
    taken: dict[tuple[int | None, str], int] = field(default_factory=lambda: defaultdict(int))
    #: True while loading the stored devices (``index_rows``); False once records are matched
    building: bool = True

    # -- building -------------------------------------------------------------------------------

    def add(self, device_id: int, keys: Keys) -> None:
        """Index a device, or fill the keys it lacked (a key once known is never replaced: the
        first MAC a device was seen with stays its MAC)."""
        old = self.known.get(device_id)
        if old is None:  # the hot path: a new device
            self.known[device_id] = keys
            mac, serial, asset_id, site_id, ip, fp = keys
            if mac:
                self.by_mac.setdefault(mac, device_id)
            if serial:
                tail = serial[-MIN_SERIAL_TAIL:]
                if tail in self.by_tail:
                    _put(self.by_tail, tail, device_id)
                else:
                    self.by_tail[tail] = device_id
            if asset_id:
                self.by_asset.setdefault(asset_id, device_id)
            if ip:
                if site_id is not None:
                    self.by_site_ip[(site_id, ip)] = device_id
                if self.by_ip.setdefault(ip, device_id) != device_id:
                    self.by_ip[ip] = SHARED
            if fp:
                slot = (site_id, fp)
                self.by_fingerprint[slot].append(device_id)
                if not self.building:
                    self.taken[slot] += 1  # a row of this import made it: no later row of it may match it
            return
        merged = _fill(old, keys)
        self.known[device_id] = merged
        if merged.mac and not old.mac:
            self.by_mac.setdefault(merged.mac, device_id)
        if merged.serial and not old.serial:
            _put(self.by_tail, merged.serial[-MIN_SERIAL_TAIL:], device_id)
        if merged.asset_id and not old.asset_id:
            self.by_asset.setdefault(merged.asset_id, device_id)
        if keys.ip:
            if keys.site_id is not None:
                self.by_site_ip[(keys.site_id, keys.ip)] = device_id  # the newest holder wins
            if self.by_ip.setdefault(keys.ip, device_id) != device_id:
                self.by_ip[keys.ip] = SHARED
        if merged.fingerprint and old.fingerprint != merged.fingerprint:
            self.by_fingerprint[(merged.site_id, merged.fingerprint)].append(device_id)

    def move(self, device_id: int, site_id: int) -> None:
        """A site-less device learnt its site (a scan named it)."""
        keys = self.known.get(device_id)
        if keys is None:
            return
        self.known[device_id] = keys._replace(site_id=site_id)
        if keys.ip:
            self.by_site_ip[(site_id, keys.ip)] = device_id

    def forget(self, device_id: int) -> None:
        """A device folded into another: no record may match it again."""
        keys = self.known.pop(device_id, None)
        if keys is None:
            return
        if keys.mac and self.by_mac.get(keys.mac) == device_id:
            del self.by_mac[keys.mac]
        if keys.asset_id and self.by_asset.get(keys.asset_id) == device_id:
            del self.by_asset[keys.asset_id]
        if keys.serial:
            _drop(self.by_tail, keys.serial[-MIN_SERIAL_TAIL:], device_id)
        if keys.ip:
            if self.by_ip.get(keys.ip) == device_id:
                del self.by_ip[keys.ip]  # (a SHARED address stays shared: never a wrong bare-IP match)
            if keys.site_id is not None and self.by_site_ip.get((keys.site_id, keys.ip)) == device_id:
                del self.by_site_ip[(keys.site_id, keys.ip)]

    # -- matching -------------------------------------------------------------------------------

    def contradicts(self, device_id: int, keys: Keys) -> bool:
        """The record names a MAC, serial or asset ID the device cannot have."""
        known = self.known.get(device_id)
        if known is None:
            return False
        if keys.mac and known.mac and keys.mac != known.mac:
            return True
        if keys.serial and known.serial and not serials_agree(keys.serial, known.serial):
            return True
        return bool(keys.asset_id and known.asset_id and keys.asset_id != known.asset_id)

    def _by_serial(self, serial: str) -> int | None:
        for did in _ids(self.by_tail, serial[-MIN_SERIAL_TAIL:]):
            known = self.known[did].serial
            if known and serials_agree(serial, known):
                return did
        return None

    def find(self, keys: Keys, *, bare_ip: bool = False) -> Match | None:
        """The known device this record is, or ``None`` for a new device.

        ``bare_ip``: the record has no site (a scan without ``--site``), so an address matches
        only when exactly one known device holds it."""
        mac, serial, asset_id, _site_id, ip, fp = keys
        if mac and (did := self.by_mac.get(mac)) is not None:
            return self._settle(Match(did, "mac"), keys)
        if (
            serial
            and serial[-MIN_SERIAL_TAIL:] in self.by_tail
            and (did := self._by_serial(serial)) is not None
            and not self.contradicts(did, keys)
        ):
            return self._settle(Match(did, "serial"), keys)
        if asset_id and (did := self.by_asset.get(asset_id)) is not None and not self.contradicts(did, keys):
            return self._settle(Match(did, "asset_id"), keys)
        if ip:
            did = self._address_holder(keys, bare_ip=bare_ip)
            if did is not None and not self.contradicts(did, keys):
                return Match(did, "address")
            return None
        if fp and not keys.has_identity:
            slot = (keys.site_id, fp)
            holders = self.by_fingerprint.get(slot, [])
            n = self.taken[slot]
            if n < len(holders):
                self.taken[slot] = n + 1
                return Match(holders[n], "fingerprint")
        return None

    def _address_holder(self, keys: Keys, *, bare_ip: bool) -> int | None:
        assert keys.ip is not None
        if keys.site_id is not None and not bare_ip:
            return self.by_site_ip.get((keys.site_id, keys.ip))
        held = self.by_ip.get(keys.ip)
        return None if held is None or held == SHARED else held

    def _settle(self, match: Match, keys: Keys) -> Match:
        """A strong-key match to a device with no site, for a record that has one: when the
        site already holds a device at that address (imported from the register, not yet seen
        on the network), the two are one device — fold the site-less one into the site's."""
        known = self.known.get(match.device_id)
        if known is None or known.site_id is not None or keys.site_id is None or not keys.ip:
            return match
        holder = self.by_site_ip.get((keys.site_id, keys.ip))
        if holder is None or holder == match.device_id or self.contradicts(holder, _keys_of(known)):
            return match
        return Match(holder, match.by, fold=(match.device_id,))

    def new_import(self) -> None:
        """Start counting fingerprint matches afresh (one count per file)."""
        self.taken.clear()


def _keys_of(keys: Keys) -> Keys:
    return Keys(keys.mac, keys.serial, keys.asset_id)


def _fill(old: Keys, new: Keys) -> Keys:
    return Keys(
        old.mac or new.mac,
        old.serial or new.serial,
        old.asset_id or new.asset_id,
        new.site_id if new.site_id is not None else old.site_id,
        new.ip or old.ip,
        old.fingerprint or new.fingerprint,
    )


def fingerprint(site: str | None, fields: dict[str, object]) -> str:
    """A row's own values as a short digest: how a keyless row is recognised when the same
    register is imported again.  Case and spacing do not count; the row number does not."""
    import hashlib

    import orjson

    parts = sorted(
        (str(k).lower(), " ".join(str(v).split()).lower())
        for k, v in fields.items()
        if v not in (None, "") and str(k).lower() not in ("row", "site")
    )
    body = orjson.dumps([" ".join((site or "").split()).lower(), parts])
    return hashlib.sha256(body).hexdigest()[:16]


def record_keys(
    site_id: int | None,
    site: str | None,
    mac: str | None,
    serial: str | None,
    asset_id: str | None,
    ip: str | None,
    fields: dict[str, object] | None,
) -> Keys:
    """The keys of one inventory record; the fingerprint only for rows with no other key."""
    skey = serial_key(serial) if serial else None
    akey = asset_key(asset_id) if asset_id else None
    mac = mac_key(mac)
    fp = fingerprint(site, fields) if fields is not None and not (mac or skey or akey or ip) else None
    return Keys(mac, skey, akey, site_id, ip, fp)


def index_rows(rows: object) -> DeviceKeys:
    """A :class:`DeviceKeys` over ``(id, mac, serial, asset_id, site_id, ip, fingerprint)`` rows
    (``store.identification.match_keys_rows``)."""
    index = DeviceKeys()
    for did, mac, serial, asset_id, site_id, ip, fp in rows:  # type: ignore[attr-defined]
        index.add(int(did), Keys(mac_key(mac), serial_key(serial), asset_key(asset_id), site_id, ip, fp))
    index.building = False
    return index
