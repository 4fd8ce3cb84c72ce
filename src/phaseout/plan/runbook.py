"""A site's runbook: the order of work that keeps the site covered while its devices are swapped
(pure).

Per visit: the new recorder goes up beside the old one first (the old one keeps recording), then
cameras move over in batches no larger than the allowed offline share of the site's cameras,
each batch checked on the new recorder before the next starts; other devices (intercoms, door
readers) follow; the old recorder is switched off only when every camera it recorded is on the
new one.

Cameras behind a recorder are named by their channel (``ch 3 of NVR DS-7608NXI at 10.0.0.5``):
each visit opens with one step per recorder it touches listing every channel (the visit's swaps
marked), each swap says which channel it concerns, and the visit checks every channel that had a
camera has one again before the crew leaves (verification counts them: a dark channel is an
exception).  The tree comes from ``queries.recorders.places``; without it the runbook is as before.

Two callers: the planner (from an :class:`EstatePlan`) and the dashboard (from a stored plan's
details); both turn their swaps into :class:`SwapLine` first.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from phaseout.estate.recorders import places_of
from phaseout.plan.estate import EstatePlan, offline_batch_size

CAMERA_TYPES = ("camera", "thermal")


@dataclass(frozen=True, slots=True)
class SwapLine:
    device: int
    device_type: str
    old: str  # maker, label and model of what goes
    ip: str
    sku: str


@dataclass(frozen=True, slots=True)
class Step:
    visit: str
    period: str | None
    number: int
    action: str
    device: int | None = None
    old: str = ""
    ip: str = ""
    sku: str = ""
    batch: int | None = None
    where: str = ""  # the channel and recorder a camera sits on

    def as_dict(self) -> dict[str, object]:
        return {
            "visit": self.visit,
            "period": self.period,
            "step": self.number,
            "action": self.action,
            "device": self.device,
            "old": self.old,
            "ip": self.ip,
            "sku": self.sku,
            "batch": self.batch,
            "where": self.where,
        }


def _add(
    steps: list[Step],
    visit: str,
    period: str | None,
    where: Mapping[int, str],
    action: str,
    swap: SwapLine | None = None,
    batch: int | None = None,
) -> None:
    number = len(steps) + 1
    if swap is None:
        steps.append(Step(visit, period, number, action, batch=batch))
    else:
        place = where.get(swap.device, "")
        steps.append(Step(visit, period, number, action, swap.device, swap.old, swap.ip, swap.sku, batch, place))


def _visit_number(visit: str) -> int:
    tail = visit.rsplit("#", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def runbook(
    visits: Mapping[str, Sequence[SwapLine]],
    period_of: Mapping[str, str | None],
    cameras: int,
    share: float,
    tree: Mapping[str, Any] | None = None,
) -> list[Step]:
    """The steps for one site's visits (visit id -> swaps), in visit order.  ``tree``: the
    recorder tree of the swapped devices (``queries.recorders.places``), for the channels."""
    batch_size = offline_batch_size(cameras, share)
    steps: list[Step] = []
    for visit in sorted(visits, key=_visit_number):
        swaps = visits[visit]
        where, recorder_lines = places_of(tree or {}, [s.device for s in swaps])
        add = functools.partial(_add, steps, visit, period_of.get(visit), where)
        for line in recorder_lines:
            add(f"before starting, note the recorder's channels: {line}")
        recorders = [s for s in swaps if s.device_type == "recorder"]
        cams = [s for s in swaps if s.device_type in CAMERA_TYPES]
        others = [s for s in swaps if s.device_type != "recorder" and s.device_type not in CAMERA_TYPES]
        for swap in recorders:
            add(f"install {swap.sku} beside the old recorder; keep the old one recording", swap)
        for start in range(0, len(cams), batch_size):
            batch = start // batch_size + 1
            for swap in cams[start : start + batch_size]:
                add(f"swap for {swap.sku} (batch {batch}, at most {batch_size} camera(s) offline)", swap, batch)
            add(f"check batch {batch}: live view and recording on the new recorder before the next batch")
        for swap in others:
            add(f"swap for {swap.sku}", swap)
        if recorder_lines:
            add(
                "check every recorder channel that had a camera has one again (live view per channel): "
                "a channel left dark fails verification unless the return marks it decommissioned"
            )
        for swap in recorders:
            add("switch the old recorder off once every camera records on the new one; wipe its disks", swap)
        add("record new serials and MACs for the work order; re-scan the site to prove the old devices are gone")
    return steps


def site_runbook(
    estate: EstatePlan, site: str, assignments: Mapping[str, int], tree: Mapping[str, Any] | None = None
) -> list[Step]:
    periods = [p.id for p in estate.problem.periods]
    visits: dict[str, list[SwapLine]] = {}
    for visit in estate.visits.values():
        if visit.site != site:
            continue
        lines = []
        for s in visit.swaps:
            d = s.device
            label = f" ({d.brand})" if d.brand and d.brand.lower() != d.vendor else ""
            old = f"{d.vendor}{label} {d.model or d.spec.device_type}".strip()
            lines.append(SwapLine(d.id, d.spec.device_type, old, d.ip or "", s.item.sku))
        visits[visit.id] = lines
    period_of = {v: (periods[t] if (t := assignments.get(v)) is not None else None) for v in visits}
    cameras = estate.sites[site].cameras if site in estate.sites else 0
    return runbook(visits, period_of, cameras, estate.settings.max_offline_share, tree)


def runbook_from_details(
    packages: Mapping[str, Sequence[Mapping[str, Any]]],
    period_of: Mapping[str, str],
    cameras: int,
    share: float,
    tree: Mapping[str, Any] | None = None,
) -> list[Step]:
    """The runbook from a stored plan's details (``app.planning.plan_details``)."""
    visits = {
        v: [
            SwapLine(int(s["device"]), str(s["type"]), str(s["old"]), str(s.get("ip") or ""), str(s["sku"]))
            for s in swaps
        ]
        for v, swaps in packages.items()
    }
    return runbook(visits, {v: period_of.get(v) for v in visits}, cameras, share, tree)
