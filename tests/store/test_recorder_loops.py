"""A hostile or broken inventory can make a device its own recorder, or two recorders each
other's: the tree reads, the device page and ``devices --tree`` must stay finite and never show
a recorder behind itself."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from phaseout.cli import app as cli
from phaseout.queries import recorders
from phaseout.store import Store
from phaseout.store.schema import devices, sites
from phaseout.store.users import add_user
from phaseout.web.app import create_app
from tests.web.conftest import PASSWORDS, login

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def _estate(path: Path) -> str:
    url = str(path / "t.db")
    with Store.open(url) as store, store.engine.begin() as conn:
        sid = conn.execute(sites.insert().values(code="S1", created_at=NOW, updated_at=NOW)).inserted_primary_key[0]

        def add(**values: object) -> None:
            conn.execute(devices.insert().values(site_id=sid, first_seen=NOW, last_seen=NOW, **values))

        add(id=1, device_type="recorder", model="<b>NVR</b>", ip="10.0.0.1")
        add(id=2, device_type="recorder", model="DVR", ip="10.0.0.2")
        add(id=3, device_type="camera", parent_id=1, channel="D1", model="cam")
        conn.execute(update(devices).where(devices.c.id == 1).values(parent_id=1))  # itself
        conn.execute(update(devices).where(devices.c.id == 2).values(parent_id=3))
        conn.execute(update(devices).where(devices.c.id == 3).values(parent_id=2))  # 2 -> 3 -> 2
    return url


def test_a_recorder_is_never_its_own_child(tmp_path: Path) -> None:
    url = _estate(tmp_path)
    with Store.open(url) as store, store.engine.connect() as conn:
        sub = recorders.recorder_subtree(conn, 1)
        assert sub is not None and [c["id"] for c in sub["recorders"][0]["children"]] == []
        assert 1 not in [c["id"] for c in recorders.channels_of(conn, [1])[1]]
        tree = recorders.site_tree(conn, "S1")
        for node in tree["recorders"]:
            assert node["id"] not in [c["id"] for c in node["children"]]


def test_pages_and_the_cli_finish_on_loops(tmp_path: Path) -> None:
    url = _estate(tmp_path)
    result = CliRunner().invoke(cli, ["--db", url, "devices", "--tree", "--recorder", "1"])
    assert result.exit_code == 0, result.output
    assert "0 device(s) behind them" in result.output
    result = CliRunner().invoke(cli, ["--db", url, "devices", "--tree", "--site", "S1"])
    assert result.exit_code == 0, result.output
    with Store.open(url) as store:
        add_user(store.engine, "ada", "admin", PASSWORDS["ada"])
        with TestClient(create_app(store.engine, warm=False), base_url="http://127.0.0.1") as client:
            login(client, "ada")
            page = client.get("/devices/1")
            assert page.status_code == 200 and "10.0.0.1" in page.text
            assert "&lt;b&gt;NVR&lt;/b&gt;" in page.text
            assert "<b>NVR</b>" not in page.text
            assert 'data-recorder="1"' not in page.text  # no table of what is behind it: nothing is
            assert 'id="behind-recorder"' not in page.text  # nor "on ... of" itself
            assert client.get("/devices/2").status_code == 200
            assert client.get("/sites/S1").status_code == 200
