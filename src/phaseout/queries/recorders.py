"""The recorder tree, read for the front ends and for verification: each recorder with the cameras
behind it (its channels, or devices a spreadsheet linked to it), and the devices behind no recorder.

A camera behind a recorder is a device with ``parent_id`` = the recorder and, when the recorder's
own channel list named it (``store.channels``), ``channel`` (``D3`` IP channel, ``A3`` analogue
input) and ``channel_state`` (online, offline, unknown, or missing: no longer in the list).  These
reads return plain rows; how a tree is described in words is :mod:`phaseout.estate.recorders`.

Reads are capped (:data:`MAX_TREE_ROWS`) so a hostile or enormous site cannot make a page read
the whole estate; the answer says when it was cut.  The tree is one level deep (a recorder and
what is behind it, never walked further), so loops in ``parent_id`` cannot make a read run on;
a device whose ``parent_id`` is itself is never listed behind itself.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, select

from phaseout.errors import UsageError
from phaseout.store.policies import covered_makers_in_use
from phaseout.store.schema import devices, sites

#: the most device rows one tree read returns (a 256-channel recorder is 257 rows)
MAX_TREE_ROWS = 5_000
#: the most ids one lookup takes at a time (SQL parameter limits)
_CHUNK = 900

_COLUMNS = (
    devices.c.id,
    devices.c.parent_id,
    devices.c.channel,
    devices.c.channel_state,
    devices.c.ip,
    devices.c.mac,
    devices.c.serial,
    devices.c.model,
    devices.c.id_model,
    devices.c.description,
    devices.c.vendor,
    devices.c.label,
    devices.c.id_type,
    devices.c.device_type,
    devices.c.status,
    devices.c.first_seen,
    devices.c.last_seen,
    sites.c.code.label("site"),
)


def _utc(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _row(r: Any, covered: set[str]) -> dict[str, Any]:
    row = {str(k): _utc(v) for k, v in r._mapping.items()}
    row["covered"] = bool(row["vendor"] and row["vendor"] in covered)
    return row


def _select() -> Any:
    return select(*_COLUMNS).select_from(devices.outerjoin(sites, sites.c.id == devices.c.site_id))


def is_recorder(row: dict[str, Any]) -> bool:
    return "recorder" in (row.get("id_type"), row.get("device_type"))


def channel_sort_key(row: dict[str, Any]) -> tuple[int, int, str, int]:
    """Channels in the order the recorder numbers them (IP channels, then analogue inputs), then
    devices linked to the recorder with no channel."""
    key = row.get("channel") or ""
    if key[:1] in ("D", "A") and key[1:].isdigit():
        return (0, int(key[1:]), key[:1], int(row["id"]))
    return (1, 0, "", int(row["id"]))


def site_tree(conn: Connection, code: str) -> dict[str, Any]:
    """One site's devices as a tree: ``recorders`` (each with ``children``), ``loose`` (devices
    behind no recorder, recorders left out) and ``cut`` (rows left out past the cap)."""
    site_id = conn.execute(select(sites.c.id).where(sites.c.code == code)).scalar()
    if site_id is None:
        raise UsageError(f"no site {code!r}", hint="phaseout sites list")
    covered = set(covered_makers_in_use(conn))
    rows = [
        _row(r, covered)
        for r in conn.execute(
            _select().where(devices.c.site_id == site_id).order_by(devices.c.id).limit(MAX_TREE_ROWS + 1)
        )
    ]
    cut = len(rows) > MAX_TREE_ROWS
    rows = rows[:MAX_TREE_ROWS]
    by_id = {r["id"]: r for r in rows}
    parents = {r["parent_id"] for r in rows if r["parent_id"] is not None}
    missing_parents = sorted(p for p in parents if p not in by_id)  # a recorder stored at another site
    for r in _by_ids(conn, missing_parents, covered):
        by_id[r["id"]] = r
    return _assemble(by_id, cut)


def recorder_subtree(conn: Connection, recorder_id: int) -> dict[str, Any] | None:
    """One recorder and the devices behind it (``None``: no such device)."""
    covered = set(covered_makers_in_use(conn))
    found = _by_ids(conn, [recorder_id], covered)
    if not found:
        return None
    children = [
        _row(r, covered)
        for r in conn.execute(
            _select()
            .where(devices.c.parent_id == recorder_id, devices.c.id != recorder_id)  # never behind itself
            .order_by(devices.c.id)
            .limit(MAX_TREE_ROWS + 1)
        )
    ]
    node = {**found[0], "children": sorted(children[:MAX_TREE_ROWS], key=channel_sort_key)}
    return {"recorders": [node], "loose": [], "cut": len(children) > MAX_TREE_ROWS}


def _assemble(by_id: dict[int, dict[str, Any]], cut: bool) -> dict[str, Any]:
    children: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in by_id.values():
        if r["parent_id"] is not None and r["parent_id"] in by_id and r["parent_id"] != r["id"]:
            children[r["parent_id"]].append(r)
    recorders = [
        {**r, "children": sorted(children.get(r["id"], []), key=channel_sort_key)}
        for r in sorted(by_id.values(), key=lambda r: r["id"])
        if is_recorder(r) or r["id"] in children
    ]
    placed = {r["id"] for r in recorders} | {c["id"] for kids in children.values() for c in kids}
    loose = [r for r in sorted(by_id.values(), key=lambda r: r["id"]) if r["id"] not in placed]
    return {"recorders": recorders, "loose": loose, "cut": cut}


def _by_ids(conn: Connection, ids: Iterable[int], covered: set[str]) -> list[dict[str, Any]]:
    wanted = sorted(set(ids))
    out: list[dict[str, Any]] = []
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        out += [_row(r, covered) for r in conn.execute(_select().where(devices.c.id.in_(chunk)))]
    return out


def devices_by_id(conn: Connection, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Tree rows (parent, channel, state, identification, first and last seen) for these ids."""
    covered = set(covered_makers_in_use(conn))
    return {r["id"]: r for r in _by_ids(conn, ids, covered)}


def channels_of(conn: Connection, recorder_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """Every device behind each recorder (channel rows and linked devices), in channel order."""
    covered = set(covered_makers_in_use(conn))
    wanted = sorted(set(recorder_ids))
    out: dict[int, list[dict[str, Any]]] = {r: [] for r in wanted}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        for r in conn.execute(_select().where(devices.c.parent_id.in_(chunk)).order_by(devices.c.id)):
            row = _row(r, covered)
            if row["id"] != row["parent_id"] and len(out[row["parent_id"]]) < MAX_TREE_ROWS:
                out[row["parent_id"]].append(row)
    return {k: sorted(v, key=channel_sort_key) for k, v in out.items()}


def places(conn: Connection, device_ids: Iterable[int]) -> dict[str, Any]:
    """Where each device sits in the tree, for runbooks and work orders: ``devices`` (id -> its
    row), ``recorders`` (id -> the recorder's row with ``children``) for every recorder that
    is one of the devices or has one of them behind it."""
    found = devices_by_id(conn, device_ids)
    recorder_ids = {d["parent_id"] for d in found.values() if d["parent_id"] is not None}
    recorder_ids |= {d["id"] for d in found.values() if is_recorder(d)}
    rows = devices_by_id(conn, recorder_ids)
    kids = channels_of(conn, recorder_ids)
    recorders = {rid: {**row, "children": kids.get(rid, [])} for rid, row in rows.items()}
    return {"devices": found, "recorders": recorders}
