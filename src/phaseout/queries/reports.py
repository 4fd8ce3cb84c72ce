"""The reads the board, public, compliance and site reports stand on, as plain rows.

The reports themselves (``phaseout.report``) only assemble and word these: every figure they
print comes from one of the functions here, so what a report claims can be traced to one query.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from phaseout.store.schema import (
    assessments,
    devices,
    events,
    import_batches,
    plan_visits,
    plans,
    sites,
    waivers,
    work_order_devices,
    work_orders,
)

#: Covered devices still counted by a programme: in service, or replaced and awaiting proof.
COUNTED = ("active", "replaced")


def covered_devices(conn: Connection, makers: list[str]) -> list[Any]:
    """Every counted device of these makers with its site and its assessment (rows with id,
    status, vendor, label, code, name, region, sensitivity, risk, deadline, mitigations)."""
    return list(
        conn.execute(
            select(
                devices.c.id,
                devices.c.status,
                devices.c.vendor,
                devices.c.label,
                sites.c.code,
                sites.c.name,
                sites.c.region,
                sites.c.sensitivity,
                assessments.c.risk,
                assessments.c.deadline,
                assessments.c.mitigations,
            )
            .select_from(
                devices.outerjoin(sites, sites.c.id == devices.c.site_id).outerjoin(
                    assessments, assessments.c.device_id == devices.c.id
                )
            )
            .where(devices.c.vendor.in_(makers), devices.c.status.in_(COUNTED))
        )
    )


@dataclass(slots=True)
class StoredPlan:
    """A stored plan as the reports need it: its row, its visits, and the periods of its visits
    at sensitive sites (``None`` for a visit the plan could not schedule)."""

    row: dict[str, Any]
    visits: list[tuple[str | None, int, float, str]]  # period, devices, cost, swaps (JSON)
    sensitive_periods: list[str | None]


def stored_plan(conn: Connection, plan_id: int | None = None) -> StoredPlan | None:
    """A stored plan (default: the newest), or ``None`` when there is none."""
    query = select(plans).order_by(plans.c.id.desc()).limit(1)
    if plan_id is not None:
        query = select(plans).where(plans.c.id == plan_id)
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    visits = [
        (period, int(n), float(cost), str(swaps))
        for period, n, cost, swaps in conn.execute(
            select(plan_visits.c.period, plan_visits.c.devices, plan_visits.c.cost, plan_visits.c.swaps).where(
                plan_visits.c.plan_id == row["id"]
            )
        )
    ]
    sensitive = [
        period
        for (period,) in conn.execute(
            select(plan_visits.c.period)
            .select_from(plan_visits.join(sites, sites.c.code == plan_visits.c.site))
            .where(plan_visits.c.plan_id == row["id"], sites.c.sensitivity == "sensitive")
        )
    ]
    return StoredPlan(dict(row), visits, sensitive)


def site_codes(conn: Connection) -> list[str]:
    return [c for (c,) in conn.execute(select(sites.c.code))]


def sensitive_site_count(conn: Connection) -> int:
    return int(
        conn.execute(select(func.count()).select_from(sites).where(sites.c.sensitivity == "sensitive")).scalar() or 0
    )


@dataclass(slots=True)
class Provenance:
    """When the evidence behind a report was gathered: imports, the assessment, status events."""

    imports: int
    last_import: dt.datetime | None
    assessed: dt.datetime | None
    status_events: int


def provenance(conn: Connection) -> Provenance:
    return Provenance(
        imports=int(conn.execute(select(func.count()).select_from(import_batches)).scalar() or 0),
        last_import=conn.execute(select(func.max(import_batches.c.started_at))).scalar(),
        assessed=conn.execute(select(func.max(assessments.c.assessed_at))).scalar(),
        status_events=int(
            conn.execute(
                select(func.count()).select_from(events).where(events.c.action == "work-order.status")
            ).scalar()
            or 0
        ),
    )


def live_waivers(conn: Connection) -> list[dict[str, Any]]:
    """Waivers not revoked, soonest expiry first."""
    return [
        dict(w)
        for w in conn.execute(select(waivers).where(waivers.c.revoked.is_(False)).order_by(waivers.c.expires))
        .mappings()
        .all()
    ]


def verification_exceptions(conn: Connection) -> list[tuple[int, int, str]]:
    """(work order, device, detail) of every device whose verification is an exception."""
    return [
        (int(o), int(d), str(detail or ""))
        for o, d, detail in conn.execute(
            select(
                work_order_devices.c.work_order_id, work_order_devices.c.device_id, work_order_devices.c.detail
            ).where(work_order_devices.c.verification == "exception")
        )
    ]


def blocked_orders(conn: Connection) -> list[tuple[int, str, str]]:
    """(work order, site, reason) of every blocked work order."""
    return [
        (int(i), str(site), str(reason or ""))
        for i, site, reason in conn.execute(
            select(work_orders.c.id, work_orders.c.site, work_orders.c.reason).where(work_orders.c.status == "blocked")
        )
    ]


def verified_details(conn: Connection) -> dict[int, str]:
    """Device -> the detail of its passed verification (what proved the swap)."""
    return {
        int(d): str(detail or "")
        for d, detail in conn.execute(
            select(work_order_devices.c.device_id, work_order_devices.c.detail).where(
                work_order_devices.c.verification == "passed"
            )
        )
    }


def site_orders(conn: Connection, code: str) -> list[tuple[int, str, str | None, str]]:
    """(work order, visit, period, status) of one site's work orders."""
    return [
        (int(i), str(package), period, str(status))
        for i, package, period, status in conn.execute(
            select(work_orders.c.id, work_orders.c.package, work_orders.c.period, work_orders.c.status).where(
                work_orders.c.site == code
            )
        )
    ]
