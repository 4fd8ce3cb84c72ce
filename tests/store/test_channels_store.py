"""Channel devices under their recorder: a swapped camera, a moved camera, a damaged list."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from phaseout.store import Store
from phaseout.store.channels import ChannelFacts, record_channels
from phaseout.store.schema import devices

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def _cam(key: str, serial: str | None, model: str = "DS-2CD2143G2-I", online: bool | None = True) -> ChannelFacts:
    return ChannelFacts(
        key, key.startswith("A"), "", None if key.startswith("A") else "10.9.0.1", model, serial, None, None, online
    )


def _rows(store: Store, parent: int) -> list[tuple]:  # type: ignore[type-arg]
    cols = (devices.c.id, devices.c.channel, devices.c.serial, devices.c.channel_state)
    with store.engine.connect() as conn:
        return [
            tuple(r) for r in conn.execute(select(*cols).where(devices.c.parent_id == parent).order_by(devices.c.id))
        ]


def test_swapped_moved_and_damaged_lists(db_url: str) -> None:
    with Store.open(db_url) as store:
        with store.engine.begin() as conn:
            nvr = conn.execute(
                devices.insert().values(ip="10.9.0.250", first_seen=NOW, last_seen=NOW).returning(devices.c.id)
            ).scalar_one()
            first = [
                _cam("D1", "DS-2CD2143G2-I20240101AAWRJ11111111"),
                _cam("D2", "DS-2CD2143G2-I20240101AAWRJ22222222"),
            ]
            record_channels(conn, nvr, [*first, _cam("A1", None, model="")], {"ip", "analog"}, now=NOW, batch_id=None)
        (d1, _, _, _), (d2, _, _, _), (a1, _, _, _) = _rows(store, nvr)
        with store.engine.begin() as conn:
            # D1 now holds another camera; D2's camera moved to D3; the analogue list was not read
            later = [
                _cam("D1", "DS-2CD2143G2-I20250101AAWRJ33333333"),
                _cam("D3", "DS-2CD2143G2-I20240101AAWRJ22222222"),
            ]
            record_channels(conn, nvr, later, {"ip"}, now=NOW, batch_id=None)
        rows = {r[0]: r for r in _rows(store, nvr)}
        assert rows[d1][3] == "missing"  # the old camera left channel 1: marked, kept
        assert rows[d2][1:] == ("D3", "DS-2CD2143G2-I20240101AAWRJ22222222", "online")  # same device, new channel
        assert rows[a1][3] == "online"  # analogue list not read this time: untouched
        new = [r for r in rows.values() if r[0] not in (d1, d2, a1)]
        assert [(r[1], r[3]) for r in new] == [("D1", "online")]
        with store.engine.begin() as conn:  # the list could not be read whole: nothing marked missing
            record_channels(conn, nvr, [], set(), now=NOW, batch_id=None)
        assert sum(r[3] == "missing" for r in _rows(store, nvr)) == 1
