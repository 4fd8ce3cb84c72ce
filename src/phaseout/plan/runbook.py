"""A site's runbook: the order of work that keeps the site covered while its devices are swapped
(pure).

Per visit: the new recorder goes up beside the old one first (the old one keeps recording), then
cameras move over in batches no larger than the allowed offline share of the site's cameras,
each batch checked on the new recorder before the next starts; other devices (intercoms, door
readers) follow; the old recorder is switched off only when every camera it recorded is on the
new one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from phaseout.plan.estate import EstatePlan, Swap, offline_batch_size


@dataclass(frozen=True, slots=True)
class Step:
    visit: str
    period: str | None
    number: int
    action: str
    device: int | None = None
    old: str = ""  # maker, label and model of what goes
    ip: str = ""
    sku: str = ""
    batch: int | None = None

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
        }


def _old(swap: Swap) -> str:
    d = swap.device
    label = f" ({d.brand})" if d.brand and d.brand.lower() != d.vendor else ""
    return f"{d.vendor}{label} {d.model or d.spec.device_type}".strip()


def _add(
    steps: list[Step], visit: str, period: str | None, action: str, swap: Swap | None = None, batch: int | None = None
) -> None:
    number = len(steps) + 1
    if swap is None:
        steps.append(Step(visit, period, number, action, batch=batch))
        return
    device = swap.device
    steps.append(Step(visit, period, number, action, device.id, _old(swap), device.ip or "", swap.item.sku, batch))


def site_runbook(estate: EstatePlan, site: str, assignments: dict[str, int]) -> list[Step]:
    share = estate.settings.max_offline_share
    cameras = estate.sites[site].cameras if site in estate.sites else 0
    batch_size = offline_batch_size(cameras, share)
    periods = [p.id for p in estate.problem.periods]
    steps: list[Step] = []
    visits = sorted((v for v in estate.visits.values() if v.site == site), key=lambda v: int(v.id.rsplit("#", 1)[1]))
    for visit in visits:
        t = assignments.get(visit.id)
        period = periods[t] if t is not None else None
        add = functools.partial(_add, steps, visit.id, period)
        recorders = [s for s in visit.swaps if s.device.spec.device_type == "recorder"]
        cams = [s for s in visit.swaps if s.device.spec.device_type in ("camera", "thermal")]
        others = [s for s in visit.swaps if s not in recorders and s not in cams]
        for swap in recorders:
            add(f"install {swap.item.sku} beside the old recorder; keep the old one recording", swap)
        for start in range(0, len(cams), batch_size):
            batch = start // batch_size + 1
            for swap in cams[start : start + batch_size]:
                add(f"swap for {swap.item.sku} (batch {batch}, at most {batch_size} camera(s) offline)", swap, batch)
            add(f"check batch {batch}: live view and recording on the new recorder before the next batch")
        for swap in others:
            add(f"swap for {swap.item.sku}", swap)
        for swap in recorders:
            add("switch the old recorder off once every camera records on the new one; wipe its disks", swap)
        add("record new serials and MACs for the work order; re-scan the site to prove the old devices are gone")
    return steps
