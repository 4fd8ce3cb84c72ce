"""Plans built by rules rather than by the solver.

``greedy_plan`` is the spreadsheet plan: deadlines first, then the highest risk per unit of cost,
each package in the earliest period that still has the budget and the crew hours for it.  It is
what a programme office does by hand, so it is the baseline every solved plan is compared with.

``rounded_plan`` starts from the LP relaxation's answer: packages the LP puts wholly in one period
stay there, the few it splits are placed by the greedy rule in what capacity is left, then every
package is moved as early as capacity allows.  With few capacity rows (periods x regions) the LP
splits few packages, so this plan is close to the bound and is the solver's warm start.
"""

from __future__ import annotations

from collections.abc import Iterable

from phaseout.plan.problem import Package, Problem

EPS = 1e-9


class Capacity:
    """Budget and crew hours left per period as packages are placed."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        horizon = problem.horizon
        self.budgets = [p.budget for p in problem.periods]
        self.spent = [0.0] * horizon
        self.cumulative_budget = [sum(self.budgets[: t + 1]) for t in range(horizon)]
        self.hours_left = [list(r.crew_hours) for r in problem.regions]
        self.plan: dict[str, int] = {}
        self.in_period: list[set[str]] = [set() for _ in range(horizon)]

    def region(self, package: Package) -> int:
        return self.problem.region_index[self.problem.site_by_id[package.site].region]

    def last_period(self, package: Package) -> int:
        deadline = self.problem.deadline_index(package)
        return self.problem.horizon - 1 if deadline is None else deadline

    def fits(self, package: Package, t: int) -> bool:
        if self.hours_left[self.region(package)][t] + EPS < package.hours:
            return False
        spend = self.problem.spend(package, t)
        if not self.problem.carry_over:
            return self.spent[t] + spend <= self.budgets[t] + EPS
        running = sum(self.spent[:t])  # cumulative spend within cumulative budget from t on
        for later in range(t, self.problem.horizon):
            running += self.spent[later]
            if running + spend > self.cumulative_budget[later] + EPS:
                return False
        return True

    def take(self, package: Package, t: int) -> None:
        self.spent[t] += self.problem.spend(package, t)
        self.hours_left[self.region(package)][t] -= package.hours
        self.plan[package.id] = t
        self.in_period[t].add(package.id)

    def release(self, package: Package) -> None:
        t = self.plan.pop(package.id)
        self.in_period[t].discard(package.id)
        self.spent[t] -= self.problem.spend(package, t)
        self.hours_left[self.region(package)][t] += package.hours

    def make_room(self, package: Package, by_id: dict[str, Package]) -> bool:
        """Place a package with a deadline that no longer fits: in some period before its
        deadline, move other packages out (least risk first) to another period they may use,
        or out of the plan when they have no deadline.  Moves are undone when they do not free
        enough room."""
        region = self.region(package)
        for t in range(self.last_period(package) + 1):
            moved: list[tuple[Package, int | None]] = []  # (package, new period or None)
            for other in sorted((by_id[pid] for pid in self.in_period[t]), key=lambda p: (p.risk, p.id)):
                if self.fits(package, t):
                    break
                if package.hours > self.hours_left[region][t] + EPS and self.region(other) != region:
                    continue  # moving it frees no crew hours where they are needed
                self.release(other)
                target = next((u for u in range(self.last_period(other) + 1) if u != t and self.fits(other, u)), None)
                if target is None and self.problem.deadline_index(other) is not None:
                    self.take(other, t)  # it cannot go anywhere else
                    continue
                if target is not None:
                    self.take(other, target)
                moved.append((other, target))
            if self.fits(package, t):
                self.take(package, t)
                for other, target in moved:
                    if target is None:
                        self.place_earliest(other)
                return True
            for other, target in reversed(moved):  # no room here either: undo
                if target is not None:
                    self.release(other)
                self.take(other, t)
        return False

    def place_earliest(self, package: Package) -> bool:
        for t in range(self.last_period(package) + 1):
            if self.fits(package, t):
                self.take(package, t)
                return True
        return False


def greedy_order(problem: Problem, packages: Iterable[Package]) -> list[Package]:
    """Deadlines first (earliest first), then the highest risk per unit of cost."""

    def key(package: Package) -> tuple[int, int, float]:
        deadline = problem.deadline_index(package)
        return (
            0 if deadline is not None else 1,
            deadline if deadline is not None else problem.horizon,
            -package.risk / max(package.cost, 1e-9),
        )

    return sorted(packages, key=key)


def greedy_plan(problem: Problem) -> dict[str, int]:
    """Package id -> 0-based period index, for the packages that fit somewhere."""
    capacity = Capacity(problem)
    for package in greedy_order(problem, problem.packages):
        capacity.place_earliest(package)
    return capacity.plan


def rounded_plan(problem: Problem, fixed: dict[str, int]) -> dict[str, int]:
    """Keep ``fixed`` (packages an LP put wholly in one period), place the rest greedily, then
    move every package as early as the capacity left allows, riskiest first."""
    capacity = Capacity(problem)
    by_id = {p.id: p for p in problem.packages}
    for pid, t in fixed.items():
        capacity.take(by_id[pid], t)
    rest = [p for p in problem.packages if p.id not in fixed]
    for package in greedy_order(problem, rest):
        if not capacity.place_earliest(package) and problem.deadline_index(package) is not None:
            capacity.make_room(package, by_id)
    for package in sorted(problem.packages, key=lambda p: -p.risk):
        current = capacity.plan.get(package.id)
        if current == 0:
            continue
        if current is not None:
            capacity.release(package)
        if not capacity.place_earliest(package) and current is not None:
            capacity.take(package, current)
    return capacity.plan


def risk_exposure(problem: Problem, plan: dict[str, int]) -> float:
    """Sum over packages of risk x (1-based period of replacement); a package left out counts
    as horizon + 1."""
    late = problem.horizon + 1
    return sum(p.risk * (plan[p.id] + 1 if p.id in plan else late) for p in problem.packages)


def plan_cost(problem: Problem, plan: dict[str, int]) -> float:
    by_id = {p.id: p for p in problem.packages}
    return sum(problem.spend(by_id[pid], t) for pid, t in plan.items())


def meets_deadlines(problem: Problem, plan: dict[str, int]) -> bool:
    return all(p.id in plan for p in problem.packages if problem.deadline_index(p) is not None)
