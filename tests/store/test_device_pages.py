"""A page of the device listing, chosen in two steps (ids over the narrow join, then the wide
rows), holds exactly the rows the one-step listing has at that place, for every sort key, both
directions, filters that join other tables, and offsets at the start, middle and end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from phaseout.queries import devices as devices_query
from phaseout.queries.devices import SORT, DeviceQuery, iter_devices, page, plain
from phaseout.store import Store
from tests.store.test_search import _estate


def test_pages_equal_slices_of_the_full_listing(db_url: str, tmp_path: Path) -> None:
    with _estate(db_url, tmp_path) as store:
        _check(store)


def _check(store: Store) -> None:
    for q in (DeviceQuery(), DeviceQuery(text="10."), DeviceQuery(site="s-gamma"), DeviceQuery(vendor="hikvision")):
        for sort in SORT:
            for descending in (False, True):
                full = [plain(r) for r in iter_devices(store.engine, q, sort=sort, descending=descending)]
                with store.engine.connect() as conn:
                    for size, offset in ((2, 0), (3, 2), (2, len(full) - 1), (5, len(full) + 3)):
                        got = page(conn, q, sort=sort, descending=descending, size=size, offset=offset)
                        assert got == full[offset : offset + size], (q, sort, descending, offset)


def test_remembered_totals_follow_every_write(db_url: str, tmp_path: Path) -> None:
    """Totals without free text are remembered per generation: an import changes them at once."""
    from phaseout.app import Phaseout
    from phaseout.queries.dashboard import list_devices

    with _estate(db_url, tmp_path) as store:
        with store.engine.connect() as conn:
            first = list_devices(conn)[0], list_devices(conn, vendor="hikvision")[0]
            assert first == (list_devices(conn)[0], list_devices(conn, vendor="hikvision")[0])  # remembered
        more = tmp_path / "more.csv"
        more.write_text("Site,Make,Model,IP\nS-NEW,Hikvision,DS-2CD2043G0-I,10.99.0.1\n", encoding="utf-8")
        Phaseout(store).import_devices(more)
        with store.engine.connect() as conn:
            assert list_devices(conn)[0] == first[0] + 1
            assert list_devices(conn, vendor="hikvision")[0] == first[1] + 1
            assert list_devices(conn, site="s-new")[0] == 1


@pytest.mark.parametrize("few", [0, 20_000])
def test_pages_read_from_the_end_equal_slices(db_url: str, tmp_path: Path, few: int, monkeypatch: Any) -> None:
    """Given the total, a page past the middle is read in the reverse order and put back: every
    offset, for every sort key (NULLs included) and direction, holds the same rows as the slice.
    The same with every total counted as few (read by the filters, sorted, order unindexed)."""
    monkeypatch.setattr(devices_query, "FEW", few)
    with _estate(db_url, tmp_path) as store:
        for q in (DeviceQuery(), DeviceQuery(text="10."), DeviceQuery(vendor="hikvision")):
            for sort in SORT:
                for descending in (False, True):
                    full = [plain(r) for r in iter_devices(store.engine, q, sort=sort, descending=descending)]
                    with store.engine.connect() as conn:
                        for size in (1, 3):
                            for offset in range(len(full) + 2):
                                got = page(
                                    conn, q, sort=sort, descending=descending, size=size, offset=offset, total=len(full)
                                )
                                assert got == full[offset : offset + size], (q, sort, descending, size, offset)


def test_remembered_search_totals_follow_every_write(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Free-text totals are remembered too, a few at a time: each stays exact after an import,
    and forgetting the oldest never changes an answer."""
    from phaseout.app import Phaseout
    from phaseout.queries import dashboard
    from phaseout.queries.dashboard import list_devices

    monkeypatch.setattr(dashboard, "MAX_CACHED_TEXT_COUNTS", 2)
    texts = ("10.99", "hik", "10.", "s-gamma")
    with _estate(db_url, tmp_path) as store:
        with store.engine.connect() as conn:
            before = {t: list_devices(conn, q=t)[0] for t in texts}
            assert {t: list_devices(conn, q=t)[0] for t in reversed(texts)} == before
            assert len(dashboard._text_counts) <= 2
            assert before["10.99"] == 0
        more = tmp_path / "more.csv"
        more.write_text("Site,Make,Model,IP\nS-NEW,Hikvision,DS-2CD2043G0-I,10.99.0.1\n", encoding="utf-8")
        Phaseout(store).import_devices(more)
        with store.engine.connect() as conn:
            assert list_devices(conn, q="10.99")[0] == 1
            assert list_devices(conn, q="hik")[0] == before["hik"] + 1
            assert list_devices(conn, q="s-gamma")[0] == before["s-gamma"]


def test_vendor_filter_list_equals_the_overviews(db_url: str, tmp_path: Path) -> None:
    """The device table's vendor choices, computed alone on a cold cache, are the overview's."""
    from phaseout.queries import dashboard

    with _estate(db_url, tmp_path) as store, store.engine.connect() as conn:
        dashboard._cache.clear()
        alone = dashboard.vendors_in_use(conn)
        assert alone == [r["key"] for r in dashboard.overview(conn)["by_vendor"]]
        assert alone and dashboard.vendors_in_use(conn) == alone
