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
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from phaseout.app.planning import with_runbook
from phaseout.errors import UsageError
from phaseout.plan.catalogue import covered_makers
from phaseout.policy.packs import PolicyPack
from phaseout.queries import dashboard as q
from phaseout.queries import reports as rq


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
    series: list[tuple[str, list[float | None]]]  # None: no value (a period still to come)


@dataclass(slots=True)
class Section:
    heading: str
    text: list[str] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    style: str = ""  # "decision": drawn as a box that stands out
    page_break_after: bool = False


@dataclass(slots=True)
class Report:
    kind: str
    title: str
    subtitle: str
    generated: str  # the "as of" date the figures describe
    figures: list[tuple[str, str]] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what is marked, and why (defaults, samples, unchecked)


def waiver_states(waived: list[dict[str, Any]], today: dt.date) -> dict[int, str]:
    """Device -> waiver state (active or expired) of live waivers; an active one wins."""
    out: dict[int, str] = {}
    for w in waived:
        state = "active" if w["expires"] >= today else "expired"
        if out.get(w["device_id"]) != "active":
            out[w["device_id"]] = state
    return out


def exceptions_section(conn: Connection, today: dt.date) -> Section:
    section = Section("Exceptions")
    exceptions = rq.verification_exceptions(conn)
    blocked = rq.blocked_orders(conn)
    waived = rq.live_waivers(conn)
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


def compliance_report(conn: Connection, packs: list[PolicyPack], today: dt.date) -> Report:
    if not packs:
        raise UsageError("no policy pack is in use", hint="phaseout policy use ...")
    waived = waiver_states(rq.live_waivers(conn), today)
    report = Report("compliance", "Compliance statement", "Per policy pack in use", today.isoformat())
    verified = rq.verified_details(conn)
    for pack in packs:
        makers = sorted(covered_makers([pack]))
        rows = rq.covered_devices(conn, makers)
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
                    [[r.id, r.code or "", verified.get(r.id) or "replaced"] for r in replaced[:500]],
                )
            )
        report.sections.append(section)
    report.figures = [("packs", str(len(packs))), ("as of", today.isoformat())]
    report.sources = [
        "Devices, replacements and verifications: this organisation's phaseout database.",
        *(f"{p.name} (version {p.version}): {'; '.join(p.sources[:2])}" for p in packs),
    ]
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
    report.sources = ["Devices and the plan's runbook: this organisation's phaseout database (newest stored plan)."]
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
                ["#", "visit", "period", "action", "device", "old", "ip", "channel", "new SKU"],
                [
                    [
                        s["step"],
                        s["visit"],
                        s["period"] or "",
                        s["action"],
                        s["device"] or "",
                        s["old"],
                        s["ip"],
                        s.get("where") or "",
                        s["sku"],
                    ]
                    for s in plan["runbook"]
                ],
            )
        )
    else:
        runbook.text.append("No planned work for this site.")
    report.sections.append(runbook)
    orders = rq.site_orders(conn, code)
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
