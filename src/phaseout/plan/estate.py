"""From the stored estate to a planning problem (pure): periods with dates, regions with crews,
sites with deadlines and maintenance periods, and work packages (site visits) with their swaps.

Choices made here, each written in ``docs/planning.md``:
- a device is planned when a policy pack in use covers its maker; its risk is its assessed risk;
- a site's deadline is the earliest removal deadline among its devices' policy findings (the
  packs in use, including the organisation's own dates), mapped to the last period that ends by
  that date; a deadline already passed, or before the first period ends, is the first period;
- a site's maintenance period is the one holding its next maintenance date (moved on by its cycle
  when the date is already past); a visit done then saves the mobilisation cost;
- a site is one visit unless its installation hours exceed ``max_visit_hours``; then it is split
  into visits, the recorders in the first, so the site is never left without a recorder.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from phaseout.errors import UsageError
from phaseout.plan.catalogue import CatalogueItem
from phaseout.plan.problem import Package, Period, PlanSite, Problem, Region
from phaseout.plan.replace import DeviceSpec, Match

NO_REGION = "(no region)"
TYPE_ORDER = {"recorder": 0, "camera": 1, "thermal": 1}


@dataclass(frozen=True, slots=True)
class PlanSettings:
    start: dt.date
    periods: int = 12
    period_months: int = 3
    budget: tuple[float, ...] = (750_000.0,)  # one value for every period, or one per period
    crew_hours: float = 480.0  # per region and period unless the region is named below
    crew_by_region: tuple[tuple[str, float], ...] = ()
    labour_rate: float = 55.0  # per installer hour
    mobilisation_cost: float = 350.0  # per visit: travel, access, permits; saved at maintenance
    max_visit_hours: float = 40.0
    max_offline_share: float = 0.25  # of a site's cameras offline at once during a swap
    carry_over: bool = False

    def __post_init__(self) -> None:
        if self.periods < 1 or self.period_months < 1:
            raise UsageError("a plan needs at least one period of at least one month")
        if len(self.budget) not in (1, self.periods):
            raise UsageError(
                f"give one budget for every period or {self.periods} budgets, not {len(self.budget)}",
                hint="e.g. --budget 500000 or --budget 400000,400000,...",
            )
        if not 0 < self.max_offline_share <= 1:
            raise UsageError("--max-offline-share must be above 0 and at most 1 (e.g. 0.25)")
        if self.max_visit_hours <= 0:
            raise UsageError("--max-visit-hours must be above 0")


@dataclass(frozen=True, slots=True)
class EstateSite:
    code: str
    region: str
    sensitive: bool
    next_maintenance: dt.date | None = None
    maintenance_cycle_months: int | None = None
    cameras: int = 0  # active cameras at the site, covered or not (for the offline share)


@dataclass(frozen=True, slots=True)
class EstateDevice:
    id: int
    site: str | None
    vendor: str
    brand: str | None
    model: str | None
    ip: str | None
    spec: DeviceSpec
    risk: float
    deadline: dt.date | None = None
    parent_id: int | None = None


@dataclass(frozen=True, slots=True)
class Swap:
    device: EstateDevice
    item: CatalogueItem
    cost: float
    hours: float
    reason: str


@dataclass(slots=True)
class Visit:
    id: str
    site: str
    swaps: list[Swap] = field(default_factory=list)

    @property
    def hours(self) -> float:
        return sum(s.hours for s in self.swaps)


@dataclass(slots=True)
class EstatePlan:
    """The problem and what stands behind each of its packages."""

    problem: Problem
    visits: dict[str, Visit]
    sites: dict[str, EstateSite]
    period_dates: list[tuple[dt.date, dt.date]]
    unmatched: list[tuple[EstateDevice, str]]
    notes: list[str]
    settings: PlanSettings

    def bill_of_materials(self) -> dict[str, dict[str, tuple[CatalogueItem, int]]]:
        """Site -> SKU -> (item, quantity)."""
        bom: dict[str, dict[str, tuple[CatalogueItem, int]]] = defaultdict(dict)
        for visit in self.visits.values():
            for swap in visit.swaps:
                item, n = bom[visit.site].get(swap.item.sku, (swap.item, 0))
                bom[visit.site][swap.item.sku] = (item, n + 1)
        return dict(bom)


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return dt.date(year, month, 1) if day.day == 1 else dt.date(year, month, min(day.day, 28))


def period_dates(settings: PlanSettings) -> list[tuple[dt.date, dt.date]]:
    """(first day, last day) of each period."""
    out = []
    start = settings.start
    for _ in range(settings.periods):
        end = add_months(start, settings.period_months)
        out.append((start, end - dt.timedelta(days=1)))
        start = end
    return out


def period_ids(settings: PlanSettings, dates: list[tuple[dt.date, dt.date]]) -> list[str]:
    """``2027-Q1`` for calendar quarters, ``2027-03`` for months, else the first day."""
    if settings.period_months == 3 and settings.start.day == 1 and settings.start.month in (1, 4, 7, 10):
        return [f"{a.year}-Q{(a.month - 1) // 3 + 1}" for a, _ in dates]
    if settings.period_months == 1 and settings.start.day == 1:
        return [f"{a:%Y-%m}" for a, _ in dates]
    return [a.isoformat() for a, _ in dates]


def deadline_period(deadline: dt.date, dates: list[tuple[dt.date, dt.date]]) -> int:
    """The last period that ends on or before the deadline; the first when none does."""
    index = 0
    for i, (_, end) in enumerate(dates):
        if end <= deadline:
            index = i
    return index


def maintenance_period(site: EstateSite, dates: list[tuple[dt.date, dt.date]]) -> int | None:
    day = site.next_maintenance
    if day is None:
        return None
    if day < dates[0][0] and site.maintenance_cycle_months:
        while day < dates[0][0]:
            day = add_months(day, site.maintenance_cycle_months)
    for i, (first, last) in enumerate(dates):
        if first <= day <= last:
            return i
    return None


def build_estate_plan(
    sites: list[EstateSite],
    devices: list[EstateDevice],
    match: Any,  # Callable[[DeviceSpec], Match]
    settings: PlanSettings,
) -> EstatePlan:
    dates = period_dates(settings)
    ids = period_ids(settings, dates)
    budgets = settings.budget * settings.periods if len(settings.budget) == 1 else settings.budget
    periods = tuple(Period(pid, float(b)) for pid, b in zip(ids, budgets, strict=True))
    by_code = {s.code: s for s in sites}
    unmatched: list[tuple[EstateDevice, str]] = []
    notes: list[str] = []
    swaps_by_site: dict[str, list[Swap]] = defaultdict(list)
    deadline_by_site: dict[str, dt.date] = {}
    # one cost per catalogue item, shared by its swaps: a float object per swap was 36 MB of the
    # estate at 1.5 M devices
    item_cost: dict[str, float] = {}
    for device in devices:
        if device.site is None or device.site not in by_code:
            unmatched.append((device, "no site recorded (found by a scan?): give it a site to plan its replacement"))
            continue
        found: Match = match(device.spec)
        if found.item is None:
            unmatched.append((device, found.reason))
            continue
        item = found.item
        cost = item_cost.get(item.sku)
        if cost is None:
            cost = item_cost[item.sku] = item.unit_price + item.install_hours * settings.labour_rate
        swaps_by_site[device.site].append(Swap(device, item, cost, item.install_hours, found.reason))
        if device.deadline is not None:
            current = deadline_by_site.get(device.site)
            deadline_by_site[device.site] = min(current, device.deadline) if current else device.deadline
    visits: dict[str, Visit] = {}
    plan_sites: list[PlanSite] = []
    packages: list[Package] = []
    regions_used: set[str] = set()
    late = 0
    for code in sorted(swaps_by_site):
        site = by_code[code]
        region = site.region or NO_REGION
        regions_used.add(region)
        deadline = deadline_by_site.get(code)
        deadline_id = None
        if deadline is not None:
            deadline_id = ids[deadline_period(deadline, dates)]
            if deadline <= dates[0][1]:
                late += 1
        maintenance = maintenance_period(site, dates)
        plan_sites.append(
            PlanSite(
                code,
                region,
                site.sensitive,
                deadline_id,
                None if maintenance is None else ids[maintenance],
                settings.mobilisation_cost if maintenance is not None else 0.0,
            )
        )
        ordered = sorted(swaps_by_site[code], key=lambda s: (TYPE_ORDER.get(s.device.spec.device_type, 2), s.device.id))
        site_visits = [Visit(f"{code}#1", code)]
        for swap in ordered:
            current_visit = site_visits[-1]
            if current_visit.swaps and current_visit.hours + swap.hours > settings.max_visit_hours:
                current_visit = Visit(f"{code}#{len(site_visits) + 1}", code)
                site_visits.append(current_visit)
            current_visit.swaps.append(swap)
        for visit in site_visits:
            visits[visit.id] = visit
            packages.append(
                Package(
                    visit.id,
                    code,
                    round(sum(s.device.risk for s in visit.swaps), 4),
                    round(sum(s.cost for s in visit.swaps) + settings.mobilisation_cost, 2),
                    round(visit.hours, 3),
                    tuple(str(s.device.id) for s in visit.swaps),
                )
            )
    if late:
        notes.append(f"{late} site(s) have a deadline that falls before the first period ends: due in {ids[0]}")
    crew = dict(settings.crew_by_region)
    unknown = sorted(set(crew) - regions_used)
    if unknown:
        notes.append(f"crew hours given for region(s) with no planned work: {', '.join(unknown)}")
    regions = tuple(
        Region(r, tuple([float(crew.get(r, settings.crew_hours))] * settings.periods)) for r in sorted(regions_used)
    )
    problem = Problem(periods, regions, tuple(plan_sites), tuple(packages), settings.carry_over)
    return EstatePlan(problem, visits, {s.code: s for s in sites}, dates, unmatched, notes, settings)


def offline_batch_size(cameras: int, share: float) -> int:
    """How many cameras may be swapped at once and keep the site covered."""
    return max(1, math.floor(cameras * share))
