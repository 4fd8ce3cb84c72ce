"""Work orders: made from a stored plan (one per visit), moved through their statuses, filled
from the installer's return, and verified against what the network shows.

The rules (what proves a swap, which status may follow which, what an installer's return must
say) are :mod:`phaseout.track`; this module reads what they need and writes their verdicts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, func, or_, select, update

from phaseout.errors import DataError, RowError, UsageError
from phaseout.store.audit import record_event
from phaseout.store.engine import writing
from phaseout.store.generation import bump
from phaseout.store.schema import (
    devices,
    observations,
    plan_visits,
    plans,
    scan_hosts,
    scans,
    sites,
    work_order_devices,
    work_orders,
)

#: The return rows' check against the stored lines (track.returns.check_return).
ReturnCheck = Callable[
    [list[tuple[int, dict[str, Any]]], dict[tuple[int, int], tuple[str | None, str]]], list[RowError]
]
#: The status machine's check (track.workflow.check_transition).
TransitionCheck = Callable[..., None]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _still_listed() -> Any:
    """Not a channel its recorder no longer lists (``missing``): that camera is not there."""
    return or_(devices.c.channel_state.is_(None), devices.c.channel_state != "missing")


def _site_cameras(conn: Connection, code: str) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(devices.join(sites, sites.c.id == devices.c.site_id))
            .where(sites.c.code == code, devices.c.status == "active", devices.c.id_type == "camera", _still_listed())
        ).scalar()
        or 0
    )


def generate(engine: Engine, actor: str, plan_id: int | None = None) -> tuple[int, int]:
    """One work order per visit of the plan (the newest by default); returns (plan id, orders
    made).  A plan's work orders are made once."""
    with writing(engine) as conn:
        if plan_id is None:
            plan_id = conn.execute(select(func.max(plans.c.id))).scalar()
            if plan_id is None:
                raise UsageError("no plan is stored", hint="phaseout plan first")
        elif conn.execute(select(plans.c.id).where(plans.c.id == plan_id)).first() is None:
            raise UsageError(f"no plan {plan_id}", hint="phaseout plan compare lists them")
        if conn.execute(select(work_orders.c.id).where(work_orders.c.plan_id == plan_id).limit(1)).first():
            raise UsageError(f"plan {plan_id} already has work orders", hint="phaseout work list")
        problem = orjson.loads(conn.execute(select(plans.c.problem).where(plans.c.id == plan_id)).scalar_one())
        region_of = {s["id"]: s["region"] for s in problem["sites"]}
        made = 0
        now = _now()
        cameras: dict[str, int] = {}
        for visit in conn.execute(
            select(plan_visits).where(plan_visits.c.plan_id == plan_id).order_by(plan_visits.c.package)
        ).mappings():
            site = visit["site"]
            if site not in cameras:
                cameras[site] = _site_cameras(conn, site)
            wo_id = conn.execute(
                work_orders.insert()
                .values(
                    plan_id=plan_id,
                    package=visit["package"],
                    site=site,
                    region=region_of.get(site, ""),
                    period=visit["period"],
                    status="planned",
                    created_at=now,
                    updated_at=now,
                    updated_by=actor,
                    reason="",
                    cameras_before=cameras[site],
                )
                .returning(work_orders.c.id)
            ).scalar_one()
            swaps = orjson.loads(visit["swaps"])
            old = {
                r.id: r
                for r in conn.execute(
                    select(devices.c.id, devices.c.serial, devices.c.mac).where(
                        devices.c.id.in_([int(s["device"]) for s in swaps])
                    )
                )
            }
            conn.execute(
                work_order_devices.insert(),
                [
                    {
                        "work_order_id": wo_id,
                        "device_id": int(s["device"]),
                        "sku": s["sku"],
                        "old_serial": old[int(s["device"])].serial if int(s["device"]) in old else None,
                        "old_mac": old[int(s["device"])].mac if int(s["device"]) in old else None,
                        "verification": "pending",
                        "detail": "",
                    }
                    for s in swaps
                ],
            )
            record_event(
                conn,
                actor,
                "work-order.create",
                "work-order",
                wo_id,
                None,
                {"plan": plan_id, "visit": visit["package"]},
            )
            made += 1
        bump(conn)
    return int(plan_id), made


def list_orders(conn: Connection, *, status: str | None = None, site: str | None = None) -> list[dict[str, Any]]:
    counts = (
        select(work_order_devices.c.work_order_id, func.count().label("devices"))
        .group_by(work_order_devices.c.work_order_id)
        .subquery()
    )
    query = (
        select(work_orders, counts.c.devices)
        .select_from(work_orders.outerjoin(counts, counts.c.work_order_id == work_orders.c.id))
        .order_by(work_orders.c.id)
    )
    if status:
        query = query.where(work_orders.c.status == status)
    if site:
        query = query.where(work_orders.c.site == site)
    return [_plain(dict(r)) for r in conn.execute(query).mappings()]


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.date | dt.datetime) else v) for k, v in row.items()}


def show(conn: Connection, order_id: int) -> dict[str, Any]:
    row = conn.execute(select(work_orders).where(work_orders.c.id == order_id)).mappings().first()
    if row is None:
        raise UsageError(f"no work order {order_id}", hint="phaseout work list")
    lines = [
        _plain(dict(r))
        for r in conn.execute(
            select(work_order_devices, devices.c.model, devices.c.ip, devices.c.status.label("device_status"))
            .select_from(work_order_devices.join(devices, devices.c.id == work_order_devices.c.device_id))
            .where(work_order_devices.c.work_order_id == order_id)
            .order_by(work_order_devices.c.device_id)
        ).mappings()
    ]
    return {**_plain(dict(row)), "devices": lines}


def set_status(
    engine: Engine, actor: str, order_id: int, wanted: str, reason: str = "", *, check: TransitionCheck
) -> dict[str, Any]:
    """Move a work order to ``wanted`` if ``check`` (the status machine) allows it."""
    with writing(engine) as conn:
        row = conn.execute(select(work_orders).where(work_orders.c.id == order_id)).mappings().first()
        if row is None:
            raise UsageError(f"no work order {order_id}", hint="phaseout work list")
        check(row["status"], wanted, reason=reason)
        values: dict[str, Any] = {"status": wanted, "updated_at": _now(), "updated_by": actor}
        if wanted == "blocked":
            values.update(reason=reason, blocked_from=row["status"])
        conn.execute(update(work_orders).where(work_orders.c.id == order_id).values(values))
        record_event(
            conn,
            actor,
            "work-order.status",
            "work-order",
            order_id,
            {"status": row["status"]},
            {"status": wanted, "reason": reason},
        )
        bump(conn)
    return {"id": order_id, "from": row["status"], "to": wanted}


def unblock(engine: Engine, actor: str, order_id: int) -> dict[str, Any]:
    with writing(engine) as conn:
        row = conn.execute(select(work_orders).where(work_orders.c.id == order_id)).mappings().first()
        if row is None:
            raise UsageError(f"no work order {order_id}", hint="phaseout work list")
        if row["status"] != "blocked":
            raise UsageError(f"work order {order_id} is not blocked (it is {row['status']})")
        back = row["blocked_from"] or "planned"
        conn.execute(
            update(work_orders)
            .where(work_orders.c.id == order_id)
            .values(status=back, reason="", blocked_from=None, updated_at=_now(), updated_by=actor)
        )
        record_event(conn, actor, "work-order.unblock", "work-order", order_id, {"status": "blocked"}, {"status": back})
        bump(conn)
    return {"id": order_id, "from": "blocked", "to": back}


@dataclass(slots=True)
class ReturnResult:
    rows: int = 0
    orders_done: list[int] = field(default_factory=list)


def record_return(
    engine: Engine, actor: str, name: str, parsed: list[tuple[int, dict[str, Any]]], check: ReturnCheck
) -> ReturnResult:
    """Write the installer's return, checked whole first by ``check`` (stored lines -> problems):
    one bad row and nothing changes, with every problem listed."""
    result = ReturnResult()
    with writing(engine) as conn:
        stored: dict[tuple[int, int], tuple[str | None, str]] = {}
        for line_order, line_device, old_serial, status in conn.execute(
            select(
                work_order_devices.c.work_order_id,
                work_order_devices.c.device_id,
                work_order_devices.c.old_serial,
                work_orders.c.status,
            )
            .select_from(work_order_devices.join(work_orders, work_orders.c.id == work_order_devices.c.work_order_id))
            .where(work_order_devices.c.work_order_id.in_(sorted({item["work_order"] for _l, item in parsed}) or [-1]))
        ):
            stored[(int(line_order), int(line_device))] = (old_serial, status)
        problems = check(parsed, stored)
        if problems:
            raise DataError(
                f"{name}: {len(problems)} row(s) cannot be recorded; nothing was changed",
                hint="\n".join(f"  line {p.row}: {p.reason}" for p in problems[:15]),
                row_errors=problems,
            )
        touched: set[int] = set()
        for _line, item in parsed:
            conn.execute(
                update(work_order_devices)
                .where(
                    work_order_devices.c.work_order_id == item["work_order"],
                    work_order_devices.c.device_id == item["device"],
                )
                .values(new_serial=item["new_serial"], new_mac=item["new_mac"], done_on=item["done_on"])
            )
            record_event(
                conn,
                actor,
                "work-order.return",
                "device",
                item["device"],
                None,
                {k: item[k] for k in ("work_order", "new_serial", "new_mac", "done_on")}
                | ({"decommissioned": True} if item.get("decommissioned") else {}),
            )
            touched.add(item["work_order"])
            result.rows += 1
        for order_id in sorted(touched):
            left = conn.execute(
                select(func.count()).where(
                    work_order_devices.c.work_order_id == order_id, work_order_devices.c.done_on.is_(None)
                )
            ).scalar()
            status = conn.execute(select(work_orders.c.status).where(work_orders.c.id == order_id)).scalar_one()
            if not left and status != "done":
                conn.execute(
                    update(work_orders)
                    .where(work_orders.c.id == order_id)
                    .values(status="done", updated_at=_now(), updated_by=actor)
                )
                record_event(
                    conn,
                    actor,
                    "work-order.status",
                    "work-order",
                    order_id,
                    {"status": status},
                    {"status": "done", "by": "installer return"},
                )
                result.orders_done.append(order_id)
        bump(conn)
    return result


# -- verification: the inputs the rules (track.verify) read, and where their verdicts go -------


def _utc(value: Any) -> dt.datetime | None:
    if not isinstance(value, dt.datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def done_orders(conn: Connection) -> list[dict[str, Any]]:
    """Done work orders with their device lines (old device's address included)."""
    out = []
    for order in (
        conn.execute(select(work_orders).where(work_orders.c.status == "done").order_by(work_orders.c.id))
        .mappings()
        .all()
    ):
        lines = (
            conn.execute(
                select(work_order_devices, devices.c.ip, devices.c.id_type)
                .select_from(work_order_devices.join(devices, devices.c.id == work_order_devices.c.device_id))
                .where(work_order_devices.c.work_order_id == order["id"])
                .order_by(work_order_devices.c.device_id)
            )
            .mappings()
            .all()
        )
        out.append({**dict(order), "lines": [dict(ln) for ln in lines]})
    return out


def last_answer(conn: Connection, device_id: int) -> dt.datetime | None:
    """When the device last answered a scan (its newest non-inventory observation)."""
    return _utc(
        conn.execute(
            select(func.max(observations.c.observed_at)).where(
                observations.c.device_id == device_id, observations.c.kind != "inventory"
            )
        ).scalar()
    )


def answer_history(conn: Connection, device_id: int, before: dt.date | None) -> tuple[set[int], set[str | None]]:
    """Ports the device answered on and vantages it answered from in scans started before the
    date (from the scan hosts table, and its stored answers for scans older than that table)."""
    ports: set[int] = set()
    vantages: set[str | None] = set()
    query = (
        select(scan_hosts.c.ports_open, scans.c.vantage, scans.c.started_at)
        .select_from(scan_hosts.join(scans, scans.c.id == scan_hosts.c.scan_id))
        .where(scan_hosts.c.device_id == device_id, scan_hosts.c.state == "answered")
    )
    for ports_open, vantage, started in conn.execute(query):
        when = _utc(started)
        if before is None or (when is not None and when.date() < before):
            ports.update(int(p) for p in orjson.loads(ports_open or "[]"))
            vantages.add(vantage)
    for (payload,) in conn.execute(
        select(observations.c.payload).where(observations.c.device_id == device_id, observations.c.kind != "inventory")
    ):
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError:
            continue
        if isinstance(body, dict):
            if isinstance(body.get("port"), int):
                ports.add(body["port"])
            vantages.add(body.get("vantage") if isinstance(body.get("vantage"), str) else None)
    return ports, vantages


def new_device_candidates(conn: Connection, old_id: int, mac: str | None, tail: str | None) -> list[dict[str, Any]]:
    """Stored devices (other than the old one) with the returned MAC, or whose serial contains
    ``tail`` (the end of the returned serial): the caller applies the serial rule."""
    conds = []
    if mac:
        conds.append(devices.c.mac == mac)
    if tail:
        pattern = "%" + tail.upper().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conds.append(func.upper(devices.c.serial).like(pattern, escape="\\"))
    if not conds:
        return []
    query = (
        select(devices.c.id, devices.c.vendor, devices.c.label, devices.c.ip, devices.c.mac, devices.c.serial)
        .where(devices.c.id != old_id, or_(*conds))
        .order_by(devices.c.id)
        .limit(50)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def scans_at(conn: Connection, ip: str | None, since: dt.date) -> list[dict[str, Any]]:
    """Every scan started on or after ``since`` with what it saw at ``ip`` (state None: the
    address was not probed)."""
    start = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC)
    out = []
    states: dict[int, str] = {}
    if ip:  # one read for every scan (was one per scan and line: minutes for large orders)
        for scan_id, state in conn.execute(
            select(scan_hosts.c.scan_id, scan_hosts.c.state)
            .select_from(scan_hosts.join(scans, scans.c.id == scan_hosts.c.scan_id))
            .where(scan_hosts.c.ip == ip, scans.c.started_at >= start)
            .order_by(scan_hosts.c.id)
        ):
            states.setdefault(int(scan_id), state)
    for row in conn.execute(select(scans).where(scans.c.started_at >= start).order_by(scans.c.id)).mappings():
        state = states.get(int(row["id"]))
        out.append(
            {
                "id": int(row["id"]),
                "status": row["status"],
                "vantage": row["vantage"],
                "ports": frozenset(int(p) for p in orjson.loads(row["ports"] or "[]")),
                "started": _utc(row["started_at"]),
                "host_state": state,
            }
        )
    return out


def site_cameras_now(conn: Connection, site: str, leaving: list[int], arriving: list[int]) -> int:
    """Active cameras at the site once ``leaving`` are out and ``arriving`` are in."""
    others = conn.execute(
        select(func.count())
        .select_from(devices.join(sites, sites.c.id == devices.c.site_id))
        .where(
            sites.c.code == site,
            devices.c.status == "active",
            devices.c.id_type == "camera",
            _still_listed(),
            devices.c.id.not_in([*leaving, *arriving] or [-1]),
        )
    ).scalar()
    return int(others or 0) + len(set(arriving))


def camera_ids(conn: Connection, ids: list[int]) -> set[int]:
    return set(
        conn.execute(select(devices.c.id).where(devices.c.id.in_(ids or [-1]), devices.c.id_type == "camera")).scalars()
    )


def set_line(conn: Connection, order_id: int, device_id: int, state: str, detail: str) -> None:
    conn.execute(
        update(work_order_devices)
        .where(work_order_devices.c.work_order_id == order_id, work_order_devices.c.device_id == device_id)
        .values(verification=state, detail=detail)
    )


def mark_verified(conn: Connection, actor: str, order_id: int, device_ids: list[int], scan_ids: list[int]) -> None:
    """The order is verified and its old devices replaced, with the scans that proved it."""
    conn.execute(
        update(work_orders)
        .where(work_orders.c.id == order_id)
        .values(status="verified", updated_at=_now(), updated_by=actor)
    )
    conn.execute(update(devices).where(devices.c.id.in_(device_ids)).values(status="replaced"))
    record_event(
        conn,
        actor,
        "work-order.status",
        "work-order",
        order_id,
        {"status": "done"},
        {"status": "verified", "devices": device_ids, "scans": sorted(set(scan_ids))},
    )


def replaced_devices(conn: Connection) -> list[dict[str, Any]]:
    """Replaced devices with their newest answer and the verification that replaced them.  A
    camera behind a recorder answers through its recorder's channel list: listed live (online or
    state not reported), its newest listing counts as an answer."""
    out = []
    answers: dict[int, tuple[Any, Any]] = {}
    for did, ip, seen in conn.execute(
        select(devices.c.id, devices.c.ip, func.max(observations.c.observed_at))
        .select_from(devices.join(observations, observations.c.device_id == devices.c.id))
        .where(devices.c.status == "replaced", observations.c.kind != "inventory")
        .group_by(devices.c.id, devices.c.ip)
    ):
        answers[int(did)] = (ip, seen)
    for did, ip, listed in conn.execute(
        select(devices.c.id, devices.c.ip, devices.c.last_seen).where(
            devices.c.status == "replaced",
            devices.c.channel.is_not(None),
            devices.c.channel_state.in_(("online", "unknown")),
        )
    ):
        known = answers.get(int(did))
        times = [t for t in (_utc(known[1]) if known else None, _utc(listed)) if t is not None]
        answers[int(did)] = (ip, max(times) if times else None)
    for did, (ip, seen) in sorted(answers.items()):
        order = conn.execute(
            select(work_orders.c.id, work_orders.c.updated_at)
            .select_from(work_orders.join(work_order_devices, work_order_devices.c.work_order_id == work_orders.c.id))
            .where(work_order_devices.c.device_id == did, work_orders.c.status == "verified")
            .order_by(work_orders.c.updated_at.desc())
            .limit(1)
        ).first()
        out.append(
            {
                "device": int(did),
                "ip": ip,
                "seen": _utc(seen),
                "order": int(order.id) if order else None,
                "replaced_at": _utc(order.updated_at) if order else None,
            }
        )
    return out


def reopen(conn: Connection, actor: str, order_id: int, device_id: int, seen: dt.datetime) -> None:
    """A replaced device answered again: its order goes back to done with the line an exception,
    and the device is active again (it is on the network)."""
    conn.execute(
        update(work_orders)
        .where(work_orders.c.id == order_id)
        .values(status="done", updated_at=_now(), updated_by=actor)
    )
    conn.execute(update(devices).where(devices.c.id == device_id).values(status="active"))
    set_line(
        conn,
        order_id,
        device_id,
        "exception",
        f"came back: the old device answered a scan on {seen.date()} after verification",
    )
    record_event(
        conn,
        actor,
        "work-order.status",
        "work-order",
        order_id,
        {"status": "verified"},
        {"status": "done", "reason": "came back", "device": device_id, "seen": seen.isoformat()},
    )
