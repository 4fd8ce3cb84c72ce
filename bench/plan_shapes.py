"""A family of seeded estate shapes for the planner, built straight into a ``Problem`` as arrays.

One generator tuned to one estate hides what a solver cannot do, so each shape here changes what
real programmes change: how much of the work the budgets pay for (50 % to 120 %), how many visits
a site takes (one to many: big sites are split at ``max_visit_hours``), many small regions against
a few large ones, deadlines on 0-50 % of sites (and, in one shape, some that cannot be met, to
exercise the explanation), maintenance windows on none to all sites, ``carry_over`` on and off,
and site sizes and risk drawn from skewed distributions (lognormal, Pareto: a few huge sites).

The problem is made directly (sites, visits with cost, hours and risk), not through the estate of
devices: this is a benchmark of the solver, and an array build keeps 30,000 sites cheap.  The
``reported`` shape reproduces the estate of issue 18 (3,000 sites, about 4,170 visits, budgets
about 80 % of the work so every period binds, 11 regions with their own crews, a deadline on 8 %
of sites).

Run: ``python bench/plan_shapes.py`` solves every 3,000-site shape (``--large`` adds the 30,000-site
ones, ``--only NAME...`` picks some) with ``--time-limit`` (30 s; 300 s at 30,000 sites), each in
its own process so its peak memory is its own, and prints a Markdown table: the time the solve
took, the plan's risk-exposure, its proven bound (the LP relaxation's optimum, or HiGHS's when
higher), the gap, the spreadsheet rule's risk-exposure on the same problem (the baseline, in the
same run), how much lower the plan is, and peak RSS.  ``--describe`` prints the shapes only.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from phaseout.plan.problem import Package, Period, PlanSite, Problem, Region

PERIODS = 12
LABOUR_RATE = 55.0
MOBILISATION = 350.0


@dataclass(frozen=True, slots=True)
class Shape:
    """What changes between estates.  Shares are of sites; ``budget_share`` is the whole
    horizon's budget over the whole work's cost, ``crew_share`` the same for crew hours."""

    name: str
    sites: int = 3000
    regions: int = 11
    region_skew: float = 0.0  # 0: regions of similar size; >0: a few large ones (Zipf exponent)
    size: str = "uniform"  # site size (devices): uniform 20-78 | lognormal | pareto
    size_sigma: float = 0.6  # lognormal sigma, or Pareto shape alpha
    max_visit_hours: float = 40.0
    budget_share: float = 0.8
    budget_profile: str = "flat"  # flat | ramp (budgets grow over the horizon) | lumpy
    crew_share: float = 0.9
    deadline_share: float = 0.08
    deadline_from: int = 2  # earliest deadline period (0-based) for ordinary deadlines
    impossible: int = 0  # sites given a deadline no plan can meet (explanation tests)
    maintenance_share: float = 0.6
    carry_over: bool = False
    risk: str = "uniform"  # per-device risk: uniform 5-60 | lognormal | pareto
    sensitive_share: float = 0.1


SHAPES: dict[str, Shape] = {
    s.name: s
    for s in (
        # issue 18's estate: every period binds, 11 crews, deadlines on 8 %
        Shape("reported"),
        Shape("reported-carry", carry_over=True),
        # a poor programme: half the work paid for, big sites split into many visits, many small regions
        Shape(
            "lean-many-visits",
            regions=40,
            size="lognormal",
            size_sigma=0.9,
            max_visit_hours=16.0,
            budget_share=0.5,
            crew_share=0.7,
            deadline_share=0.2,
            maintenance_share=1.0,
            risk="lognormal",
        ),
        # money for everything (120 %): crews are what bind, a few large regions, no deadlines or windows
        Shape(
            "rich-few-regions",
            regions=4,
            region_skew=1.0,
            budget_share=1.2,
            crew_share=0.85,
            deadline_share=0.0,
            maintenance_share=0.0,
        ),
        # a few huge sites and a few very risky ones, carry-over on, ramping budgets
        Shape(
            "pareto-carry",
            regions=8,
            size="pareto",
            size_sigma=1.6,
            budget_share=0.7,
            budget_profile="ramp",
            crew_share=0.95,
            deadline_share=0.3,
            risk="pareto",
            carry_over=True,
        ),
        # half the sites on deadlines, early ones, windows everywhere
        Shape(
            "deadline-heavy",
            regions=15,
            budget_share=0.9,
            crew_share=1.0,
            deadline_share=0.5,
            deadline_from=1,
            maintenance_share=1.0,
            risk="lognormal",
        ),
        # one visit per site (small sites), 30 small regions, lumpy budgets
        Shape(
            "one-visit-small-regions",
            regions=30,
            size="lognormal",
            size_sigma=0.4,
            max_visit_hours=60.0,
            budget_share=0.65,
            budget_profile="lumpy",
            crew_share=0.8,
            deadline_share=0.05,
            maintenance_share=0.3,
        ),
        # many visits per site, 3 big regions, everything just affordable, carry-over on
        Shape(
            "many-visits-carry",
            regions=3,
            region_skew=0.5,
            size="lognormal",
            size_sigma=0.7,
            max_visit_hours=10.0,
            budget_share=1.0,
            crew_share=0.9,
            deadline_share=0.15,
            maintenance_share=0.8,
            carry_over=True,
            risk="lognormal",
        ),
        # some deadlines cannot be met: the answer is an explanation, not a plan
        Shape("impossible-deadlines", budget_share=0.8, deadline_share=0.1, impossible=5),
    )
}
LARGE: dict[str, Shape] = {
    f"{s.name}-30k": replace(
        s, name=f"{s.name}-30k", sites=30000, regions=s.regions * 10 if s.regions < 20 else s.regions
    )
    for s in (SHAPES["reported"], SHAPES["pareto-carry"], SHAPES["rich-few-regions"])
}
ALL: dict[str, Shape] = {**SHAPES, **LARGE}


def _sizes(shape: Shape, rng: np.random.Generator) -> np.ndarray:
    n = shape.sites
    if shape.size == "uniform":
        return rng.integers(20, 79, n).astype(np.float64)
    if shape.size == "lognormal":
        median = 40 if shape.max_visit_hours <= 40 else 25
        return np.clip(rng.lognormal(math.log(median), shape.size_sigma, n), 4, 2000)
    return np.clip(12 * (1 + rng.pareto(shape.size_sigma, n)), 4, 2000)  # Pareto: a few huge sites


def _device_risk(shape: Shape, rng: np.random.Generator, n: int) -> np.ndarray:
    if shape.risk == "uniform":
        return rng.uniform(5, 60, n)
    if shape.risk == "lognormal":
        return rng.lognormal(math.log(25), 0.8, n)
    return 8 * (1 + rng.pareto(1.8, n))


def generate(shape: Shape, seed: int = 1) -> Problem:
    """The seeded problem of one shape (same shape and seed, same problem)."""
    rng = np.random.default_rng(seed)
    n, horizon = shape.sites, PERIODS
    period_ids = [f"P{t + 1:02d}" for t in range(horizon)]
    weights = 1.0 / np.arange(1, shape.regions + 1) ** shape.region_skew
    region_of = rng.choice(shape.regions, n, p=weights / weights.sum())
    sizes = _sizes(shape, rng)
    sensitive = rng.random(n) < shape.sensitive_share
    risk_factor = _device_risk(shape, rng, n) * np.where(sensitive, 2.0, 1.0)
    hours_per_device = rng.uniform(0.55, 0.95, n)
    price_per_device = rng.lognormal(math.log(330), 0.25, n)

    sites: list[PlanSite] = []
    packages: list[Package] = []
    maint_of = np.where(rng.random(n) < shape.maintenance_share, rng.integers(0, horizon, n), -1)
    for s in range(n):
        site_hours = sizes[s] * hours_per_device[s]
        visits = max(1, math.ceil(site_hours / shape.max_visit_hours))
        share = sizes[s] / visits
        for v in range(visits):
            devices = share * rng.uniform(0.85, 1.15)
            hours = round(devices * hours_per_device[s], 1)
            cost = round(devices * price_per_device[s] + hours * LABOUR_RATE + MOBILISATION, 2)
            risk = round(devices * risk_factor[s] * rng.uniform(0.7, 1.3), 2)
            packages.append(Package(f"S{s:05d}#{v + 1}", f"S{s:05d}", risk, cost, hours))
    site_of = np.array([int(p.site[1:6]) for p in packages])
    cost = np.array([p.cost for p in packages])
    hours = np.array([p.hours for p in packages])
    total_cost, total_hours = float(cost.sum()), float(hours.sum())

    # deadlines: ordinary ones from deadline_from on, sensitive sites first, earlier more likely
    deadline_of = np.full(n, -1)
    due = rng.random(n) < shape.deadline_share
    span = horizon - shape.deadline_from
    deadline_of[due] = shape.deadline_from + np.minimum(rng.geometric(2.0 / (span + 1), int(due.sum())) - 1, span - 1)

    profile = np.ones(horizon)
    if shape.budget_profile == "ramp":
        profile = np.linspace(0.6, 1.4, horizon)
    elif shape.budget_profile == "lumpy":
        profile = rng.choice([0.5, 1.0, 1.5], horizon)
    budgets = total_cost * shape.budget_share * profile / profile.sum()
    region_hours = np.bincount(region_of[site_of], weights=hours, minlength=shape.regions)
    crew = (region_hours * shape.crew_share / horizon)[:, None] * rng.uniform(0.85, 1.15, (shape.regions, horizon))
    # ordinary deadlines must be possible: by every period, each region's crews and the budgets up
    # to then cover the work due by then with 10 % to spare (the impossible ones come after)
    due_by = np.where(deadline_of[site_of] >= 0, deadline_of[site_of], horizon)
    for t in range(horizon):
        need = np.bincount(region_of[site_of][due_by <= t], weights=hours[due_by <= t], minlength=shape.regions)
        short = 1.1 * need / np.maximum(crew[:, : t + 1].sum(axis=1), 1e-9)
        crew *= np.maximum(short, 1.0)[:, None]
        money = 1.1 * float(cost[due_by <= t].sum()) / float(budgets[: t + 1].sum())
        budgets *= max(money, 1.0)
    crew = np.maximum(np.round(crew), math.ceil(float(hours.max())))  # every visit fits some crew
    budgets = np.maximum(np.round(budgets), math.ceil(float(cost.max())))  # every visit fits some period

    # impossible deadlines: sites due in the first period with more work than the first budget
    for k in range(shape.impossible):
        s = int(rng.integers(0, n))
        deadline_of[s] = 0
        if k == 0:
            big = float(budgets[0]) * 1.5
            packages.append(Package(f"S{s:05d}#X", f"S{s:05d}", 100.0, big, 8.0))
    for s in range(n):
        m = int(maint_of[s])
        d = int(deadline_of[s])
        sites.append(
            PlanSite(
                f"S{s:05d}",
                f"R{int(region_of[s]):02d}",
                bool(sensitive[s]),
                period_ids[d] if d >= 0 else None,
                period_ids[m] if m >= 0 else None,
                MOBILISATION if m >= 0 else 0.0,
            )
        )
    _ = total_hours
    return Problem(
        tuple(Period(pid, float(b)) for pid, b in zip(period_ids, budgets, strict=True)),
        tuple(Region(f"R{r:02d}", tuple(float(h) for h in crew[r])) for r in range(shape.regions)),
        tuple(sites),
        tuple(packages),
        shape.carry_over,
    )


def describe(problem: Problem) -> str:
    cost = sum(p.cost for p in problem.packages)
    budget = sum(p.budget for p in problem.periods)
    due = sum(1 for s in problem.sites if s.deadline is not None)
    windows = sum(1 for s in problem.sites if s.maintenance is not None)
    return (
        f"{len(problem.sites):,} sites, {len(problem.packages):,} visits, {len(problem.regions)} regions, "
        f"budget {budget / cost:.0%} of the work, deadlines on {due / len(problem.sites):.0%}, "
        f"windows on {windows / len(problem.sites):.0%}, carry_over {problem.carry_over}"
    )


def run_one(name: str, seed: int, time_limit: float) -> dict[str, object]:
    """Generate and solve one shape in this process; the figures as a dict."""
    from phaseout.plan.greedy import greedy_plan, meets_deadlines, risk_exposure
    from phaseout.plan.solve import solve

    t0 = time.perf_counter()
    problem = generate(ALL[name], seed)
    t1 = time.perf_counter()
    greedy = greedy_plan(problem)
    rule = risk_exposure(problem, greedy) if meets_deadlines(problem, greedy) else None
    t2 = time.perf_counter()
    cpu = time.process_time()
    result = solve(problem, time_limit=time_limit)
    t3 = time.perf_counter()
    cpu = time.process_time() - cpu
    return {
        "shape": name,
        "sites": len(problem.sites),
        "visits": len(problem.packages),
        "generate_s": round(t1 - t0, 2),
        "seconds": round(t3 - t2, 2),
        "cpu_s": round(cpu, 1),
        "time_limit": time_limit,
        "status": result.status,
        "label": result.label,
        "objective": result.objective,
        "bound": result.bound,
        "gap": result.gap,
        "rule": rule,
        "explanation": result.explanation[:3],
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def _fmt(value: object) -> str:
    return "-" if value is None else f"{value:,.0f}" if isinstance(value, float) else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=None, help="default 30 s; 300 s at 30,000 sites")
    parser.add_argument("--large", action="store_true", help="add the 30,000-site shapes")
    parser.add_argument("--only", nargs="+", choices=sorted(ALL), help="these shapes only")
    parser.add_argument("--describe", action="store_true", help="print the shapes, do not solve")
    parser.add_argument("--one", choices=sorted(ALL), help=argparse.SUPPRESS)  # child process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.seed, args.time_limit)))
        return
    names = args.only or [n for n, shape in ALL.items() if shape.sites <= 3000 or args.large]
    if args.describe:
        for name in names:
            print(f"{name:28} {describe(generate(ALL[name], args.seed))}")
        return
    head = (
        "shape | sites | visits | limit s | time s | CPU s | status | risk-exposure | bound | gap | rule | vs rule | MB"
    )
    print(f"| {head} |")
    print("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for name in names:
        limit = args.time_limit if args.time_limit is not None else (300.0 if ALL[name].sites > 3000 else 30.0)
        cmd = [sys.executable, __file__, "--one", name, "--seed", str(args.seed), "--time-limit", str(limit)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        r = json.loads(out)
        gap = "-" if r["gap"] is None else f"{r['gap']:.3%}"
        vs = (
            "-"
            if r["rule"] is None or r["objective"] is None
            else f"{(r['rule'] - r['objective']) / r['rule']:.2%} lower"
        )
        status = r["label"] if r["status"] != "infeasible" else "infeasible (explained)"
        print(
            f"| {name} | {r['sites']:,} | {r['visits']:,} | {limit:g} | {r['seconds']:.1f} | {r['cpu_s']:.1f} | "
            f"{status} | "
            f"{_fmt(r['objective'])} | {_fmt(r['bound'])} | {gap} | {_fmt(r['rule'])} | {vs} | {r['peak_mb']:,} |",
            flush=True,
        )
        if r["status"] == "infeasible":
            print(f"<!-- {name}: {' / '.join(r['explanation'])} -->", flush=True)


if __name__ == "__main__":
    main()
