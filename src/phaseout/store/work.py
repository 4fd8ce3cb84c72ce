"""Work orders: made from a stored plan (one per visit), moved through their statuses, filled
from the installer's return, and verified against what the network shows.

Verification of a done work order, device by device:
1. the new device answers: a stored device with the returned new MAC or serial has been seen
   by a scan (``phaseout scan --site``), and no policy pack in use covers its maker, under any
   label; otherwise an exception names what is wrong;
2. the old device is gone: no scan answer from it after the done date, and a scan since then
   covered its address; an old device still answering is an exception;
3. coverage is kept: the site has at least as many active cameras as when the order was made.
Every device passing makes the work order ``verified`` and its old devices ``replaced``.  A
replaced device that answers a scan again is flagged.  Every change is an audit event.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, and_, func, select, update

from phaseout.errors import DataError, RowError, UsageError
from phaseout.ingest.tables import open_table
from phaseout.normalize import normalize_mac
from phaseout.store.audit import record_event
from phaseout.store.schema import (
    devices,
    import_batches,
    observations,
    plan_visits,
    plans,
    sites,
    work_order_devices,
    work_orders,
)
from phaseout.track.workflow import check_transition

RETURN_COLUMNS = ("work_order", "device", "old_serial", "new_serial", "new_mac", "done_date")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _site_cameras(conn: Connection, code: str) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(devices.join(sites, sites.c.id == devices.c.site_id))
            .where(sites.c.code == code, devices.c.status == "active", devices.c.id_type == "camera")
        ).scalar()
        or 0
    )


def generate(engine: Engine, actor: str, plan_id: int | None = None) -> tuple[int, int]:
    """One work order per visit of the plan (the newest by default); returns (plan id, orders
    made).  A plan's work orders are made once."""
    with engine.begin() as conn:
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


def set_status(engine: Engine, actor: str, order_id: int, wanted: str, reason: str = "") -> dict[str, Any]:
    with engine.begin() as conn:
        row = conn.execute(select(work_orders).where(work_orders.c.id == order_id)).mappings().first()
        if row is None:
            raise UsageError(f"no work order {order_id}", hint="phaseout work list")
        check_transition(row["status"], wanted, reason=reason)
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
    return {"id": order_id, "from": row["status"], "to": wanted}


def unblock(engine: Engine, actor: str, order_id: int) -> dict[str, Any]:
    with engine.begin() as conn:
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
    return {"id": order_id, "from": "blocked", "to": back}


@dataclass(slots=True)
class ReturnResult:
    rows: int = 0
    orders_done: list[int] = field(default_factory=list)


def _row_error(line: int, column: str, message: str) -> RowError:
    return RowError(line, message, column or None)


def _header_key(text: object) -> str:
    return "_".join(str(text or "").strip().lower().replace("-", " ").split())


def record_return(engine: Engine, actor: str, path: str | Path) -> ReturnResult:
    """The installer's return (CSV or spreadsheet: work order, device, old serial, new serial,
    new MAC, done date), checked whole before anything is written: one bad row and nothing
    changes, with every problem listed."""
    table = open_table(path)
    header: dict[str, int] | None = None
    parsed: list[tuple[int, dict[str, Any]]] = []  # (line, parsed row)
    problems: list[RowError] = []
    for line, row in table.rows:
        cells = ["" if c is None else str(c).strip() for c in row]
        if not any(cells):
            continue
        if header is None:
            header = {_header_key(c): i for i, c in enumerate(cells)}
            missing = [c for c in RETURN_COLUMNS if c not in header]
            if missing:
                raise DataError(
                    f"{table.name}: missing column(s) {', '.join(missing)}",
                    hint=f"the return needs: {', '.join(RETURN_COLUMNS)}",
                )
            continue
        get = {c: cells[header[c]] if header[c] < len(cells) else "" for c in RETURN_COLUMNS}
        item: dict[str, Any]
        try:
            item = {
                "work_order": int(get["work_order"]),
                "device": int(get["device"]),
                "old_serial": get["old_serial"] or None,
                "new_serial": get["new_serial"] or None,
                "new_mac": normalize_mac(get["new_mac"]) if get["new_mac"] else None,
                "done_on": dt.date.fromisoformat(get["done_date"][:10]),
            }
        except ValueError as exc:
            problems.append(_row_error(line, "", str(exc)))
            continue
        if not item["new_serial"] and not item["new_mac"]:
            problems.append(_row_error(line, "new_mac", "give the new device's MAC or serial: verification needs one"))
            continue
        parsed.append((line, item))
    result = ReturnResult()
    with engine.begin() as conn:
        for line, item in parsed:
            found = conn.execute(
                select(work_order_devices.c.old_serial, work_orders.c.status)
                .select_from(
                    work_order_devices.join(work_orders, work_orders.c.id == work_order_devices.c.work_order_id)
                )
                .where(
                    work_order_devices.c.work_order_id == item["work_order"],
                    work_order_devices.c.device_id == item["device"],
                )
            ).first()
            if found is None:
                problems.append(
                    _row_error(line, "device", f"device {item['device']} is not in work order {item['work_order']}")
                )
            elif item["old_serial"] and found.old_serial and item["old_serial"].upper() != found.old_serial.upper():
                problems.append(
                    RowError(
                        line, "old_serial", f"old serial {item['old_serial']} is not the recorded {found.old_serial}"
                    )
                )
            elif found.status in ("verified", "blocked"):
                problems.append(_row_error(line, "work_order", f"work order {item['work_order']} is {found.status}"))
        if problems:
            raise DataError(
                f"{table.name}: {len(problems)} row(s) cannot be recorded; nothing was changed",
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
                {k: item[k] for k in ("work_order", "new_serial", "new_mac", "done_on")},
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
    return result


@dataclass(slots=True)
class Verification:
    verified: list[int] = field(default_factory=list)
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    came_back: list[dict[str, Any]] = field(default_factory=list)


def _scans_since(conn: Connection, day: dt.date) -> list[tuple[dt.datetime, list[str]]]:
    out = []
    for started, mapping in conn.execute(
        select(import_batches.c.started_at, import_batches.c.mapping).where(import_batches.c.kind == "scan")
    ):
        started_utc = started if started.tzinfo else started.replace(tzinfo=dt.UTC)
        if started_utc.date() >= day:
            targets = orjson.loads(mapping or "{}").get("targets") or []
            out.append((started_utc, [str(t) for t in targets]))
    return out


def _last_answer(conn: Connection, device_id: int) -> dt.datetime | None:
    value = conn.execute(
        select(func.max(observations.c.observed_at)).where(
            observations.c.device_id == device_id, observations.c.kind != "inventory"
        )
    ).scalar()
    if not isinstance(value, dt.datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def verify(engine: Engine, actor: str, covered: set[str]) -> Verification:
    """Check every done work order against the stored scans (see the module's docstring)."""
    from phaseout.assess.verify import covers

    out = Verification()
    with engine.begin() as conn:
        for order in conn.execute(select(work_orders).where(work_orders.c.status == "done")).mappings().all():
            lines = (
                conn.execute(
                    select(work_order_devices, devices.c.ip)
                    .select_from(work_order_devices.join(devices, devices.c.id == work_order_devices.c.device_id))
                    .where(work_order_devices.c.work_order_id == order["id"])
                )
                .mappings()
                .all()
            )
            order_ok = True
            found_new: dict[int, int] = {}  # old device -> the new device that answered for it
            for line in lines:
                done_on = line["done_on"]
                problems: list[str] = []
                waiting: list[str] = []
                conds = []
                if line["new_mac"]:
                    conds.append(devices.c.mac == line["new_mac"])
                if line["new_serial"]:
                    conds.append(func.upper(devices.c.serial) == line["new_serial"].upper())
                new = (
                    conn.execute(
                        select(devices.c.id, devices.c.vendor, devices.c.label).where(
                            and_(
                                devices.c.id != line["device_id"],
                                conds[0] if len(conds) == 1 else (conds[0] | conds[1]),
                            )
                        )
                    ).first()
                    if conds
                    else None
                )
                if new is None or _last_answer(conn, new.id) is None:
                    waiting.append("the new device has not answered a scan yet (phaseout scan --site ...)")
                else:
                    found_new[line["device_id"]] = new.id
                if new is not None and new.vendor in covered:
                    problems.append(
                        f"the new device {new.id} is made by {new.vendor}"
                        + (f" (sold as {new.label})" if new.label else "")
                        + ", covered by a policy pack in use"
                    )
                last = _last_answer(conn, line["device_id"])
                scans = [
                    s for s in _scans_since(conn, done_on) if line["ip"] and any(covers(t, line["ip"]) for t in s[1])
                ]
                if last is not None and done_on is not None and last.date() >= done_on:
                    problems.append(f"the old device still answered a scan on {last.date()}")
                elif not scans:
                    waiting.append("no scan of the old device's address since the work was done")
                if problems:
                    state, detail = "exception", "; ".join(problems)
                elif waiting:
                    state, detail = "pending", "; ".join(waiting)
                else:
                    state, detail = "passed", f"new device {new.id if new else '?'} answers; the old one no longer does"
                conn.execute(
                    update(work_order_devices)
                    .where(
                        work_order_devices.c.work_order_id == order["id"],
                        work_order_devices.c.device_id == line["device_id"],
                    )
                    .values(verification=state, detail=detail)
                )
                entry = {"work_order": order["id"], "device": line["device_id"], "detail": detail}
                if state == "exception":
                    out.exceptions.append(entry)
                elif state == "pending":
                    out.pending.append(entry)
                order_ok = order_ok and state == "passed"
            if order_ok:
                # coverage: cameras at the site now (the order's old ones out, its new ones in,
                # whatever type identification gave them) against the count when it was made
                old_ids = [ln["device_id"] for ln in lines]
                old_cameras = set(
                    conn.execute(
                        select(devices.c.id).where(devices.c.id.in_(old_ids), devices.c.id_type == "camera")
                    ).scalars()
                )
                replacing = [found_new[i] for i in old_ids if i in old_cameras and i in found_new]
                others = (
                    conn.execute(
                        select(func.count())
                        .select_from(devices.join(sites, sites.c.id == devices.c.site_id))
                        .where(
                            sites.c.code == order["site"],
                            devices.c.status == "active",
                            devices.c.id_type == "camera",
                            devices.c.id.not_in([*old_ids, *replacing] or [-1]),
                        )
                    ).scalar()
                    or 0
                )
                now = int(others) + len(set(replacing))
                if old_cameras and now < order["cameras_before"]:
                    order_ok = False
                    out.exceptions.append(
                        {
                            "work_order": order["id"],
                            "device": None,
                            "detail": f"coverage: the site has {now} cameras after the swap, "
                            f"{order['cameras_before']} before",
                        }
                    )
            if order_ok:
                check_transition("done", "verified", by_verification=True)
                conn.execute(
                    update(work_orders)
                    .where(work_orders.c.id == order["id"])
                    .values(status="verified", updated_at=_now(), updated_by=actor)
                )
                ids = [ln["device_id"] for ln in lines]
                conn.execute(update(devices).where(devices.c.id.in_(ids)).values(status="replaced"))
                record_event(
                    conn,
                    actor,
                    "work-order.status",
                    "work-order",
                    order["id"],
                    {"status": "done"},
                    {"status": "verified", "devices": ids},
                )
                out.verified.append(order["id"])
        for row in conn.execute(
            select(devices.c.id, devices.c.ip, func.max(observations.c.observed_at))
            .select_from(devices.join(observations, observations.c.device_id == devices.c.id))
            .where(devices.c.status == "replaced", observations.c.kind != "inventory")
            .group_by(devices.c.id, devices.c.ip)
        ):
            replaced_at = conn.execute(
                select(func.max(work_orders.c.updated_at))
                .select_from(
                    work_orders.join(work_order_devices, work_order_devices.c.work_order_id == work_orders.c.id)
                )
                .where(work_order_devices.c.device_id == row[0], work_orders.c.status == "verified")
            ).scalar()
            seen = row[2] if row[2].tzinfo else row[2].replace(tzinfo=dt.UTC)
            if replaced_at is not None:
                replaced_at = replaced_at if replaced_at.tzinfo else replaced_at.replace(tzinfo=dt.UTC)
                if seen > replaced_at:
                    out.came_back.append({"device": row[0], "ip": row[1], "seen": seen.isoformat()})
    return out
