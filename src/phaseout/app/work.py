"""Work orders as use cases: the installer's return read and checked (``track.returns``), the
status machine applied (``track.workflow``), and verification decided by ``track.verify`` from
the evidence the store holds: scans, and for cameras behind a recorder the recorder's channel
list (read through ``queries.recorders``), counted per recorder and channel."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phaseout.errors import DataError
from phaseout.estate.match import MIN_SERIAL_TAIL, serial_key, serials_agree
from phaseout.estate.recorders import recorder_title
from phaseout.ingest.tables import open_table
from phaseout.queries import recorders as tree
from phaseout.store import work as stored
from phaseout.store.engine import writing
from phaseout.store.generation import bump
from phaseout.store.store import Store
from phaseout.track.returns import check_return, parse_return
from phaseout.track.verify import (
    LIVE_STATES,
    ChannelSeen,
    ChannelVerdict,
    NewDevice,
    OldDevice,
    RecorderSide,
    RecorderWork,
    ScanSeen,
    came_back,
    check_channels,
    coverage_kept,
    verify_line,
)
from phaseout.track.workflow import check_transition


@dataclass(slots=True)
class Verification:
    verified: list[int] = field(default_factory=list)
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    came_back: list[dict[str, Any]] = field(default_factory=list)


def _new_device(conn: Any, old_id: int, mac: str | None, serial: str | None) -> dict[str, Any] | None:
    """The replacement the installer's return names: by MAC, else by serial under the one
    serial rule (``estate.match.serials_agree``: the label's full serial or its short form)."""
    key = serial_key(serial)
    rows = stored.new_device_candidates(conn, old_id, mac, key[-MIN_SERIAL_TAIL:] if key else None)
    by_mac = next((r for r in rows if mac and r["mac"] == mac), None)
    if by_mac is not None:
        return by_mac
    if key is None:
        return None
    return next((r for r in rows if (k := serial_key(r["serial"])) and serials_agree(k, key)), None)


def set_status(store: Store, actor: str, order_id: int, wanted: str, reason: str = "") -> dict[str, Any]:
    return stored.set_status(store.engine, actor, order_id, wanted, reason, check=check_transition)


def record_return(store: Store, actor: str, path: str | Path) -> stored.ReturnResult:
    """The installer's return, checked whole before anything is written."""
    table = open_table(path)
    parsed, problems = parse_return(table.name, table.rows)
    if problems:
        raise DataError(
            f"{table.name}: {len(problems)} row(s) cannot be recorded; nothing was changed",
            hint="\n".join(f"  line {p.row}: {p.reason}" for p in problems[:15]),
            row_errors=problems,
        )
    return stored.record_return(store.engine, actor, table.name, parsed, check_return)


def _seen(row: dict[str, Any]) -> ChannelSeen:
    return ChannelSeen(
        int(row["id"]),
        row["channel"],
        row["channel_state"],
        row["vendor"],
        row["label"],
        row["model"] or row["id_model"],
        row["serial"],
        row["mac"],
        row["last_seen"],
    )


def _side(conn: Any, recorder_id: int) -> RecorderSide | None:
    rows = tree.devices_by_id(conn, [recorder_id])
    if recorder_id not in rows:
        return None
    children = tree.channels_of(conn, [recorder_id])[recorder_id]
    title = recorder_title(rows[recorder_id], children)
    return RecorderSide(recorder_id, title, tuple(_seen(c) for c in children))


def _listed(row: dict[str, Any] | None) -> dt.datetime | None:
    """When a recorder last listed this device live on a channel (a camera behind a recorder
    answers through its recorder's list)."""
    if row is None or not row["channel"] or row["channel_state"] not in LIVE_STATES:
        return None
    seen: dt.datetime | None = row["last_seen"]
    return seen


def _latest(*values: dt.datetime | None) -> dt.datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def check_recorders(
    conn: Any,
    lines: list[dict[str, Any]],
    decommissioned: set[int],
    new_ids: dict[int, int],
    covered: set[str],
) -> list[ChannelVerdict]:
    """The channel check (``track.verify.check_channels``) for every recorder an order touches:
    the recorders of its cameras, and its recorders themselves."""
    rows = tree.devices_by_id(conn, [ln["device_id"] for ln in lines])
    work: dict[int, dict[str, Any]] = {}

    def entry(recorder_id: int) -> dict[str, Any]:
        return work.setdefault(
            recorder_id, {"swapped": set(), "decom": set(), "repl": [], "recorder": False, "new": None, "done": []}
        )

    for ln in lines:
        row = rows.get(ln["device_id"])
        if row is None:
            continue
        if tree.is_recorder(row):
            w = entry(row["id"])
            if row["id"] in decommissioned:
                w["decom"].add(row["id"])
            else:
                w["recorder"], w["new"] = True, new_ids.get(row["id"])
        elif row["parent_id"] is not None:
            w = entry(row["parent_id"])
            (w["decom"] if row["id"] in decommissioned else w["swapped"]).add(row["id"])
            if row["id"] in new_ids:
                w["repl"].append((row["id"], new_ids[row["id"]]))
        else:
            continue
        w["done"].append(ln["done_on"])
    out = []
    for recorder_id, w in sorted(work.items()):
        if any(d is None for d in w["done"]):
            continue  # a line without its return is pending anyway
        side = _side(conn, recorder_id)
        if side is None:
            continue
        new_side = _side(conn, w["new"]) if w["new"] is not None else None
        out.append(
            check_channels(
                max(w["done"]),
                RecorderWork(
                    side,
                    frozenset(w["swapped"]),
                    frozenset(w["decom"]),
                    tuple(w["repl"]),
                    w["recorder"],
                    new_side,
                ),
                covered,
            )
        )
    return out


def verify(store: Store, actor: str, covered: set[str]) -> Verification:
    """Check every done work order against the stored evidence (see :mod:`phaseout.track.verify`)."""
    out = Verification()
    with writing(store.engine) as conn:
        for order in stored.done_orders(conn):
            order_ok = True
            relied: list[int] = []
            found_new: dict[int, int] = {}
            lines = order["lines"]
            decommissioned = {
                ln["device_id"] for ln in lines if ln["done_on"] and not ln["new_serial"] and not ln["new_mac"]
            }
            new_rows = {
                ln["device_id"]: row
                for ln in lines
                if ln["device_id"] not in decommissioned
                and (row := _new_device(conn, ln["device_id"], ln["new_mac"], ln["new_serial"]))
            }
            placed = tree.devices_by_id(conn, [ln["device_id"] for ln in lines] + [r["id"] for r in new_rows.values()])
            channel_checks = check_recorders(
                conn, lines, decommissioned, {k: int(r["id"]) for k, r in new_rows.items()}, covered
            )
            for line in lines:
                did = line["device_id"]
                done_on = line["done_on"]
                ports, vantages = stored.answer_history(conn, did, done_on)
                old = OldDevice(  # (still on its recorder's list: check_channels says so, once)
                    did,
                    line["ip"],
                    stored.last_answer(conn, did),
                    frozenset(ports),
                    frozenset(vantages),
                )
                row = new_rows.get(did)
                new = (
                    NewDevice(
                        row["id"],
                        row["vendor"],
                        row["label"],
                        row["ip"],
                        _latest(stored.last_answer(conn, row["id"]), _listed(placed.get(row["id"]))),
                    )
                    if row
                    else None
                )
                seen = (
                    [
                        ScanSeen(s["id"], s["status"], s["vantage"], s["ports"], s["started"], s["host_state"])
                        for s in stored.scans_at(conn, line["ip"], done_on)
                    ]
                    if done_on
                    else []
                )
                problems: list[str] = []
                waiting: list[str] = []
                gone = None
                for check in channel_checks:
                    p, w = check.for_line(did)
                    problems += p
                    waiting += w
                    gone = gone or check.gone.get(did)
                verdict = verify_line(
                    done_on,
                    old,
                    new,
                    seen,
                    covered,
                    decommissioned=did in decommissioned,
                    channel_gone=gone,
                    channel_problems=problems,
                    channel_waiting=waiting,
                )
                summary = "; ".join(s for check in channel_checks if (s := check.summary(did)))
                detail = f"{verdict.detail}; {summary}" if summary and verdict.state == "passed" else verdict.detail
                stored.set_line(conn, order["id"], did, verdict.state, detail)
                entry = {
                    "work_order": order["id"],
                    "device": did,
                    "detail": detail,
                    "scans": verdict.scans,
                }
                if verdict.state == "exception":
                    out.exceptions.append(entry)
                elif verdict.state == "pending":
                    out.pending.append(entry)
                if verdict.new_device is not None:
                    found_new[did] = verdict.new_device
                relied += verdict.scans
                order_ok = order_ok and verdict.state == "passed"
            old_ids = [ln["device_id"] for ln in lines]
            if order_ok:
                cameras = stored.camera_ids(conn, old_ids)
                arriving = [found_new[i] for i in old_ids if i in cameras and i in found_new]
                now = stored.site_cameras_now(conn, order["site"], old_ids, arriving)
                gone_for_good = len(cameras & decommissioned)
                problem = coverage_kept(order["cameras_before"] - gone_for_good, now) if cameras else None
                if problem:
                    order_ok = False
                    out.exceptions.append({"work_order": order["id"], "device": None, "detail": problem, "scans": []})
            if order_ok:
                check_transition("done", "verified", by_verification=True)
                stored.mark_verified(conn, actor, order["id"], old_ids, relied)
                out.verified.append(order["id"])
        for item in stored.replaced_devices(conn):
            if came_back(item["replaced_at"], item["seen"]):
                out.came_back.append(
                    {
                        "device": item["device"],
                        "ip": item["ip"],
                        "seen": item["seen"].isoformat(),
                        "work_order": item["order"],
                    }
                )
                if item["order"] is not None:
                    stored.reopen(conn, actor, item["order"], item["device"], item["seen"])
        bump(conn)
    return out
