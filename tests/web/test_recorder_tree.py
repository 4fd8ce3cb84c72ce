"""The recorder tree on the dashboard and in the terminal: a recorder's page lists its channels
(number, state, model, maker, label, status), a camera's page links to its recorder, the site
page groups cameras under their recorders and lists the devices behind none; hostile names stay
text.  The store is built through the product's own import and scan paths (channels as a
recorder reports them; no network)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from phaseout.app import Phaseout
from phaseout.discover.channels import Channel
from phaseout.discover.scanner import HostResult
from phaseout.store import Store
from phaseout.store.schema import devices, sites
from phaseout.store.users import add_user
from phaseout.web.app import create_app
from tests.support import run_cli

from .conftest import PASSWORDS, XSS, login

RECORDER_IP = "127.39.0.1"


@pytest.fixture(scope="module")
def tree_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, int]]]:
    work: Path = tmp_path_factory.mktemp("tree")
    (work / "sites.csv").write_text("Code,Name,Region\nS1,High Street,North\n", encoding="utf-8")
    (work / "devices.csv").write_text(
        "Site,Make,Model,IP,Type\n"
        f"S1,Hikvision,DS-7608NXI-K2,{RECORDER_IP},recorder\n"
        "S1,Axis,AXIS P3265-LV,127.39.0.9,camera\n",
        encoding="utf-8",
    )
    db = str(work / "tree.db")
    channels = [
        Channel(
            1,
            name="garden",
            address="192.168.254.1",
            model="DS-2CD2386G2-IU",
            serial="DS-2CD2386G2-IU2024AAWRK01",
            online=True,
        ),
        Channel(2, name=XSS, address="192.168.254.2", model=XSS, serial="XSSCAMERA0002", online=False),
        Channel(3, analog=True, name="yard", online=True),
    ]
    host = HostResult(RECORDER_IP, ports=[80], channels=channels, channel_kinds={"ip", "analog"})
    with Store.open(db) as store:
        app = Phaseout(store, actor="setup")
        app.import_sites(work / "sites.csv")
        app.import_devices(work / "devices.csv")
        app.use_packs(["us-ndaa-889"])
        app.record_results([host], targets=[RECORDER_IP], ports=(80,), site="S1")
        add_user(store.engine, "vic", "viewer", PASSWORDS["vic"])
        with store.engine.connect() as conn:
            ids = {
                (r.channel or r.ip): r.id for r in conn.execute(select(devices.c.id, devices.c.channel, devices.c.ip))
            }
    yield db, ids


@pytest.fixture
def tree_client(tree_db: tuple[str, dict[str, int]]) -> Iterator[TestClient]:
    with Store.open(tree_db[0]) as store, TestClient(create_app(store.engine), base_url="http://127.0.0.1") as c:
        login(c, "vic")
        yield c


def test_recorder_page_lists_its_channels(tree_client: TestClient, tree_db: tuple[str, dict[str, int]]) -> None:
    ids = tree_db[1]
    page = tree_client.get(f"/devices/{ids[RECORDER_IP]}").text
    assert "Cameras behind this recorder (3)" in page
    table = page.split('class="data channels"', 1)[1].split("</table>", 1)[0]
    rows = table.split("<tr")[2:]
    assert len(rows) == 3
    assert ">ch D1<" in rows[0] and ">online<" in rows[0] and "DS-2CD2386G2-IU" in rows[0] and "hikvision" in rows[0]
    assert "covered" in rows[0] and "192.168.254.1" in rows[0]
    assert ">ch D2<" in rows[1] and ">offline<" in rows[1]
    assert ">ch A3<" in rows[2] and "analogue" in rows[2] and "no address" in rows[2]
    assert XSS not in page and "&lt;script&gt;" in page  # a hostile model stays text


def test_channel_page_links_to_its_recorder(tree_client: TestClient, tree_db: tuple[str, dict[str, int]]) -> None:
    ids = tree_db[1]
    page = tree_client.get(f"/devices/{ids['D1']}").text
    assert 'id="behind-recorder"' in page and f'href="/devices/{ids[RECORDER_IP]}"' in page
    assert "On ch D1 (online) of" in page and "DS-7608NXI-K2 at 127.39.0.1" in page
    assert "Cameras behind this recorder" not in page


def test_site_page_groups_cameras_under_their_recorder(
    tree_client: TestClient, tree_db: tuple[str, dict[str, int]]
) -> None:
    ids = tree_db[1]
    page = tree_client.get("/sites/S1").text
    tree = page.split('id="recorder-tree"', 1)[1].split("</div>", 1)[0]
    assert f'href="/devices/{ids[RECORDER_IP]}"' in tree and tree.count('<tr class="channel-') == 3
    loose = page.split('id="loose-devices"', 1)[1].split("</table>", 1)[0]
    assert f'href="/devices/{ids["127.39.0.9"]}"' in loose and f'href="/devices/{ids["D1"]}"' not in loose
    assert XSS not in page


def test_devices_tree_in_the_terminal(tree_db: tuple[str, dict[str, int]]) -> None:
    db, ids = tree_db
    env = {"PHASEOUT_DB": db, "COLUMNS": "100"}
    shown = run_cli("devices", "--tree", "--site", "S1", env=env)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "site S1: 1 recorder(s), 3 device(s) behind them, 1 behind no recorder" in out
    assert "ch D1" in out and "DS-2CD2386G2-IU" in out and "analogue (no address)" in out
    assert XSS in out  # printed as text, not read as markup
    assert max(len(line) for line in out.splitlines()) <= 100
    lines = [
        json.loads(x)
        for x in run_cli(
            "devices", "--tree", "--recorder", str(ids[RECORDER_IP]), "-f", "jsonl", env=env
        ).stdout.splitlines()
    ]
    assert [c["channel"] for c in lines[0]["recorder"]["children"]] == ["D1", "D2", "A3"]
    flat = run_cli("devices", "--recorder", str(ids[RECORDER_IP]), "-f", "jsonl", env=env).stdout.splitlines()
    assert len(flat) == 3
    refused = run_cli("devices", "--tree", env=env)
    assert refused.returncode == 2 and "--site" in refused.stderr
    assert run_cli("devices", "--tree", "--site", "S1", "-f", "csv", env=env).returncode == 2


def test_demo_site_shows_cameras_under_the_recorders_the_register_names(store: Store, client: TestClient) -> None:
    """The demo's registers name each camera's recorder (no channel known): the site page groups
    them under it, and the camera's page says it is behind that recorder."""
    from phaseout.queries import recorders

    with store.engine.connect() as conn:
        code = conn.execute(select(sites.c.code).order_by(sites.c.code).limit(1)).scalar_one()
        tree = recorders.site_tree(conn, code)
    linked = [r for r in tree["recorders"] if r["children"]]
    assert linked, "the demo links cameras to recorders"
    login(client, "vic")
    page = client.get(f"/sites/{code}").text
    section = page.split('id="recorder-tree"', 1)[1].split("</div>", 1)[0]
    assert f'href="/devices/{linked[0]["id"]}"' in section and "not on a channel" in section
    child = linked[0]["children"][0]["id"]
    assert f'href="/devices/{linked[0]["id"]}"' in client.get(f"/devices/{child}").text
