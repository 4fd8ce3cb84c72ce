"""A page of the device listing, chosen in two steps (ids over the narrow join, then the wide
rows), holds exactly the rows the one-step listing has at that place, for every sort key, both
directions, filters that join other tables, and offsets at the start, middle and end."""

from __future__ import annotations

from pathlib import Path

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
