"""What a solved plan may honestly be called: one pure function, used by ``plan.json`` and by
every screen that shows the status, so "optimal" means the same thing everywhere.

A plan is *optimal* only when its proven gap to the bound is zero within the solver's numerical
tolerance; a plan stopped at a gap tolerance or a time limit is *within X % of optimal* — the
proven gap, not a hope.  A plan that is not a plan (infeasible, nothing found, or the rule's plan
repaired but still missing deadlines) never carries a figure that reads as the best possible.
"""

from __future__ import annotations

#: a relative gap at or below this counts as zero: HiGHS's own default ``mip_rel_gap``, the
#: tolerance at which the solver itself reports a MIP optimal (it also absorbs the cost tie-break,
#: whose largest possible weight comes off the bound)
OPTIMAL_GAP = 1e-4

STATUSES = ("optimal", "feasible", "infeasible", "no-solution")


def honest_status(status: str, gap: float | None) -> str:
    """``optimal`` only with a proven gap of zero (within :data:`OPTIMAL_GAP`); any other plan
    that keeps every constraint is ``feasible``; ``infeasible`` and ``no-solution`` stay."""
    if status not in ("optimal", "feasible"):
        return status
    return "optimal" if gap is not None and gap <= OPTIMAL_GAP else "feasible"


def status_label(status: str, gap: float | None, *, fallback: bool = False) -> str:
    """The words shown with a plan: ``optimal``, ``within 0.21 % of optimal``, ``feasible (gap
    unknown)``, ``infeasible: no plan keeps every deadline, budget and crew limit``, ``no plan
    found``.  ``fallback`` marks the spreadsheet rule's plan, repaired, returned because the time
    limit came before any solved plan."""
    status = honest_status(status, gap)
    if status == "infeasible":
        return "infeasible: no plan keeps every deadline, budget and crew limit"
    if status == "no-solution":
        return "no plan found" + (" (the rule's plan, repaired, still misses deadlines)" if fallback else "")
    prefix = "the rule's plan, repaired (time limit too short to solve), " if fallback else ""
    if status == "optimal":
        return prefix + "optimal"
    if gap is None:
        return prefix + "feasible (gap unknown)"
    return prefix + f"within {_percent(gap)} of optimal"


def _percent(gap: float) -> str:
    """Two significant decimals, never rounded down to zero (0.0004 % is not 0.00 %)."""
    percent = max(gap, 0.0) * 100
    text = f"{percent:.2f}"
    if float(text) == 0.0:
        text = f"{percent:.2g}" if percent >= 1e-4 else "0.0001"
    return f"{text} %"
