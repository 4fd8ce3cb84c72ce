"""The site lists' order, kept once per generation (queries.dashboard.sites_in_order), gives
the same pages as sorting the site table on every request did: empty values last in both
directions, ties in the table's order, filters applied over the kept order."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from phaseout.errors import UsageError
from phaseout.queries import dashboard


def _table(n: int, seed: int) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        rows.append(
            {
                "code": f"{rnd.randrange(40):04d}-{i}",
                "name": rnd.choice(["Leeds", "York", None, "Hull Hyper"]),
                "region": rnd.choice(["North", "South", None]),
                "sensitivity": rnd.choice(["sensitive", "standard"]),
                "devices": rnd.randrange(4),
                "covered": rnd.choice([0, 1, 2]),
                "risk": rnd.choice([0.0, 10.5, 10.5, 99.0]),
                "deadline": rnd.choice([None, "2027-01-01", "2026-06-30"]),
                "period": rnd.choice([None, "2027-Q1", "2027-Q2"]),
            }
        )
    return rows


def _old_list(rows: list[dict[str, Any]], sort: str, descending: bool, **f: Any) -> list[dict[str, Any]]:
    """The per-request sort the site lists used before the kept order (reference)."""
    if f.get("q"):
        needle = f["q"].lower()
        rows = [r for r in rows if needle in r["code"].lower() or needle in (r["name"] or "").lower()]
    if f.get("region"):
        rows = [r for r in rows if (r["region"] or "").lower() == f["region"].lower()]
    if f.get("sensitivity"):
        rows = [r for r in rows if r["sensitivity"] == f["sensitivity"]]
    rows = sorted(rows, key=lambda r: (r[sort] is None, r[sort] if r[sort] is not None else 0), reverse=descending)
    if descending:
        rows = [r for r in rows if r[sort] is not None] + [r for r in rows if r[sort] is None]
    return rows


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    rows = _table(300, seed=5)
    kept: dict[str, Any] = {}

    def cached(conn: Any, name: str, compute: Callable[[], Any], *, share: bool = True) -> Any:
        if name not in kept:
            kept[name] = compute()
        return kept[name]

    monkeypatch.setattr(dashboard, "cached", cached)
    monkeypatch.setattr(dashboard, "all_sites", lambda conn: rows)
    return rows


@pytest.mark.parametrize("sort", dashboard.SITE_SORT)
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("filters", [{}, {"q": "leeds"}, {"region": "north"}, {"sensitivity": "sensitive", "q": "00"}])
def test_kept_order_gives_the_same_pages(
    table: list[dict[str, Any]], sort: str, descending: bool, filters: dict[str, str]
) -> None:
    expected = _old_list(table, sort, descending, **filters)
    for number, size in [(1, 50), (2, 50), (3, 7), (100, 50)]:
        total, rows = dashboard.list_sites(
            None,  # type: ignore[arg-type]
            sort=sort,
            descending=descending,
            page=dashboard.Page(number, size),
            **filters,
        )
        assert total == len(expected)
        assert rows == expected[(number - 1) * size : number * size]


def test_kept_order_is_not_changed_by_a_caller(table: list[dict[str, Any]]) -> None:
    _, first = dashboard.list_sites(None, sort="risk", descending=True)  # type: ignore[arg-type]
    first.clear()
    _, again = dashboard.list_sites(None, sort="risk", descending=True)  # type: ignore[arg-type]
    assert again


def test_unknown_sort_key_is_a_usage_error(table: list[dict[str, Any]]) -> None:
    with pytest.raises(UsageError, match="cannot sort sites"):
        dashboard.sites_in_order(None, "latitude", False)  # type: ignore[arg-type]
