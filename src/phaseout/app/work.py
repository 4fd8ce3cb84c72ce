"""Work orders as use cases: the installer's return read and checked (``track.returns``), the
status machine applied (``track.workflow``), and verification decided by ``track.verify`` from
the evidence the store holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phaseout.errors import DataError
from phaseout.estate.match import MIN_SERIAL_TAIL, serial_key, serials_agree
from phaseout.ingest.tables import open_table
from phaseout.store import work as stored
from phaseout.store.generation import bump
from phaseout.store.store import Store
from phaseout.track.returns import check_return, parse_return
from phaseout.track.verify import (
    NewDevice,
    OldDevice,
    ScanSeen,
    came_back,
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


def verify(store: Store, actor: str, covered: set[str]) -> Verification:
    """Check every done work order against the stored evidence (see :mod:`phaseout.track.verify`)."""
    out = Verification()
    with store.engine.begin() as conn:
        for order in stored.done_orders(conn):
            order_ok = True
            relied: list[int] = []
            found_new: dict[int, int] = {}
            for line in order["lines"]:
                done_on = line["done_on"]
                ports, vantages = stored.answer_history(conn, line["device_id"], done_on)
                old = OldDevice(
                    line["device_id"],
                    line["ip"],
                    stored.last_answer(conn, line["device_id"]),
                    frozenset(ports),
                    frozenset(vantages),
                )
                row = _new_device(conn, line["device_id"], line["new_mac"], line["new_serial"])
                new = (
                    NewDevice(row["id"], row["vendor"], row["label"], row["ip"], stored.last_answer(conn, row["id"]))
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
                verdict = verify_line(done_on, old, new, seen, covered)
                stored.set_line(conn, order["id"], line["device_id"], verdict.state, verdict.detail)
                entry = {
                    "work_order": order["id"],
                    "device": line["device_id"],
                    "detail": verdict.detail,
                    "scans": verdict.scans,
                }
                if verdict.state == "exception":
                    out.exceptions.append(entry)
                elif verdict.state == "pending":
                    out.pending.append(entry)
                if verdict.new_device is not None:
                    found_new[line["device_id"]] = verdict.new_device
                relied += verdict.scans
                order_ok = order_ok and verdict.state == "passed"
            old_ids = [ln["device_id"] for ln in order["lines"]]
            if order_ok:
                cameras = stored.camera_ids(conn, old_ids)
                arriving = [found_new[i] for i in old_ids if i in cameras and i in found_new]
                now = stored.site_cameras_now(conn, order["site"], old_ids, arriving)
                problem = coverage_kept(order["cameras_before"], now) if cameras else None
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
