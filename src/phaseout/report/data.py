"""What each report says, read from the store into one plain shape that every format renders:
a title, headline figures, and sections of text, charts and tables.

- board: covered devices remaining by site sensitivity, burn-down against the plan, spend against
  budget, risk remaining, deadlines at risk, exceptions (verification, blocked work, waivers);
- compliance: per policy pack in use, the devices in scope, replaced (with the verification
  that proves it), waived and remaining;
- site: one site's sheet for installers: its devices, runbook and work orders;
- public: totals fit for answering a campaign group's letter (no site names, no addresses).
Waivers never hide a device: they are counted and labelled everywhere.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select

from phaseout.app.planning import with_runbook
from phaseout.errors import UsageError
from phaseout.plan.catalogue import covered_makers
from phaseout.policy.packs import PolicyPack
from phaseout.queries import dashboard as q
from phaseout.store.schema import assessments, devices, plan_visits, sites, waivers, work_order_devices, work_orders


@dataclass(slots=True)
class Table:
    name: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass(slots=True)
class Chart:
    kind: str  # bar | line
    title: str
    labels: list[str]
    series: list[tuple[str, list[float]]]


@dataclass(slots=True)
class Section:
    heading: str
    text: list[str] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


@dataclass(slots=True)
class Report:
    kind: str
    title: str
    subtitle: str
    generated: str
    figures: list[tuple[str, str]] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)


def _waived(conn: Connection, today: dt.date) -> dict[int, str]:
    """Device -> waiver state (active or expired), revoked waivers left out."""
    out: dict[int, str] = {}
    for device_id, expires in conn.execute(
        select(waivers.c.device_id, waivers.c.expires).where(waivers.c.revoked.is_(False))
    ):
        state = "active" if expires >= today else "expired"
        if out.get(device_id) != "active":
            out[device_id] = state
    return out


def _covered_devices(conn: Connection, makers: list[str]) -> list[Any]:
    return list(
        conn.execute(
            select(
                devices.c.id,
                devices.c.status,
                devices.c.vendor,
                sites.c.sensitivity,
                sites.c.code,
                assessments.c.risk,
                assessments.c.deadline,
            )
            .select_from(
                devices.outerjoin(sites, sites.c.id == devices.c.site_id).outerjoin(
                    assessments, assessments.c.device_id == devices.c.id
                )
            )
            .where(devices.c.vendor.in_(makers), devices.c.status.in_(("active", "replaced")))
        )
    )


def _exceptions(conn: Connection, today: dt.date) -> Section:
    section = Section("Exceptions")
    exceptions = conn.execute(
        select(work_order_devices.c.work_order_id, work_order_devices.c.device_id, work_order_devices.c.detail).where(
            work_order_devices.c.verification == "exception"
        )
    ).all()
    blocked = conn.execute(
        select(work_orders.c.id, work_orders.c.site, work_orders.c.reason).where(work_orders.c.status == "blocked")
    ).all()
    waived = (
        conn.execute(select(waivers).where(waivers.c.revoked.is_(False)).order_by(waivers.c.expires)).mappings().all()
    )
    section.text.append(
        f"{len(exceptions)} verification exception(s), {len(blocked)} blocked work order(s), "
        f"{len(waived)} waiver(s) ({sum(1 for w in waived if w['expires'] < today)} expired)."
    )
    if exceptions:
        section.tables.append(
            Table("verification exceptions", ["work order", "device", "detail"], [list(r) for r in exceptions[:200]])
        )
    if blocked:
        section.tables.append(
            Table("blocked work orders", ["work order", "site", "reason"], [list(r) for r in blocked])
        )
    if waived:
        section.tables.append(
            Table(
                "waivers",
                ["device", "expires", "state", "approver", "reason", "compensating controls"],
                [
                    [
                        w["device_id"],
                        w["expires"].isoformat(),
                        "active" if w["expires"] >= today else "expired",
                        w["approver"],
                        w["reason"],
                        w["controls"],
                    ]
                    for w in waived
                ],
            )
        )
    return section


def board_report(conn: Connection, packs: list[PolicyPack], today: dt.date) -> Report:
    makers = sorted(covered_makers(packs))
    rows = _covered_devices(conn, makers)
    waived = _waived(conn, today)
    active = [r for r in rows if r.status == "active"]
    replaced = [r for r in rows if r.status == "replaced"]
    report = Report(
        "board",
        "Surveillance equipment phase-out: board report",
        f"Policy packs in use: {', '.join(p.name for p in packs) or 'none'}",
        today.isoformat(),
    )
    share = len(replaced) / len(rows) if rows else 0.0
    report.figures = [
        ("covered devices found", f"{len(rows):,}"),
        ("replaced and verified", f"{len(replaced):,} ({share:.0%})"),
        ("remaining", f"{len(active):,}"),
        ("of which waived", f"{sum(1 for r in active if r.id in waived):,}"),
        ("risk remaining", f"{sum(r.risk or 0 for r in active):,.0f}"),
    ]
    by_sens: Counter[str] = Counter(r.sensitivity or "(no site)" for r in active)
    remaining = Section("Covered devices remaining, by site sensitivity")
    remaining.charts.append(
        Chart("bar", "Covered devices remaining", list(by_sens), [("devices", [float(v) for v in by_sens.values()])])
    )
    remaining.tables.append(
        Table("remaining by sensitivity", ["sensitivity", "devices"], [[k, v] for k, v in by_sens.most_common()])
    )
    report.sections.append(remaining)
    plan = q.plan_detail(conn)
    progress = Section("Burn-down and spend against the plan")
    if plan is None:
        progress.text.append("No plan is stored yet (phaseout plan).")
    else:
        periods = plan["result"]["periods"]
        progress.text.append(
            f"Plan “{plan['name']}” ({plan['created_at'][:10]}): {plan['result']['status']}, "
            f"{plan['devices']:,} devices in {plan['assignments']:,} visits; "
            f"today {len(active):,} covered devices remain."
        )
        labels = [p["id"] for p in periods]
        progress.charts.append(
            Chart(
                "line",
                "Covered devices left (plan)",
                ["start", *labels],
                [("planned", [float(plan["devices"]), *(float(b["devices_left"]) for b in plan["burn_down"])])],
            )
        )
        progress.charts.append(
            Chart(
                "bar",
                "Spend against budget",
                labels,
                [("planned spend", [p["spend"] for p in periods]), ("budget", [p["budget"] for p in periods])],
            )
        )
        progress.tables.append(
            Table(
                "plan by period",
                ["period", "planned spend", "budget", "devices done (plan)", "devices left (plan)"],
                [
                    [p["id"], round(p["spend"]), round(p["budget"]), b["devices_done"], b["devices_left"]]
                    for p, b in zip(periods, plan["burn_down"], strict=True)
                ],
            )
        )
        done = conn.execute(
            select(
                func.count(),
                func.coalesce(func.sum(plan_visits.c.cost), 0.0),
                func.coalesce(func.sum(plan_visits.c.devices), 0),
            )
            .select_from(
                work_orders.join(
                    plan_visits,
                    (plan_visits.c.plan_id == work_orders.c.plan_id) & (plan_visits.c.package == work_orders.c.package),
                )
            )
            .where(work_orders.c.status == "verified")
        ).one()
        progress.text.append(
            f"Done and verified so far: {done[0]:,} visits, {int(done[2]):,} devices, "
            f"{float(done[1]):,.0f} at planned cost, against {sum(p['budget'] for p in periods):,.0f} budgeted in all."
        )
    report.sections.append(progress)
    overview = q.overview(conn)
    deadlines = Section("Deadlines at risk (overdue or within 180 days)")
    deadlines.tables.append(
        Table(
            "deadlines at risk",
            ["site", "sensitivity", "deadline", "covered devices", "risk", "overdue"],
            [
                [d["site"], d["sensitivity"], d["deadline"], d["devices"], d["risk"], "yes" if d["overdue"] else ""]
                for d in overview["deadlines_at_risk"]
            ],
        )
    )
    report.sections.append(deadlines)
    report.sections.append(_exceptions(conn, today))
    return report


def compliance_report(conn: Connection, packs: list[PolicyPack], today: dt.date) -> Report:
    if not packs:
        raise UsageError("no policy pack is in use", hint="phaseout policy use ...")
    waived = _waived(conn, today)
    report = Report("compliance", "Compliance statement", "Per policy pack in use", today.isoformat())
    verified = dict(
        conn.execute(
            select(work_order_devices.c.device_id, work_order_devices.c.detail).where(
                work_order_devices.c.verification == "passed"
            )
        ).all()
    )
    for pack in packs:
        makers = sorted(covered_makers([pack]))
        rows = _covered_devices(conn, makers)
        in_scope = len(rows)
        replaced = [r for r in rows if r.status == "replaced"]
        active = [r for r in rows if r.status == "active"]
        w = [r for r in active if r.id in waived]
        section = Section(f"{pack.name} (version {pack.version})")
        section.text.append(
            f"Covered makers: {', '.join(makers)} (under any label). Sources: {'; '.join(pack.sources[:2])}"
        )
        section.tables.append(
            Table(
                "status",
                ["devices in scope", "replaced (verified)", "waived", "remaining (not waived)"],
                [[in_scope, len(replaced), len(w), len(active) - len(w)]],
            )
        )
        if replaced:
            section.tables.append(
                Table(
                    "evidence of replacement",
                    ["device", "site", "verification"],
                    [[r.id, r.code or "", verified.get(r.id, "replaced")] for r in replaced[:500]],
                )
            )
        report.sections.append(section)
    report.figures = [("packs", str(len(packs))), ("generated", today.isoformat())]
    return report


def site_report(conn: Connection, code: str, today: dt.date) -> Report:
    found = q.site_detail(conn, code)
    if found is not None:
        found["plan"] = with_runbook(found["plan"])
    if found is None:
        raise UsageError(f"no site {code!r}", hint="phaseout sites list")
    site, plan = found["site"], found["plan"]
    report = Report(
        "site",
        f"Site sheet: {site['code']} {site['name']}",
        f"{site['address']} · region {site['region']} · {site['sensitivity']}",
        today.isoformat(),
    )
    summary = found["summary"] or {}
    report.figures = [
        ("devices", str(summary.get("devices", 0))),
        ("covered", str(summary.get("covered", 0))),
        ("deadline", summary.get("deadline") or "none"),
        ("planned", summary.get("period") or "not planned"),
    ]
    runbook = Section("Runbook (keeps the site covered)")
    if plan and plan["runbook"]:
        runbook.tables.append(
            Table(
                "runbook",
                ["#", "visit", "period", "action", "device", "old", "ip", "new SKU"],
                [
                    [
                        s["step"],
                        s["visit"],
                        s["period"] or "",
                        s["action"],
                        s["device"] or "",
                        s["old"],
                        s["ip"],
                        s["sku"],
                    ]
                    for s in plan["runbook"]
                ],
            )
        )
    else:
        runbook.text.append("No planned work for this site.")
    report.sections.append(runbook)
    orders = conn.execute(
        select(work_orders.c.id, work_orders.c.package, work_orders.c.period, work_orders.c.status).where(
            work_orders.c.site == code
        )
    ).all()
    if orders:
        report.sections.append(
            Section(
                "Work orders",
                tables=[Table("work orders", ["#", "visit", "period", "status"], [list(o) for o in orders])],
            )
        )
    report.sections.append(
        Section(
            "Devices",
            tables=[
                Table(
                    "devices",
                    ["id", "ip", "maker", "label", "model", "type", "status", "risk"],
                    [
                        [
                            d["id"],
                            d["ip"] or "",
                            d["vendor"] or "",
                            d["label"] or "",
                            d["model"] or "",
                            d["id_type"] or "",
                            d["status"],
                            round(d["risk"] or 0),
                        ]
                        for d in found["devices"]
                    ],
                )
            ],
        )
    )
    return report


def public_report(conn: Connection, packs: list[PolicyPack], today: dt.date) -> Report:
    makers = sorted(covered_makers(packs))
    rows = _covered_devices(conn, makers)
    replaced = sum(1 for r in rows if r.status == "replaced")
    remaining = len(rows) - replaced
    plan = q.plan_detail(conn)
    finish = None
    if plan is not None:
        busy = [b["period"] for b in plan["burn_down"] if b["devices_done"]]
        finish = busy[-1] if busy and not plan["result"]["unscheduled"] else None
    sites_total = conn.execute(select(func.count()).select_from(sites)).scalar() or 0
    report = Report(
        "public",
        "Our phase-out of Hikvision and Dahua surveillance equipment",
        "A public summary",
        today.isoformat(),
    )
    report.figures = [
        ("devices identified (any label)", f"{len(rows):,}"),
        ("removed and replaced", f"{replaced:,}"),
        ("still in place", f"{remaining:,}"),
        ("planned completion", finish or "being planned"),
    ]
    named = ", ".join(m.title() for m in makers) or "the makers concerned"
    report.sections.append(
        Section(
            "What we are doing",
            text=[
                f"We have identified {len(rows):,} devices made by {named}, including those sold under other brand "
                f"names, across {sites_total:,} sites.",
                f"{replaced:,} have been removed and replaced with equipment from other makers; each replacement is "
                "checked on the network to prove the old device is gone.",
                "Sensitive sites are replaced first. Until each device is replaced it is isolated from core networks "
                "and kept on current firmware.",
                f"The commitments we follow: {', '.join(p.name for p in packs) or 'our own policy'}.",
            ],
        )
    )
    return report
