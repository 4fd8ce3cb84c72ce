"""The public summary: fit for answering a campaign group's or a journalist's letter.

It states only what the evidence supports, and is otherwise a template the organisation edits:
no completion date while covered devices have no plan, no "isolated from core networks" or
"kept on current firmware" unless every remaining device has that mitigation verified, no
"sensitive sites first" for an estate with none.  No site names and no addresses.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection

from phaseout.plan.catalogue import covered_makers
from phaseout.policy.packs import PolicyPack
from phaseout.report.data import Report, Section
from phaseout.report.facts import gather, maker_name, maker_order, mitigation_proven, progress_now

EDIT = "[TO EDIT: "


def public_report(conn: Connection, packs: list[PolicyPack], today: dt.date) -> Report:
    makers = maker_order(list(covered_makers(packs)))
    facts = gather(conn, makers, today)
    plan = facts.plan
    now = progress_now(facts)
    named = " and ".join(maker_name(m) for m in makers) or "the makers concerned"
    unplanned = len(plan.unplanned) if plan else facts.remaining
    finish = None
    if plan is not None and not plan.infeasible and not unplanned and plan.periods:
        finish = plan.periods[-1]["id"]
    report = Report(
        "public",
        f"Our phase-out of {named} surveillance equipment",
        f"A public summary as of {today.isoformat()}. Text in [brackets] is for the organisation to complete "
        "before publishing.",
        today.isoformat(),
    )
    report.figures = [
        ("devices identified (any label)", f"{facts.total:,}"),
        ("replaced and verified", f"{now['verified']:,}"),
        ("still in place", f"{facts.remaining:,}"),
        ("planned completion", finish or "not yet planned for every device"),
    ]
    labels = sorted({label for m in makers for label in facts.by_label.get(m, {})} - {maker_name(m) for m in makers})
    text = [
        f"We have identified {facts.total:,} devices made by {named}"
        + (f", including those sold under other names ({', '.join(labels)})" if labels else "")
        + f", across {facts.sites_with_covered:,} of our {facts.sites_total:,} sites.",
        f"{now['verified']:,} have been replaced with equipment from other makers and the replacement checked on "
        "the network (the old device no longer answers)."
        + (
            f" A further {now['replaced'] - now['verified']:,} have been swapped and await that check."
            if now["replaced"] > now["verified"]
            else ""
        ),
    ]
    if finish:
        text.append(f"Our plan replaces the remaining {facts.remaining:,} by the end of {finish}.")
    else:
        text.append(
            f"{EDIT}when the remaining devices will be replaced. phaseout does not state a date: "
            + (
                f"{unplanned:,} device(s) have no replacement planned yet.]"
                if plan is not None
                else "no replacement plan is stored yet.]"
            )
        )
    if facts.sensitive_sites and plan is not None and plan.sensitive_last and not plan.sensitive_unscheduled:
        text.append(
            f"Work at our {facts.sensitive_sites:,} sensitive site(s) is planned to finish by the end of "
            f"{plan.sensitive_last}."
        )
    isolated = mitigation_proven(facts, "isolate")
    firmware = mitigation_proven(facts, "update-firmware")
    if isolated and firmware:
        text.append(
            "Until replaced, every remaining device is isolated from core networks and on current firmware (checked)."
        )
    elif isolated:
        text.append(
            "Until replaced, every remaining device is isolated from core networks (checked by a network scan)."
        )
    elif facts.remaining:
        text.append(
            f"{EDIT}what protects the remaining devices until they are replaced (for example network isolation "
            "or firmware updates). phaseout has not verified such measures for every device, so it makes no "
            "claim here.]"
        )
    text.append(f"The commitments we follow: {', '.join(p.name for p in packs) or EDIT + 'our own policy]'}.")
    text.append(f"{EDIT}contact for questions about this programme.]")
    report.sections.append(Section("What we are doing", text=text))
    report.sources = [
        "Figures from the organisation's phaseout database; devices identified by model, brand, "
        "MAC prefix and network answers, replacements verified by network re-scan.",
        *(f"{p.name}: {'; '.join(p.sources[:2])}" for p in packs),
    ]
    return report
