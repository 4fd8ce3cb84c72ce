"""The facts the board and public reports stand on, each read once from the store with where it
came from, so a report can say which figures rest on a default, a sample or an unchecked claim.

- makers and labels of the covered devices, where they are (regions, sites), how risky they are
  (bands in words, the same absolute bands as the dashboard map);
- the newest stored plan: its status in honest words, its periods up to the last one with work,
  what it costs, whether its prices are the illustrative sample catalogue's and whether its
  budget was one the organisation gave or the planner's default;
- progress: covered devices remaining, replaced and verified, against what the plan expected.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection

from phaseout.plan.catalogue import sample_catalogue_path
from phaseout.queries import reports as rq
from phaseout.queries.progress import as_of, progress_days
from phaseout.store.settings import get_setting

# Absolute risk bands (assessed risk score of one device); the dashboard and the map use the same.
RISK_BANDS: tuple[tuple[str, float, str], ...] = (
    ("critical", 100.0, "score 100 or more"),
    ("high", 50.0, "score 50 to 99"),
    ("medium", 20.0, "score 20 to 49"),
    ("low", 0.0, "score under 20"),
)
# Absolute colour scale of sites by covered devices still in service: the dashboard map and the
# reports use the same bands (lower bound, label, colour), never one relative to the busiest site.
SITE_SCALE: tuple[tuple[int, str, str], ...] = (
    (100, "100 or more", "#7f1d1d"),
    (50, "50 to 99", "#b91c1c"),
    (10, "10 to 49", "#ea580c"),
    (1, "1 to 9", "#ca8a04"),
    (0, "none", "#15803d"),
)
# The planner's budget when --budget is not given (cli/plan.py): never reported as a budget.
DEFAULT_BUDGET = 750_000.0
MAKER_NAMES = {"hikvision": "Hikvision", "dahua": "Dahua"}


def maker_order(makers: list[str]) -> list[str]:
    """Hikvision, then Dahua, then any other covered maker alphabetically."""
    return sorted(makers, key=lambda m: (list(MAKER_NAMES).index(m) if m in MAKER_NAMES else len(MAKER_NAMES), m))


def maker_name(vendor: str) -> str:
    return MAKER_NAMES.get(vendor, vendor.title())


def band(risk: float | None) -> str:
    value = risk or 0.0
    for name, low, _words in RISK_BANDS:
        if value >= low:
            return name
    return "low"


def status_label(status: str, gap: float | None) -> str:
    """A plan's status in words that never overstate it: "optimal" only when proven (zero gap)."""
    if status in ("infeasible", "no-solution"):
        return "infeasible: no schedule meets every constraint"
    if status == "optimal" and not gap:
        return "optimal"
    if gap is not None and status in ("optimal", "feasible"):
        return f"within {gap * 100:.2f} % of optimal"
    return status


def money(value: float, currency: str | None) -> str:
    text = f"{value:,.0f}"
    return f"{currency} {text}" if currency else text


@dataclass(slots=True)
class PlanFacts:
    id: int
    name: str
    created: str
    status: str
    label: str
    infeasible: bool
    periods: list[dict[str, Any]]  # id, first_day, last_day, spend, budget, done, left — up to the last with work
    all_periods: list[dict[str, Any]]  # id, first_day, last_day of every planned period
    planned_devices: int
    unplanned: list[dict[str, Any]]
    cost: float
    sample_prices: bool
    budget_given: bool
    budget_per_period: list[float]
    problem: dict[str, Any]
    risk_left: float | None
    sensitive_last: str | None  # last period with work at a sensitive site (None: none planned)
    sensitive_unscheduled: int  # visits at sensitive sites the plan could not schedule


@dataclass(slots=True)
class Facts:
    today: dt.date
    currency: str | None
    makers: list[str]
    by_label: dict[str, Counter[str]]  # maker -> label -> devices (covered, active or replaced)
    total: int
    remaining: int
    replaced_status: int
    sites_total: int
    sites_with_covered: int
    regions: list[tuple[str, int, int]]  # region, remaining covered devices, sites
    site_bands: list[tuple[str, int]]  # SITE_SCALE label -> sites (every site, none included)
    top_sites: list[dict[str, Any]]
    bands: list[tuple[str, str, int]]  # band, words, remaining devices
    overdue_sensitive: list[dict[str, Any]]
    latest_deadline: dt.date | None  # the last removal deadline of a remaining covered device
    sensitive_sites: int
    progress: list[dict[str, Any]]
    plan: PlanFacts | None
    # mitigation action -> verification state (passed | failed | not checked) -> remaining devices
    mitigations: dict[str, Counter[str]] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)


def _sample_skus() -> set[str]:
    with sample_catalogue_path().open(encoding="utf-8") as fh:
        lines = [line for line in fh if not line.startswith("#")]
    return {row.get("sku", "") for row in csv.DictReader(lines)}


def plan_facts(conn: Connection, today: dt.date, plan_id: int | None = None) -> PlanFacts | None:
    """A stored plan (default: the newest), cut at its last period with work."""
    stored = rq.stored_plan(conn, plan_id)
    return None if stored is None else plan_facts_of(stored)


def plan_facts_of(stored: rq.StoredPlan) -> PlanFacts:
    """What the reports say about a stored plan (pure: from the rows :func:`rq.stored_plan` read)."""
    row, visits, sensitive_periods = stored.row, stored.visits, stored.sensitive_periods
    result = orjson.loads(row["result"])
    settings = json.loads(row["settings"])
    details = orjson.loads(row["details"]) if row["details"] else {}
    order = {p["id"]: i for i, p in enumerate(result.get("periods", []))}
    done: Counter[str] = Counter()
    skus: set[str] = set()
    for period, n, _cost, swaps in visits:
        if period is not None:
            done[period] += int(n)
        skus.update(s["sku"] for s in orjson.loads(swaps))
    planned = sum(int(n) for _p, n, _c, _s in visits)
    scheduled = sum(done.values())
    dates = {p["id"]: p for p in details.get("periods", [])}
    uses = result.get("periods", [])
    last_work = max((i for i, p in enumerate(uses) if done.get(p["id"])), default=-1)
    left = scheduled
    periods = []
    for p in uses[: last_work + 1]:
        left -= done.get(p["id"], 0)
        periods.append(
            {
                "id": p["id"],
                "first_day": dates.get(p["id"], {}).get("first_day"),
                "last_day": dates.get(p["id"], {}).get("last_day"),
                "spend": float(p.get("spend", 0.0)),
                "budget": float(p.get("budget", 0.0)),
                "done": done.get(p["id"], 0),
                "left": left,
            }
        )
    budgets = [float(b) for b in settings.get("budget", [])]
    status = str(result.get("status", ""))
    infeasible = status in ("infeasible", "no-solution")
    return PlanFacts(
        id=int(row["id"]),
        name=str(row["name"]),
        created=row["created_at"].date().isoformat(),
        status=status,
        label=status_label(status, result.get("gap")),
        infeasible=infeasible,
        periods=periods,
        all_periods=list(details.get("periods", [])),
        planned_devices=planned,
        unplanned=list(details.get("unmatched", [])) + [{"reason": "visit not scheduled"}] * (planned - scheduled),
        cost=float(sum(float(c) for _p, n, c, _s in visits if _p is not None)),
        sample_prices=bool(skus) and skus <= _sample_skus(),
        budget_given=not budgets or any(b != DEFAULT_BUDGET for b in budgets),
        budget_per_period=budgets,
        problem=orjson.loads(row["problem"]),
        risk_left=None if infeasible else result.get("objective"),
        sensitive_last=max((p for p in sensitive_periods if p), key=lambda p: order.get(p, 0), default=None),
        sensitive_unscheduled=sum(1 for p in sensitive_periods if p is None),
    )


def gather(conn: Connection, makers: list[str], today: dt.date) -> Facts:
    """Every fact the board and public reports use, read through :mod:`phaseout.queries.reports`."""
    stored = rq.stored_plan(conn)
    facts = assemble(
        rows=rq.covered_devices(conn, makers),
        makers=makers,
        today=today,
        all_codes=rq.site_codes(conn),
        sensitive_sites=rq.sensitive_site_count(conn),
        currency=get_setting(conn, "currency"),
        progress=progress_days(conn, makers, today),
        plan=None if stored is None else plan_facts_of(stored),
    )
    facts.sources = sources(rq.provenance(conn), facts)
    return facts


def assemble(
    *,
    rows: list[Any],
    makers: list[str],
    today: dt.date,
    all_codes: list[str],
    sensitive_sites: int,
    currency: str | None,
    progress: list[dict[str, Any]],
    plan: PlanFacts | None,
) -> Facts:
    """The facts from the rows read (pure)."""
    active = [r for r in rows if r.status == "active"]
    by_label: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        by_label[r.vendor][r.label or maker_name(r.vendor)] += 1
    regions: dict[str, list[Any]] = defaultdict(list)
    site_rows: dict[str, list[Any]] = defaultdict(list)
    for r in active:
        regions[r.region or "(no region)"].append(r)
        site_rows[r.code or "(no site)"].append(r)
    region_rows = sorted(
        ((name, len(rs), len({r.code for r in rs if r.code})) for name, rs in regions.items()),
        key=lambda x: (-x[1], x[0]),
    )
    top = sorted(site_rows.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:5]
    per_band = Counter(site_colour(len(site_rows.get(code, [])))[0] for code in all_codes)
    top_sites = [
        {
            "code": code,
            "name": rs[0].name or "",
            "region": rs[0].region or "",
            "devices": len(rs),
            "critical": sum(1 for r in rs if band(r.risk) == "critical"),
        }
        for code, rs in top
    ]
    bands = Counter(band(r.risk) for r in active)
    overdue: dict[str, dict[str, Any]] = {}
    for r in active:
        if r.sensitivity == "sensitive" and r.deadline is not None and r.deadline < today and r.code:
            entry = overdue.setdefault(
                r.code, {"code": r.code, "name": r.name or "", "deadline": r.deadline, "devices": 0}
            )
            entry["devices"] += 1
            entry["deadline"] = min(entry["deadline"], r.deadline)
    mitigations: dict[str, Counter[str]] = defaultdict(Counter)
    for r in active:
        for m in orjson.loads(r.mitigations) if r.mitigations else []:
            mitigations[str(m.get("action", ""))][str(m.get("verified", "not checked"))] += 1
    return Facts(
        today=today,
        currency=currency,
        makers=makers,
        by_label=dict(by_label),
        total=len(rows),
        remaining=len(active),
        replaced_status=len(rows) - len(active),
        sites_total=len(all_codes),
        sites_with_covered=len({r.code for r in rows if r.code}),
        regions=region_rows,
        site_bands=[(label, per_band.get(label, 0)) for _low, label, _colour in SITE_SCALE],
        top_sites=top_sites,
        bands=[(name, words, bands.get(name, 0)) for name, _low, words in RISK_BANDS],
        latest_deadline=max((r.deadline for r in active if r.deadline is not None), default=None),
        overdue_sensitive=sorted(overdue.values(), key=lambda e: (e["deadline"], -e["devices"])),
        sensitive_sites=sensitive_sites,
        progress=progress,
        plan=plan,
        mitigations=dict(mitigations),
    )


def sources(seen: rq.Provenance, facts: Facts) -> list[str]:
    """Where the report's figures come from, in words (pure)."""
    out = []
    last_import, batches = seen.last_import, seen.imports
    out.append(
        f"Inventory: {batches:,} import(s) into this phaseout database"
        + (f", the latest on {last_import.date().isoformat()}" if last_import else "")
        + "; makers identified by phaseout from model, brand, MAC prefix and network answers."
    )
    assessed = seen.assessed
    if assessed:
        out.append(f"Risk and deadlines: phaseout assessment of {assessed.date().isoformat()}.")
    if facts.plan is not None:
        p = facts.plan
        prices = (
            "prices from the illustrative sample catalogue shipped with phaseout (not quotes)"
            if p.sample_prices
            else "prices from the organisation's catalogue"
        )
        out.append(f"Plan: “{p.name}” (plan {p.id}) stored {p.created}; {prices}.")
    out.append(
        f"Progress: installer returns and network re-scans recorded in the audit trail "
        f"({seen.status_events:,} work-order status events)."
    )
    return out


def progress_now(facts: Facts) -> dict[str, Any]:
    """Done, verified and the shortfall against the plan as of the report date."""
    row = as_of(facts.progress, facts.today) or {"remaining": facts.remaining, "replaced": 0, "verified": 0}
    expected = 0
    if facts.plan is not None:
        for p in facts.plan.periods:
            if p["last_day"] and p["last_day"] < facts.today.isoformat():
                expected += p["done"]
    return {**row, "expected": expected, "behind": max(expected - int(row["verified"]), 0)}


def mitigation_proven(facts: Facts, action: str) -> bool:
    """True only when every remaining covered device has this mitigation verified as passed."""
    states = facts.mitigations.get(action, Counter())
    return facts.remaining > 0 and states.get("passed", 0) == facts.remaining


def site_colour(covered: int) -> tuple[str, str]:
    """(label, colour) of a site on the absolute scale."""
    for low, label, colour in SITE_SCALE:
        if covered >= low:
            return label, colour
    return SITE_SCALE[-1][1], SITE_SCALE[-1][2]


def progress_chart(conn: Connection, makers: list[str], today: dt.date, plan_id: int | None = None) -> dict[str, Any]:
    """Plan against actual for the dashboard: covered devices remaining at the end of each planned
    period (up to the last with work, plus the devices with no replacement planned) against the
    devices actually remaining (verified replacements only), and today's progress figures."""
    days = progress_days(conn, makers, today)
    plan = plan_facts(conn, today, plan_id)
    now = as_of(days, today) or {"remaining": 0, "replaced": 0, "verified": 0}
    out: dict[str, Any] = {"now": now, "total": int(now["remaining"]) + int(now["verified"]), "chart": None}
    if plan is None:
        out["expected"] = out["behind"] = 0
        return out
    unplanned = len(plan.unplanned)
    expected = sum(p["done"] for p in plan.periods if p["last_day"] and p["last_day"] < today.isoformat())
    out["expected"] = expected
    out["behind"] = max(expected - int(now["verified"]), 0)
    out["plan"] = {"id": plan.id, "name": plan.name, "label": plan.label, "unplanned": unplanned}
    scheduled = plan.periods[0]["left"] + plan.periods[0]["done"] if plan.periods else 0

    def actual(first_day: str | None, last_day: str | None) -> int | None:
        """Remaining at the period's end, or today for the period under way; None ahead of today."""
        if not first_day or first_day > today.isoformat():
            return None
        day = min(last_day or today.isoformat(), today.isoformat())
        row = as_of(days, dt.date.fromisoformat(day))
        return None if row is None else int(row["remaining"])

    first = plan.periods[0]["first_day"] if plan.periods else None
    start = actual(first, first) if first and first <= today.isoformat() else int(now["remaining"])
    out["chart"] = {
        "type": "line",
        "labels": ["start", *(p["id"] for p in plan.periods)],
        "series": [
            {
                "label": "plan (incl. no replacement planned)",
                "values": [scheduled + unplanned, *(p["left"] + unplanned for p in plan.periods)],
            },
            {
                "label": "actual (verified)",
                "values": [start, *(actual(p["first_day"], p["last_day"]) for p in plan.periods)],
            },
        ],
    }
    return out
