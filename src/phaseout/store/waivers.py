"""Waivers: a covered device that must stay past its deadline gets a recorded waiver (reason,
approver, expiry, compensating controls).  A waiver never hides a device: reports and lists
label it, and an expired waiver labels it as expired."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, select, update

from phaseout.errors import UsageError
from phaseout.store.audit import record_event
from phaseout.store.engine import writing
from phaseout.store.schema import devices, waivers


def add_waiver(
    engine: Engine, actor: str, device_id: int, reason: str, approver: str, expires: dt.date, controls: str
) -> int:
    if not reason.strip() or not approver.strip() or not controls.strip():
        raise UsageError("a waiver needs a reason, an approver and compensating controls")
    if expires <= dt.date.today():
        raise UsageError(f"the waiver's expiry {expires} is not in the future", hint="--expires YYYY-MM-DD")
    with writing(engine) as conn:
        if conn.execute(select(devices.c.id).where(devices.c.id == device_id)).first() is None:
            raise UsageError(f"no device {device_id}", hint="phaseout devices lists them")
        waiver_id = conn.execute(
            waivers.insert()
            .values(
                device_id=device_id,
                reason=reason,
                approver=approver,
                expires=expires,
                controls=controls,
                created_at=dt.datetime.now(dt.UTC),
                created_by=actor,
            )
            .returning(waivers.c.id)
        ).scalar_one()
        record_event(
            conn,
            actor,
            "waiver.add",
            "device",
            device_id,
            None,
            {"waiver": waiver_id, "reason": reason, "approver": approver, "expires": expires, "controls": controls},
        )
    return int(waiver_id)


def revoke_waiver(engine: Engine, actor: str, waiver_id: int) -> None:
    with writing(engine) as conn:
        row = conn.execute(select(waivers).where(waivers.c.id == waiver_id)).mappings().first()
        if row is None:
            raise UsageError(f"no waiver {waiver_id}", hint="phaseout waiver list")
        conn.execute(update(waivers).where(waivers.c.id == waiver_id).values(revoked=True))
        record_event(conn, actor, "waiver.revoke", "device", row["device_id"], {"waiver": waiver_id}, {"revoked": True})


def list_waivers(engine: Engine, today: dt.date | None = None) -> list[dict[str, Any]]:
    day = today or dt.date.today()
    with engine.connect() as conn:
        rows = conn.execute(select(waivers).order_by(waivers.c.id)).mappings().all()
    out = []
    for r in rows:
        item = dict(r)
        item["state"] = "revoked" if r["revoked"] else ("expired" if r["expires"] < day else "active")
        out.append(item)
    return out
