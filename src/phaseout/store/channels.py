"""Store the cameras behind a recorder as devices of their own, linked to it.

Each channel a recorder reported (:class:`phaseout.discover.channels.Channel`) becomes a device
with ``parent_id`` = the recorder and ``channel`` = its input (``D3`` IP channel, ``A3`` analogue
input; an analogue camera has no address).  A re-scan finds the same device again, by the
recorder and channel, or by the camera's serial or MAC when it moved to another channel or was
already in the inventory, and updates it in place: no duplicates.  A channel the recorder no
longer lists is marked ``missing``, never deleted (its history and work orders stay).  What the
recorder says only fills columns that are empty: a spreadsheet's values are never overwritten.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, func, or_, select, update

from phaseout.store.schema import devices

#: columns the recorder's report may fill when they are empty
_FILLABLE = ("ip", "mac", "serial", "model", "firmware")


@dataclass(frozen=True, slots=True)
class ChannelFacts:
    """What the store needs of one channel (built from a discover ``Channel``)."""

    key: str
    analog: bool
    name: str
    address: str | None
    model: str | None
    serial: str | None
    firmware: str | None
    mac: str | None
    online: bool | None

    @property
    def state(self) -> str:
        return "unknown" if self.online is None else "online" if self.online else "offline"


def facts_of(channels: Iterable[Any]) -> list[ChannelFacts]:
    """Plain facts from the scanner's channel records (anything with their attributes)."""
    return [
        ChannelFacts(c.key, c.analog, c.name, c.address, c.model, c.serial, c.firmware, c.mac, c.online)
        for c in channels
    ]


def _usable_serial(serial: str | None) -> str | None:
    """A serial that can tell cameras apart: not blank, not one repeated character (ONVIF
    cameras often report twenty zeros)."""
    if not serial or len(serial) < 6 or len(set(serial.upper())) <= 2:
        return None
    return serial.upper()


def _mac(mac: str | None) -> str | None:
    if not mac:
        return None
    hx = "".join(c for c in mac if c.isalnum()).upper()
    if len(hx) != 12 or any(c not in "0123456789ABCDEF" for c in hx) or hx in ("000000000000", "FFFFFFFFFFFF"):
        return None
    return ":".join(hx[i : i + 2] for i in range(0, 12, 2))


def record_channels(
    conn: Connection,
    recorder_id: int,
    channels: list[ChannelFacts],
    kinds_read: set[str],
    *,
    now: dt.datetime,
    batch_id: int | None,
) -> list[int]:
    """Upsert ``channels`` under the recorder; mark ``missing`` the stored channels of a list
    that was read (``kinds_read``: ``ip`` and/or ``analog``) but no longer names them.  Returns
    the ids of the devices created or changed (to be identified)."""
    recorder = conn.execute(select(devices.c.site_id).where(devices.c.id == recorder_id)).first()
    if recorder is None:
        return []
    site_id = recorder.site_id
    cols = (devices.c.id, devices.c.channel, devices.c.channel_state, devices.c.serial, devices.c.mac)
    children = list(conn.execute(select(*cols).where(devices.c.parent_id == recorder_id)))
    by_key = {r.channel: r for r in children if r.channel and r.channel_state != "missing"}
    by_serial = {s: r.id for r in children if (s := _usable_serial(r.serial))}
    by_mac = {r.mac: r.id for r in children if r.mac}
    serials = {s for c in channels if (s := _usable_serial(c.serial))}
    macs = {m for c in channels if (m := _mac(c.mac))}
    if serials or macs:  # cameras already in the inventory (a spreadsheet row, a direct scan)
        known = conn.execute(
            select(devices.c.id, devices.c.serial, devices.c.mac, devices.c.parent_id).where(
                or_(devices.c.mac.in_(sorted(macs)), devices.c.serial.in_(sorted(serials)))
            )
        )
        for row in known:
            if row.id == recorder_id or row.parent_id not in (None, recorder_id):
                continue
            if s := _usable_serial(row.serial):
                by_serial.setdefault(s, row.id)
            if row.mac:
                by_mac.setdefault(row.mac, row.id)

    touched: list[int] = []
    seen: set[int] = set()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for ch in channels:
        serial, mac = _usable_serial(ch.serial), _mac(ch.mac)
        current = by_key.get(ch.key)
        did = (by_serial.get(serial) if serial else None) or (by_mac.get(mac) if mac else None)
        if current is not None and did is None:
            stored = _usable_serial(current.serial)
            # the same channel with another camera in it: the old one left, a new one came
            did = None if (serial and stored and stored != serial) else current.id
        if did is not None and did in seen:
            did = None  # two channels name one camera (a cascaded recorder): keep both channels
        values = {"ip": ch.address, "mac": mac, "serial": ch.serial, "model": ch.model, "firmware": ch.firmware}
        if did is None:
            inserts.append(
                {
                    "site_id": site_id,
                    "parent_id": recorder_id,
                    "channel": ch.key,
                    "channel_state": ch.state,
                    **values,
                    "description": ch.name or None,
                    "device_type": "camera",
                    "first_seen": now,
                    "last_seen": now,
                    "batch_id": batch_id,
                }
            )
            continue
        updates.append(
            {"did": did, "n_channel": ch.key, "n_state": ch.state, **{f"n_{k}": v for k, v in values.items()}}
        )
        seen.add(did)
        touched.append(did)
    if updates:  # one statement for all: what the recorder says fills empty columns, never overwrites
        fill = {c: func.coalesce(devices.c[c], bindparam(f"n_{c}", type_=devices.c[c].type)) for c in _FILLABLE}
        conn.execute(
            update(devices)
            .where(devices.c.id == bindparam("did"))
            .values(
                parent_id=recorder_id,
                channel=bindparam("n_channel"),
                channel_state=bindparam("n_state"),
                last_seen=now,
                **fill,
            ),
            updates,
        )
    if inserts:
        before = {r.id for r in children}
        conn.execute(devices.insert(), inserts)
        new = conn.execute(select(devices.c.id).where(devices.c.parent_id == recorder_id)).scalars()
        created = [i for i in new if i not in before and i not in seen]
        seen.update(created)
        touched += created

    for child in children:
        if child.id in seen or not child.channel or child.channel_state == "missing":
            continue
        kind = "analog" if child.channel.startswith("A") else "ip"
        if kind in kinds_read:
            conn.execute(update(devices).where(devices.c.id == child.id).values(channel_state="missing"))
            touched.append(child.id)
    return touched
