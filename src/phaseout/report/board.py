"""The board report: page 1 answers the board's questions (how many Hikvision and Dahua devices
and under which labels, where, how risky, what it costs, how far along, what needs a decision);
the pages after hold the charts and tables behind them.

Honesty rules, each one tested: a figure resting on a default, the illustrative sample catalogue
or an unverified claim is marked or left out; covered devices the plan cannot replace stay in the
burn-down as "no replacement planned"; charts stop at the last period with work; an infeasible
plan never shows a risk figure.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection

from phaseout.plan.catalogue import covered_makers
from phaseout.policy.packs import PolicyPack
from phaseout.report.data import Chart, Report, Section, Table, exceptions_section
from phaseout.report.facts import Facts, PlanFacts, gather, maker_name, maker_order, money, progress_chart, progress_now


def _labels(facts: Facts, vendor: str) -> str:
    counts = facts.by_label.get(vendor)
    if not counts:
        return ""
    return ", ".join(f"{label} {n:,}" for label, n in counts.most_common())


def _how_many(facts: Facts) -> list[str]:
    lines = []
    for vendor in facts.makers:
        n = sum(facts.by_label.get(vendor, {}).values())
        lines.append(
            f"{maker_name(vendor)}: {n:,} device(s)" + (f", under the labels {_labels(facts, vendor)}." if n else ".")
        )
    return lines


def budget_to_target(plan: PlanFacts, facts: Facts) -> tuple[str, str | None, list[str]]:
    """(period id of the target, budget per period that finishes by it or None, explanation)."""
    from phaseout.plan.budget import budget_to_finish
    from phaseout.plan.problem import problem_from_dict

    periods = plan.all_periods
    if not periods:
        return "", None, ["the plan has no periods"]
    target = periods[-1]["id"]
    if facts.latest_deadline is not None:
        day = facts.latest_deadline.isoformat()
        inside = [p["id"] for p in periods if p["first_day"] <= day <= p["last_day"]]
        if inside:
            target = inside[0]
        elif day < periods[0]["first_day"]:
            target = periods[0]["id"]
    answer = budget_to_finish(problem_from_dict(plan.problem), target, time_limit=3.0, with_plan=False)
    if answer.budget_per_period is None:
        return target, None, answer.explanation
    figure = money(answer.budget_per_period, facts.currency) + " per period"
    if answer.status != "optimal" and answer.lower_bound is not None:
        figure += f" (best found in 3 s; no budget below {money(answer.lower_bound, facts.currency)} can work)"
    return target, figure, []


def _cost_line(plan: PlanFacts, facts: Facts) -> tuple[str, list[str]]:
    notes = []
    line = f"Replacing the {plan.planned_devices:,} device(s) the plan covers costs {money(plan.cost, facts.currency)}"
    if plan.sample_prices:
        line += " at the ILLUSTRATIVE SAMPLE catalogue's prices (not quotes)"
        notes.append(
            "Costs use the illustrative sample catalogue shipped with phaseout: give the approved "
            "catalogue with `phaseout plan --catalogue FILE` before relying on them."
        )
    line += "."
    unplanned = len(plan.unplanned)
    if unplanned:
        line += f" {unplanned:,} covered device(s) have no replacement planned and are not costed."
    if plan.budget_given:
        per = plan.budget_per_period
        line += f" Budget set when planning: {money(per[0], facts.currency)} per period" + (
            " (varies by period)." if len(set(per)) > 1 else "."
        )
    else:
        notes.append(
            "No budget was given when planning (the planner used its default); no figure here is presented as a budget."
        )
    if not facts.currency:
        notes.append("No currency is set: `phaseout settings set currency GBP` (or EUR, USD...).")
    return line, notes


def board_report(
    conn: Connection,
    packs: list[PolicyPack],
    today: dt.date,
    *,
    budget_check: bool = True,
    currency: str | None = None,
) -> Report:
    """``currency`` overrides the organisation's setting for this report."""
    makers = maker_order(list(covered_makers(packs)))
    facts = gather(conn, makers, today)
    if currency:
        facts.currency = currency
    plan = facts.plan
    now = progress_now(facts)
    report = Report(
        "board",
        "Hikvision and Dahua phase-out: board report",
        f"Policy packs in use: {', '.join(p.name for p in packs) or 'none'}",
        today.isoformat(),
    )
    per_maker = [(f"{maker_name(v)} devices", f"{sum(facts.by_label.get(v, {}).values()):,}") for v in makers]
    verified_share = now["verified"] / facts.total if facts.total else 0.0
    report.figures = [
        *per_maker,
        ("remaining to replace", f"{facts.remaining:,}"),
        ("replaced and verified", f"{now['verified']:,} ({verified_share:.0%})"),
        ("behind plan", f"{now['behind']:,}" if plan else "no plan"),
        ("sensitive sites overdue", f"{len(facts.overdue_sensitive):,}"),
    ]
    glance = Section("At a glance")
    glance.text.extend(_how_many(facts))
    glance.text.append(
        f"Where: {facts.remaining:,} still in service at {facts.sites_with_covered:,} of our {facts.sites_total:,} "
        f"sites, in {len(facts.regions):,} region(s). Most at: "
        + "; ".join(f"{s['code']} {s['name']} ({s['devices']:,})" for s in facts.top_sites)
        + "."
    )
    glance.text.append(
        "How risky (assessed risk per device, absolute bands): "
        + "; ".join(f"{n:,} {name} ({words})" for name, words, n in facts.bands)
        + "."
    )
    if plan is None:
        glance.text.append("Cost and schedule: no plan is stored yet (`phaseout plan`).")
    else:
        line, notes = _cost_line(plan, facts)
        glance.text.append(f"What it costs: {line}")
        report.notes.extend(notes)
        finish = plan.periods[-1]["id"] if plan.periods else None
        glance.text.append(
            f"Progress: {now['replaced']:,} replaced on site, {now['verified']:,} verified by a network re-scan; "
            f"the plan expected {now['expected']:,} done by now"
            + (f", so we are {now['behind']:,} behind." if now["behind"] else ".")
            + (
                f" Plan “{plan.name}” ({plan.label}) finishes its scheduled work in {finish}."
                if finish and not plan.infeasible
                else f" Plan “{plan.name}” is {plan.label}."
            )
        )
    glance.tables.append(
        Table(
            "covered devices remaining by region",
            ["region", "devices", "sites"],
            [[name, f"{n:,}", f"{s:,}"] for name, n, s in facts.regions[:10]],
        )
    )
    report.sections.append(glance)
    decide = Section("Needs a decision", style="decision", page_break_after=True)
    if facts.overdue_sensitive:
        shown = facts.overdue_sensitive[:8]
        decide.text.append(
            f"{len(facts.overdue_sensitive):,} sensitive site(s) are past their removal deadline with covered devices "
            "still in service: "
            + "; ".join(f"{e['code']} {e['name']} ({e['devices']:,}, due {e['deadline'].isoformat()})" for e in shown)
            + (
                f"; and {len(facts.overdue_sensitive) - len(shown):,} more."
                if len(facts.overdue_sensitive) > 8
                else "."
            )
        )
    else:
        decide.text.append("No sensitive site is past its removal deadline.")
    if plan is not None and budget_check and facts.remaining:
        target, budget, why = budget_to_target(plan, facts)
        deadline = facts.latest_deadline.isoformat() if facts.latest_deadline else "the end of the plan"
        if budget is not None:
            decide.text.append(
                f"Budget that finishes every planned replacement by {target} (latest deadline {deadline}), "
                f"with the plan's crews"
                + (" and the SAMPLE catalogue's prices" if plan.sample_prices else "")
                + f": {budget}."
            )
        else:
            decide.text.append(
                f"No budget finishes everything by {target} (latest deadline {deadline}) with the plan's crews: "
                + "; ".join(why[:3])
            )
    if plan is not None and plan.unplanned:
        decide.text.append(
            f"{len(plan.unplanned):,} covered device(s) have no replacement planned: approve a replacement model "
            "or a waiver for each."
        )
    report.sections.append(decide)
    if plan is not None:
        report.sections.append(_progress_section(conn, plan, facts))
    report.sections.append(_deadlines(facts))
    report.sections.append(exceptions_section(conn, today))
    report.sources = facts.sources + [f"{p.name} (version {p.version}): {'; '.join(p.sources[:2])}" for p in packs]
    return report


def _progress_section(conn: Connection, plan: PlanFacts, facts: Facts) -> Section:
    section = Section("Plan against actual")
    unplanned = len(plan.unplanned)
    spec = progress_chart(conn, facts.makers, facts.today, plan.id)["chart"]
    series: list[tuple[str, list[float | None]]] = [
        (str(line["label"]), [None if v is None else float(v) for v in line["values"]]) for line in spec["series"]
    ]
    if unplanned:
        series.append(("no replacement planned", [float(unplanned)] * len(spec["labels"])))
    section.charts.append(Chart("line", "Covered devices remaining: plan against actual", spec["labels"], series))
    changes = facts.progress[-14:]
    section.tables.append(
        Table(
            "progress by day (days with a change, latest 14; from the audit trail)",
            ["day", "covered devices remaining", "replaced on site", "verified by re-scan"],
            [[d["day"], f"{d['remaining']:,}", f"{d['replaced']:,}", f"{d['verified']:,}"] for d in changes],
        )
    )
    if plan.infeasible:
        section.text.append(f"Plan “{plan.name}” is {plan.label}; its figures are shown for reference only.")
    cur = facts.currency
    columns = ["period", "devices done (plan)", "devices left (plan)", "planned spend"]
    if plan.budget_given:
        columns.append("budget")
    rows: list[list[Any]] = []
    for p in plan.periods:
        row: list[Any] = [p["id"], f"{p['done']:,}", f"{p['left'] + unplanned:,}", money(p["spend"], cur)]
        if plan.budget_given:
            row.append(money(p["budget"], cur))
        rows.append(row)
    section.tables.append(Table("plan by period (up to the last period with work)", columns, rows))
    spend = [("planned spend", [p["spend"] for p in plan.periods])]
    if plan.budget_given:
        spend.append(("budget", [p["budget"] for p in plan.periods]))
    section.charts.append(
        Chart(
            "bar",
            "Planned spend per period"
            + (f" ({cur})" if cur else "")
            + (" — sample prices" if plan.sample_prices else ""),
            [p["id"] for p in plan.periods],
            [(name, [float(v) for v in values]) for name, values in spend],
        )
    )
    return section


def _deadlines(facts: Facts) -> Section:
    section = Section("Sites")
    section.tables.append(
        Table(
            "sensitive sites overdue",
            ["site", "name", "deadline", "covered devices"],
            [[e["code"], e["name"], e["deadline"].isoformat(), f"{e['devices']:,}"] for e in facts.overdue_sensitive],
        )
    )
    section.tables.append(
        Table(
            "sites by covered devices still in service (the dashboard map's scale)",
            ["covered devices at the site", "sites"],
            [[label, f"{n:,}"] for label, n in facts.site_bands],
        )
    )
    section.tables.append(
        Table(
            "sites with the most covered devices",
            ["site", "name", "region", "covered devices", "of which critical"],
            [[s["code"], s["name"], s["region"], f"{s['devices']:,}", f"{s['critical']:,}"] for s in facts.top_sites],
        )
    )
    return section
