"""The work order's life (pure): which status may follow which, and why not.

    planned -> scheduled -> in-progress -> done -> verified
    any open status -> blocked (with a reason) -> back to the status it was blocked in
    scheduled -> planned (unscheduled again); done -> in-progress (reopened)

``verified`` is never set by hand: only the verification (a re-scan or the installer's return
checked against the stored evidence) sets it, so no work order reaches it without proof.
"""

from __future__ import annotations

from phaseout.errors import UsageError

STATUSES = ("planned", "scheduled", "in-progress", "done", "verified", "blocked")
NEXT: dict[str, tuple[str, ...]] = {
    "planned": ("scheduled", "blocked"),
    "scheduled": ("in-progress", "planned", "blocked"),
    "in-progress": ("done", "blocked"),
    "done": ("in-progress", "blocked"),
    "verified": (),
    "blocked": (),  # back to where it was, through unblock()
}


def check_transition(current: str, wanted: str, *, reason: str = "", by_verification: bool = False) -> None:
    """Raise a :class:`UsageError` saying why ``current`` cannot become ``wanted``."""
    if wanted not in STATUSES:
        raise UsageError(f"unknown status {wanted!r}", hint=f"one of: {', '.join(STATUSES)}")
    if wanted == "verified":
        if not by_verification:
            raise UsageError(
                "a work order is verified only by evidence",
                hint="record the installer's return (phaseout work return FILE), re-scan the site, "
                "then run phaseout work verify",
            )
        if current != "done":
            raise UsageError(f"only a done work order can be verified (this one is {current})")
        return
    if wanted == "blocked" and not reason.strip():
        raise UsageError("blocking a work order needs a reason", hint='--reason "store closed for refit until May"')
    if current == "blocked":
        raise UsageError("this work order is blocked", hint="unblock it first: phaseout work set ID --unblock")
    if wanted not in NEXT[current]:
        allowed = ", ".join(NEXT[current]) or "nothing (final)"
        raise UsageError(f"a {current} work order cannot become {wanted}", hint=f"from {current}: {allowed}")
