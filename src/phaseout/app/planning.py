"""Read what a plan needs from the store: the sites, and every active device a policy pack in use
covers, with its decoded spec, its assessed risk and its removal deadline.

The risk and the deadlines come from the stored assessment (``phaseout assess``), so the plan
weighs devices exactly as the findings do; a plan asked for before any assessment is refused with
the command to run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, func, select

from phaseout.errors import PhaseoutError, UsageError
from phaseout.identify.models import Grammar, match_model
from phaseout.knowledge.index import Knowledge
from phaseout.plan.catalogue import Catalogue, covered_makers, read_catalogue, sample_catalogue_path
from phaseout.plan.estate import EstateDevice, EstatePlan, EstateSite, PlanSettings, build_estate_plan
from phaseout.plan.replace import DeviceSpec, Matcher
from phaseout.plan.solve import PlanResult
from phaseout.policy.packs import PolicyPack
from phaseout.policy.status import removal_deadline
from phaseout.store.engine import writing
from phaseout.store.schema import assessments, devices, plan_visits, plans, sites

BATCH = 5_000


class NotAssessedError(PhaseoutError):
    exit_code = 2  # a step that must come first (`phaseout assess`): a usage error


def read_estate(
    conn: Connection, packs: list[PolicyPack], knowledge: Knowledge, today: dt.date
) -> tuple[list[EstateSite], list[EstateDevice]]:
    makers = sorted(covered_makers(packs))
    assessed = conn.execute(select(func.count()).select_from(assessments)).scalar() or 0
    if not assessed:
        raise NotAssessedError(
            "no assessment is stored: the plan weighs devices by their assessed risk",
            hint="run `phaseout assess` first (after `phaseout policy use ...`)",
        )
    site_ids = dict(conn.execute(select(sites.c.id, sites.c.code)).all())
    cameras: Counter[str] = Counter()
    for site_id, n in conn.execute(
        select(devices.c.site_id, func.count())
        .where(devices.c.status == "active", devices.c.id_type == "camera", devices.c.site_id.is_not(None))
        .group_by(devices.c.site_id)
    ):
        cameras[site_ids[site_id]] = int(n)
    recorded: dict[int, int] = dict(
        conn.execute(
            select(devices.c.parent_id, func.count())
            .where(devices.c.parent_id.is_not(None), devices.c.status == "active")
            .group_by(devices.c.parent_id)
        ).all()
    )
    estate_sites = [
        EstateSite(
            row.code,
            row.region or "",
            row.sensitivity == "sensitive",
            row.next_maintenance,
            row.maintenance_cycle_months,
            cameras.get(row.code, 0),
        )
        for row in conn.execute(select(sites).order_by(sites.c.code))
    ]
    grammar = Grammar(knowledge.grammar)
    query = (
        select(
            devices.c.id,
            devices.c.site_id,
            devices.c.ip,
            devices.c.vendor,
            devices.c.label,
            devices.c.id_model,
            devices.c.model,
            devices.c.id_type,
            devices.c.form_factor,
            devices.c.megapixels,
            devices.c.parent_id,
            assessments.c.risk,
            assessments.c.findings,
        )
        .select_from(devices.join(assessments, assessments.c.device_id == devices.c.id))
        .where(devices.c.status == "active", devices.c.vendor.in_(makers))
        .order_by(devices.c.id)
    )
    out: list[EstateDevice] = []
    specs: dict[tuple[str, str | None, int | None, int | None, int], DeviceSpec] = {}
    for row in conn.execute(query.execution_options(yield_per=BATCH)):
        model = row.id_model or row.model
        channels = None
        if row.id_type == "recorder" and model:
            decoded = match_model(grammar, model)
            channels = decoded.channels if decoded else None
        key = (row.id_type or "unknown", row.form_factor, row.megapixels, channels, int(recorded.get(row.id, 0)))
        spec = specs.get(key)
        if spec is None:  # equal specs share one object: a handful of kinds over 1.5 M devices
            spec = specs[key] = DeviceSpec(*key)
        out.append(
            EstateDevice(
                row.id,
                site_ids.get(row.site_id) if row.site_id is not None else None,
                row.vendor,
                row.label,
                model,
                row.ip,
                spec,
                float(row.risk),
                removal_deadline(json.loads(row.findings), today),
                row.parent_id,
            )
        )
    return estate_sites, out


def plan_details(estate: EstatePlan) -> dict[str, Any]:
    """What the plan row keeps beside problem.json and plan.json: the period dates, the devices
    left without a replacement and why, the notes, and each site's camera count (runbooks)."""
    return {
        "periods": [
            {"id": p.id, "first_day": a.isoformat(), "last_day": b.isoformat()}
            for p, (a, b) in zip(estate.problem.periods, estate.period_dates, strict=True)
        ],
        "unmatched": [
            {"device": d.id, "site": d.site, "model": d.model, "reason": reason} for d, reason in estate.unmatched
        ],
        "notes": estate.notes,
        "cameras_by_site": {code: s.cameras for code, s in estate.sites.items() if s.cameras},
    }


def _visit_rows(plan_id: int, estate: EstatePlan, result: PlanResult) -> list[dict[str, Any]]:
    periods = estate.problem.periods
    packages = {p.id: p for p in estate.problem.packages}
    rows = []
    for visit in estate.visits.values():
        t = result.assignments.get(visit.id)
        package = packages[visit.id]
        rows.append(
            {
                "plan_id": plan_id,
                "package": visit.id,
                "site": visit.site,
                "period": None if t is None else periods[t].id,
                "period_index": t,
                "devices": len(visit.swaps),
                "risk": package.risk,
                "cost": package.cost,
                "hours": package.hours,
                "swaps": orjson.dumps(
                    [
                        {
                            "device": s.device.id,
                            "type": s.device.spec.device_type,
                            "old": f"{s.device.vendor} {s.device.brand or ''} {s.device.model or ''}".strip(),
                            "ip": s.device.ip,
                            "sku": s.item.sku,
                            "cost": round(s.cost, 2),
                            "hours": s.hours,
                        }
                        for s in visit.swaps
                    ]
                ).decode(),
            }
        )
    return rows


def save_plan(engine: Engine, name: str, estate: EstatePlan, result: PlanResult, actor: str | None = None) -> int:
    """Store the plan and, one row each, its visits (the dashboard and the work orders read them)."""
    settings = dataclasses.asdict(estate.settings)
    settings["start"] = estate.settings.start.isoformat()
    with writing(engine) as conn:
        inserted = conn.execute(
            plans.insert().values(
                name=name,
                created_at=dt.datetime.now(dt.UTC),
                status=result.status,
                objective=result.objective,
                settings=json.dumps(settings),
                problem=orjson.dumps(estate.problem.as_dict()).decode(),
                result=orjson.dumps(result.as_dict()).decode(),
                details=orjson.dumps(plan_details(estate)).decode(),
            )
        )
        key = inserted.inserted_primary_key
        assert key is not None
        plan_id = int(key[0])
        from phaseout.store.audit import cli_actor, record_event

        record_event(
            conn,
            actor or cli_actor(),
            "plan.save",
            "plan",
            plan_id,
            None,
            {"name": name, "status": result.status, "objective": result.objective, "visits": len(estate.visits)},
        )
        rows = _visit_rows(plan_id, estate, result)
        for start in range(0, len(rows), BATCH):
            conn.execute(plan_visits.insert(), rows[start : start + BATCH])
        from phaseout.store.generation import bump

        bump(conn)
        return plan_id


def stored_plans(conn: Connection) -> list[tuple[str, dict[str, Any]]]:
    """(scenario name, plan.json) for the latest plan of each name, oldest name first."""
    latest = select(plans.c.name, func.max(plans.c.id).label("id")).group_by(plans.c.name).subquery()
    rows = conn.execute(
        select(plans.c.name, plans.c.result).join(latest, latest.c.id == plans.c.id).order_by(plans.c.id)
    ).all()
    return [(row.name, orjson.loads(row.result)) for row in rows]


def plan_stored_estate(
    engine: Engine, catalogue_path: str | Path | None, settings: PlanSettings, today: dt.date
) -> tuple[EstatePlan, Catalogue]:
    """The stored estate as a planning problem, with the catalogue (default: the illustrative
    sample) checked against the packs in use."""
    from phaseout.app import Phaseout
    from phaseout.knowledge import load_knowledge
    from phaseout.store import Store

    knowledge = load_knowledge()
    packs = Phaseout(Store(engine)).packs_in_use()
    if not packs:
        raise UsageError(
            "no policy pack is in use, so no device is due for replacement",
            hint="choose the packs that apply: phaseout policy use us-ndaa-889 ... then phaseout assess",
        )
    catalogue = read_catalogue(catalogue_path or sample_catalogue_path(), knowledge, packs)
    with engine.connect() as conn:
        sites, found = read_estate(conn, packs, knowledge, today)
    estate = build_estate_plan(sites, found, Matcher(catalogue.items, settings.labour_rate), settings)
    return estate, catalogue


def with_runbook(found: dict[str, Any] | None) -> dict[str, Any] | None:
    """A site's stored visits (``queries.dashboard.site_plan``) with their runbook steps (the
    order of work, never more than the offline share down): read-only, nothing is re-planned."""
    from phaseout.plan.runbook import runbook_from_details

    if found is None or not found.get("visits"):
        return found
    steps = runbook_from_details(
        found["swaps"], found["periods"], found["cameras"], found["max_offline_share"], found.get("places")
    )
    return {k: found[k] for k in ("plan", "name", "visits")} | {"runbook": [s.as_dict() for s in steps]}
