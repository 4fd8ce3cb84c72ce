"""The planning problem as plain data, and its ``problem.json`` file form.

The file is an interface other tools write and read (``docs/planning.md`` documents it), so the
field names are fixed; unknown extra fields are accepted and ignored, so a tool may annotate a
problem without breaking the solver.  Everything is checked on the way in: an id used twice, a
site in a region nobody defined, a deadline naming a period that does not exist, a negative
budget or a crew-hours list of the wrong length is refused with where it is and why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from phaseout.errors import DataError, InputFileError

#: problem.json files larger than this are refused before parsing (30,000 sites with several
#: packages each is ~20 MB).
MAX_PROBLEM_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Period:
    id: str
    budget: float


@dataclass(frozen=True, slots=True)
class Region:
    id: str
    crew_hours: tuple[float, ...]  # one per period


@dataclass(frozen=True, slots=True)
class PlanSite:
    id: str
    region: str
    sensitive: bool = False
    deadline: str | None = None  # period id: every package of the site done by then
    maintenance: str | None = None  # period id of the next maintenance visit
    maintenance_saving: float = 0.0  # saved on each package done in that period


@dataclass(frozen=True, slots=True)
class Package:
    """One site visit: the devices it replaces, what it costs, the crew hours it takes and the
    risk it removes."""

    id: str
    site: str
    risk: float
    cost: float
    hours: float
    devices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Problem:
    periods: tuple[Period, ...]
    regions: tuple[Region, ...]
    sites: tuple[PlanSite, ...]
    packages: tuple[Package, ...]
    carry_over: bool = False
    #: Indexes built once (not part of the file).
    period_index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    site_by_id: dict[str, PlanSite] = field(default_factory=dict, compare=False, repr=False)
    region_index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.period_index.update({p.id: i for i, p in enumerate(self.periods)})
        self.site_by_id.update({s.id: s for s in self.sites})
        self.region_index.update({r.id: i for i, r in enumerate(self.regions)})

    @property
    def horizon(self) -> int:
        return len(self.periods)

    def deadline_index(self, package: Package) -> int | None:
        """0-based index of the last period the package may be done in, or None."""
        deadline = self.site_by_id[package.site].deadline
        return None if deadline is None else self.period_index[deadline]

    def maintenance_index(self, package: Package) -> int | None:
        maintenance = self.site_by_id[package.site].maintenance
        return None if maintenance is None else self.period_index[maintenance]

    def spend(self, package: Package, period: int) -> float:
        """What doing the package in that period costs: the maintenance saving comes off when
        the visit coincides with the site's maintenance visit (never below zero)."""
        site = self.site_by_id[package.site]
        if site.maintenance is not None and self.period_index[site.maintenance] == period:
            return max(package.cost - site.maintenance_saving, 0.0)
        return package.cost

    def as_dict(self) -> dict[str, Any]:
        return {
            "periods": [asdict(p) for p in self.periods],
            "regions": [{"id": r.id, "crew_hours": list(r.crew_hours)} for r in self.regions],
            "sites": [asdict(s) for s in self.sites],
            "packages": [{**asdict(p), "devices": list(p.devices)} for p in self.packages],
            "carry_over": self.carry_over,
        }


class _Reader:
    """Collects every problem found while reading, so the user sees them all at once."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, where: str, why: str) -> None:
        if len(self.problems) < 200:
            self.problems.append(f"{where}: {why}")

    def obj(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(where, f"expected an object, found {type(value).__name__}")
            return {}
        return value

    def text(self, item: dict[str, Any], key: str, where: str, *, optional: bool = False) -> str | None:
        value = item.get(key)
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int) or str(value).strip() == "":
            self.fail(where, f"'{key}' must be a non-empty text" + (" or null" if optional else ""))
            return None
        return str(value)

    def number(self, value: Any, where: str, key: str, *, default: float | None = None) -> float:
        if value is None and default is not None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            self.fail(where, f"'{key}' must be a number >= 0, found {value!r}")
            return 0.0
        return float(value)


def _unique(reader: _Reader, ids: Sequence[str | None], what: str) -> None:
    seen: set[str] = set()
    for i, value in enumerate(ids):
        if value is not None and value in seen:
            reader.fail(f"{what}[{i}]", f"id {value!r} is used twice")
        if value is not None:
            seen.add(value)


def problem_from_dict(data: Any) -> Problem:
    """Check and convert a parsed ``problem.json``; :class:`DataError` lists every problem."""
    r = _Reader()
    top = r.obj(data, "problem")
    for key in ("periods", "regions", "sites", "packages"):
        if not isinstance(top.get(key), list):
            r.fail("problem", f"'{key}' must be a list")
    if r.problems:
        raise DataError(f"problem.json is not a planning problem: {r.problems[0]}", problems_hint(r.problems))
    periods = []
    for i, raw in enumerate(top["periods"]):
        item, where = r.obj(raw, f"periods[{i}]"), f"periods[{i}]"
        periods.append(Period(r.text(item, "id", where) or "", r.number(item.get("budget"), where, "budget")))
    if not periods:
        r.fail("periods", "at least one period is needed")
    period_ids = {p.id for p in periods}
    regions = []
    for i, raw in enumerate(top["regions"]):
        item, where = r.obj(raw, f"regions[{i}]"), f"regions[{i}]"
        hours = item.get("crew_hours")
        if not isinstance(hours, list) or len(hours) != len(periods):
            r.fail(where, f"'crew_hours' must list one number per period ({len(periods)})")
            hours = [0.0] * len(periods)
        regions.append(Region(r.text(item, "id", where) or "", tuple(r.number(h, where, "crew_hours") for h in hours)))
    region_ids = {x.id for x in regions}
    sites = []
    for i, raw in enumerate(top["sites"]):
        item, where = r.obj(raw, f"sites[{i}]"), f"sites[{i}]"
        site_id = r.text(item, "id", where) or ""
        region = r.text(item, "region", where) or ""
        if region and region not in region_ids:
            r.fail(where, f"region {region!r} is not among the regions")
        deadline = r.text(item, "deadline", where, optional=True)
        maintenance = r.text(item, "maintenance", where, optional=True)
        for key, value in (("deadline", deadline), ("maintenance", maintenance)):
            if value is not None and value not in period_ids:
                r.fail(where, f"{key} {value!r} is not a period id")
        sensitive = item.get("sensitive", False)
        if not isinstance(sensitive, bool):
            r.fail(where, "'sensitive' must be true or false")
        saving = r.number(item.get("maintenance_saving"), where, "maintenance_saving", default=0.0)
        sites.append(PlanSite(site_id, region, bool(sensitive), deadline, maintenance, saving))
    site_ids = {s.id for s in sites}
    packages = []
    for i, raw in enumerate(top["packages"]):
        item, where = r.obj(raw, f"packages[{i}]"), f"packages[{i}]"
        site = r.text(item, "site", where) or ""
        if site and site not in site_ids:
            r.fail(where, f"site {site!r} is not among the sites")
        devices = item.get("devices", [])
        if not isinstance(devices, list):
            r.fail(where, "'devices' must be a list")
            devices = []
        packages.append(
            Package(
                r.text(item, "id", where) or "",
                site,
                r.number(item.get("risk"), where, "risk"),
                r.number(item.get("cost"), where, "cost"),
                r.number(item.get("hours"), where, "hours"),
                tuple(str(d) for d in devices),
            )
        )
    carry_over = top.get("carry_over", False)
    if not isinstance(carry_over, bool):
        r.fail("problem", "'carry_over' must be true or false")
    _unique(r, [p.id for p in periods], "periods")
    _unique(r, [x.id for x in regions], "regions")
    _unique(r, [s.id for s in sites], "sites")
    _unique(r, [p.id for p in packages], "packages")
    if r.problems:
        raise DataError(
            f"problem.json has {len(r.problems)} problem(s); the first: {r.problems[0]}", problems_hint(r.problems)
        )
    return Problem(tuple(periods), tuple(regions), tuple(sites), tuple(packages), bool(carry_over))


def problems_hint(problems: list[str]) -> str:
    shown = "\n".join(f"  {p}" for p in problems[:10])
    more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
    return f"fix these and run again:\n{shown}{more}"


def read_problem(path: str | Path) -> Problem:
    """Read ``problem.json``; a missing, oversized or malformed file raises a clear error."""
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_PROBLEM_BYTES:
            raise InputFileError(
                f"{file} is {size:,} bytes, over the {MAX_PROBLEM_BYTES:,}-byte limit for a problem file",
                hint="split the estate into several problems (by region, say)",
            )
        data = orjson.loads(file.read_bytes())
    except FileNotFoundError:
        raise InputFileError(f"{file} does not exist", hint="write one with `phaseout plan export-problem`") from None
    except orjson.JSONDecodeError as exc:
        raise InputFileError(f"{file} is not valid JSON: {exc}", hint="is the file complete?") from None
    return problem_from_dict(data)


def write_json(path: str | Path, data: dict[str, Any]) -> None:
    """Write atomically: a crash never leaves half a file where a whole one was."""
    file = Path(path)
    tmp = file.with_name(f".{file.name}.tmp")
    tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    tmp.replace(file)
