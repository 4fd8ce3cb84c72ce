"""Local search on a plan, as arrays: move a visit earlier, or swap two visits between periods,
whenever every budget, crew and deadline still holds and risk-exposure falls.

Why: the LP relaxation leaves few visits split, but rounding them leaves slack in rows that bind
(a period's money with no visit small enough in crew hours to use it, say).  HiGHS's branch and
bound on 50,000 binaries spends its time in root cuts that barely move the bound; a swap search
evaluated a period pair at a time with numpy finds the exchanges that fill that slack in a
fraction of the time.  Moves are exact (no tolerance is borrowed), so the result is feasible
whenever the start is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from phaseout.plan.problem import Problem

EPS = 1e-7
MAX_IN = 320
MAX_OUT = 640
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(slots=True)
class Arrays:
    """The problem's numbers, one entry per package (``last``: the last period it may use;
    ``must``: it has a deadline; ``maint``: its maintenance period or -1)."""

    risk: FloatArray
    cost: FloatArray
    hours: FloatArray
    region: IntArray
    last: IntArray
    must: npt.NDArray[np.bool_]
    maint: IntArray
    saving: FloatArray
    budgets: FloatArray
    crew: FloatArray  # regions x periods
    carry_over: bool

    @property
    def horizon(self) -> int:
        return len(self.budgets)

    def spend(self, idx: IntArray, t: int | IntArray) -> FloatArray:
        """What the packages cost when done in period(s) t (maintenance saving off)."""
        return np.asarray(self.cost[idx] - np.where(self.maint[idx] == t, self.saving[idx], 0.0), dtype=np.float64)


def problem_arrays(problem: Problem) -> Arrays:
    horizon = problem.horizon
    packages = problem.packages
    n = len(packages)
    region = np.empty(n, dtype=np.int64)
    last = np.empty(n, dtype=np.int64)
    must = np.zeros(n, dtype=bool)
    maint = np.full(n, -1, dtype=np.int64)
    saving = np.zeros(n)
    for i, p in enumerate(packages):
        site = problem.site_by_id[p.site]
        region[i] = problem.region_index[site.region]
        deadline = None if site.deadline is None else problem.period_index[site.deadline]
        last[i] = horizon - 1 if deadline is None else deadline
        must[i] = deadline is not None
        if site.maintenance is not None:
            maint[i] = problem.period_index[site.maintenance]
            saving[i] = min(site.maintenance_saving, p.cost)
    return Arrays(
        risk=np.array([p.risk for p in packages], dtype=np.float64),
        cost=np.array([p.cost for p in packages], dtype=np.float64),
        hours=np.array([p.hours for p in packages], dtype=np.float64),
        region=region,
        last=last,
        must=must,
        maint=maint,
        saving=saving,
        budgets=np.array([p.budget for p in problem.periods], dtype=np.float64),
        crew=np.array([r.crew_hours for r in problem.regions], dtype=np.float64).reshape(len(problem.regions), horizon),
        carry_over=problem.carry_over,
    )


class Search:
    """A plan (``period[p]``: 0-based period, or ``horizon`` when not done) with its spend per
    period and crew hours per region and period kept up to date."""

    def __init__(self, a: Arrays, period: IntArray) -> None:
        self.a = a
        self.period = period.copy()
        h = a.horizon
        self.spent = np.zeros(h)
        self.used = np.zeros_like(a.crew)
        done = np.flatnonzero(period < h)
        np.add.at(self.spent, period[done], a.spend(done, period[done]))
        np.add.at(self.used, (a.region[done], period[done]), a.hours[done])

    def objective(self) -> float:
        return float((self.a.risk * (self.period + 1)).sum())

    def _budget_ok(self, t1: int, t2: int, d1: FloatArray, d2: FloatArray) -> npt.NDArray[np.bool_]:
        """d1: change of spend in t1; d2: change of spend in t2 (t2 == horizon: none)."""
        a, h = self.a, self.a.horizon
        if not a.carry_over:
            ok = self.spent[t1] + d1 <= a.budgets[t1] + EPS
            if t2 < h:
                ok &= self.spent[t2] + d2 <= a.budgets[t2] + EPS
            return np.asarray(ok)
        slack = np.cumsum(a.budgets) - np.cumsum(self.spent)
        ok = d1 <= slack[t1:t2].min() + EPS
        if t2 < h:
            ok &= d1 + d2 <= slack[t2:].min() + EPS
        return np.asarray(ok)

    def sweep_pair(self, t1: int, t2: int, max_moves: int = 64) -> float:
        """Best moves bringing a package from t2 (or not done) into t1, each alone or swapped
        with one in t1 that may go to t2; returns the risk-exposure saved."""
        a, h = self.a, self.a.horizon
        into = np.flatnonzero((self.period == t2) & (a.last >= t1))
        if into.size == 0:
            return 0.0
        # the riskiest to bring in and the least risky to push out: the pairs worth most; the
        # caps keep each evaluation near 200,000 pairs, later sweeps reach the rest
        into = into[np.argsort(-a.risk[into], kind="stable")][:MAX_IN]
        out = np.flatnonzero((self.period == t1) & ((a.last >= t2) if t2 < h else ~a.must))
        out = out[np.argsort(a.risk[out], kind="stable")][:MAX_OUT]
        # column 0 is "no swap": a plain move
        q = np.concatenate([np.array([-1]), out])
        risk_q = np.where(q >= 0, a.risk[q], 0.0)
        gain = (a.risk[into][:, None] - risk_q[None, :]) * (t2 - t1)
        good = gain > EPS
        if not good.any():
            return 0.0
        sp1 = a.spend(into, t1)
        sp2 = a.spend(into, t2) if t2 < h else np.zeros(into.size)
        qq = np.where(q >= 0, q, 0)
        sq1 = np.where(q >= 0, a.spend(qq, t1), 0.0)
        sq2 = np.where(q >= 0, a.spend(qq, t2), 0.0) if t2 < h else np.zeros(q.size)
        d1 = sp1[:, None] - sq1[None, :]
        d2 = sq2[None, :] - sp2[:, None]
        ok = good & self._budget_ok(t1, t2, d1, d2)
        rp = a.region[into]
        rq = np.where(q >= 0, a.region[qq], -1)
        hp, hq = a.hours[into], np.where(q >= 0, a.hours[qq], 0.0)
        left1 = a.crew[:, t1] - self.used[:, t1]
        same = rp[:, None] == rq[None, :]
        fit1 = np.where(same, left1[rp][:, None] + hq[None, :], left1[rp][:, None]) >= hp[:, None] - EPS
        ok &= fit1
        if t2 < h:
            left2 = a.crew[:, t2] - self.used[:, t2]
            room2 = np.where(same, left2[rq][None, :] + hp[:, None], left2[np.maximum(rq, 0)][None, :])
            ok &= (room2 >= hq[None, :] - EPS) | (q < 0)[None, :]
        if not ok.any():
            return 0.0
        rows, cols = np.nonzero(ok)
        order = np.argsort(-gain[rows, cols], kind="stable")
        saved = 0.0
        moved: set[int] = set()
        for k in order[: max_moves * 8]:
            p_i, q_i = int(into[rows[k]]), int(q[cols[k]])
            if p_i in moved or q_i in moved:
                continue
            if self.try_swap(p_i, q_i, t1, t2):
                saved += float(gain[rows[k], cols[k]])
                moved.update((p_i, q_i))
                if len(moved) >= 2 * max_moves:
                    break
        return saved

    def budget_room(self, t: int) -> float:
        """Money a visit added in period t may spend (carry-over: the least cumulative slack
        from t on)."""
        a = self.a
        if not a.carry_over:
            return float(a.budgets[t] - self.spent[t])
        return float((np.cumsum(a.budgets) - np.cumsum(self.spent))[t:].min())

    def force(self, p: int) -> bool:
        """Put p (not done, with a deadline) in the period up to its deadline that costs least to
        clear, taking out visits without a deadline; False when none can be cleared."""
        a, h = self.a, self.a.horizon
        best: tuple[float, int, list[int]] | None = None
        for t in range(int(a.last[p]) + 1):
            here = np.flatnonzero((self.period == t) & ~a.must)
            need_money = float(a.spend(np.array([p]), t)[0]) - self.budget_room(t)
            need_hours = float(a.hours[p] - (a.crew[a.region[p], t] - self.used[a.region[p], t]))
            out: list[int] = []
            lost = 0.0
            local = here[a.region[here] == a.region[p]]
            for q in local[np.argsort(a.risk[local] / np.maximum(a.hours[local], 1e-9))].tolist():
                if need_hours <= EPS:
                    break
                out.append(q)
                need_hours -= float(a.hours[q])
                need_money -= float(a.spend(np.array([q]), t)[0])
                lost += float(a.risk[q]) * (h - t)
            if need_hours > EPS:
                continue
            rest = np.setdiff1d(here, np.array(out, dtype=np.int64))
            for q in rest[np.argsort(a.risk[rest] / np.maximum(a.spend(rest, t), 1e-9))].tolist():
                if need_money <= EPS:
                    break
                out.append(q)
                need_money -= float(a.spend(np.array([q]), t)[0])
                lost += float(a.risk[q]) * (h - t)
            if need_money > EPS:
                continue
            lost -= float(a.risk[p]) * (h - t)
            if best is None or lost < best[0]:
                best = (lost, t, out)
        if best is None:
            return False
        _, t, out = best
        for q in out:
            self.remove(q)
        self.add(p, t)
        return True

    def remove(self, q: int) -> None:
        a, t = self.a, int(self.period[q])
        self.spent[t] -= float(a.spend(np.array([q]), t)[0])
        self.used[a.region[q], t] -= a.hours[q]
        self.period[q] = a.horizon

    def add(self, p: int, t: int) -> None:
        a = self.a
        self.spent[t] += float(a.spend(np.array([p]), t)[0])
        self.used[a.region[p], t] += a.hours[p]
        self.period[p] = t

    def try_swap(self, p: int, q: int, t1: int, t2: int) -> bool:
        """Move p from t2 to t1 and q (when >= 0) from t1 to t2, if every limit still holds."""
        a, h = self.a, self.a.horizon
        one = np.array([p])
        d1 = float(a.spend(one, t1)[0])
        d2 = -float(a.spend(one, t2)[0]) if t2 < h else 0.0
        if q >= 0:
            other = np.array([q])
            d1 -= float(a.spend(other, t1)[0])
            if t2 < h:
                d2 += float(a.spend(other, t2)[0])
        if not bool(self._budget_ok(t1, t2, np.array(d1), np.array(d2))):
            return False
        change = np.zeros_like(self.used)
        change[a.region[p], t1] += a.hours[p]
        if t2 < h:
            change[a.region[p], t2] -= a.hours[p]
        if q >= 0:
            change[a.region[q], t1] -= a.hours[q]
            if t2 < h:
                change[a.region[q], t2] += a.hours[q]
        if ((self.used + change) > a.crew + EPS)[change > 0].any():
            return False
        self.used += change
        self.spent[t1] += d1
        if t2 < h:
            self.spent[t2] += d2
        self.period[p] = t1
        if q >= 0:
            self.period[q] = t2
        return True


def force_deadlines(a: Arrays, period: IntArray) -> IntArray:
    """Place every deadline visit the plan leaves out, making room by taking visits without a
    deadline out of the period (fewest risk first, the visit's region first when crews are short).
    Where no period up to its deadline can be cleared, the visit stays out (the caller checks)."""
    search = Search(a, period)
    h = a.horizon
    for p in np.flatnonzero(a.must & (search.period >= h))[np.argsort(-a.risk[a.must & (search.period >= h)])]:
        search.force(int(p))
    return search.period


def local_search(a: Arrays, period: IntArray, deadline: float, min_gain: float = 0.0) -> IntArray:
    """Sweep every period pair (earlier first) until a sweep saves no more than ``min_gain`` or
    the clock (``time.perf_counter()``) passes ``deadline``; returns the improved plan."""
    search = Search(a, period)
    h = a.horizon
    while time.perf_counter() < deadline:
        saved = 0.0
        for t1 in range(h):
            for t2 in range(t1 + 1, h + 1):
                if time.perf_counter() >= deadline:
                    return search.period
                saved += search.sweep_pair(t1, t2)
        if saved <= min_gain:
            break
    return search.period
