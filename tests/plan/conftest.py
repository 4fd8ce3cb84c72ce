"""Small planning problems, written as problem.json dictionaries."""

from __future__ import annotations

import random
from typing import Any


def random_problem(seed: int, *, sites: int = 8, periods: int = 4, carry_over: bool = False) -> dict[str, Any]:
    """A seeded problem with deadlines, maintenance savings, two regions and tight budgets."""
    rng = random.Random(seed)
    ids = [f"P{t + 1}" for t in range(periods)]
    out_sites, packages = [], []
    for s in range(sites):
        deadline = rng.choice([None, None, ids[-1], ids[rng.randrange(periods)]])
        maintenance = rng.choice([None, ids[rng.randrange(periods)]])
        out_sites.append(
            {
                "id": f"S{s}",
                "region": rng.choice(["north", "south"]),
                "sensitive": deadline is not None,
                "deadline": deadline,
                "maintenance": maintenance,
                "maintenance_saving": rng.choice([0, 50, 120]),
            }
        )
        for v in range(rng.choice([1, 1, 2])):
            packages.append(
                {
                    "id": f"S{s}#{v + 1}",
                    "site": f"S{s}",
                    "risk": round(rng.uniform(1, 100), 2),
                    "cost": rng.randrange(100, 600),
                    "hours": rng.randrange(4, 30),
                    "devices": [f"d{s}-{v}"],
                }
            )
    total = sum(p["cost"] for p in packages)
    hours = sum(p["hours"] for p in packages)
    return {
        "periods": [{"id": pid, "budget": round(total / periods * rng.uniform(0.8, 1.3))} for pid in ids],
        "regions": [
            {"id": r, "crew_hours": [round(hours / periods * rng.uniform(0.5, 1.0)) for _ in ids]}
            for r in ("north", "south")
        ],
        "sites": out_sites,
        "packages": packages,
        "carry_over": carry_over,
    }
