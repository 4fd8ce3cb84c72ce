"""Runbooks and work orders name the channel each swap concerns: a recorder's cameras, read from
its channel list, are planned, and the stored plan's runbook (CLI, dashboard, site sheet), the
runbook files and the work order list every recorder the visit touches with its channels.
Installer files stay formula-neutralised although the models come from the device."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from phaseout.app import Phaseout
from phaseout.discover.channels import Channel
from phaseout.discover.scanner import HostResult
from phaseout.store import Store
from phaseout.store.schema import devices
from phaseout.store.work import list_orders
from tests.support import run_cli

TODAY = "2026-11-29"
RECORDER_IP = "127.40.0.1"
FORMULA = '=HYPERLINK("http://evil.example/","x")'


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, int]]:
    work: Path = tmp_path_factory.mktemp("chrun")
    (work / "sites.csv").write_text("Code,Name,Region\nS1,High Street,North\n", encoding="utf-8")
    (work / "devices.csv").write_text(
        f"Site,Make,Model,IP,Type\nS1,Hikvision,DS-7608NXI-K2,{RECORDER_IP},recorder\n", encoding="utf-8"
    )
    db = str(work / "chrun.db")
    channels = [
        Channel(1, address="192.168.254.1", model="DS-2CD2386G2-IU", serial="DS-2CD2386G2-IU2024AAWRK01", online=True),
        Channel(2, address="192.168.254.2", model="AXIS P3265-LV", serial="ACCC8E000002", online=True),
        Channel(3, address="192.168.254.3", model="DS-2CD2046G2-IU", serial="DS-2CD2046G2-IU2024AAWRA03", online=True),
        Channel(4, address="192.168.254.4", model=FORMULA, serial="DS-2CD0000000004", online=False),
    ]
    host = HostResult(RECORDER_IP, ports=[80], channels=channels, channel_kinds={"ip"})
    with Store.open(db) as store:
        app = Phaseout(store, actor="setup")
        app.import_sites(work / "sites.csv")
        app.import_devices(work / "devices.csv")
        app.record_results([host], targets=[RECORDER_IP], ports=(80,), site="S1")
        with store.engine.begin() as conn:  # the recorder reports a Hikvision maker for ch 4
            conn.execute(devices.update().where(devices.c.channel == "D4").values(manufacturer="Hikvision"))
        app.reidentify(only_stale=False)
        app.use_packs(["us-ndaa-889"])
        app.assess(dt.date.fromisoformat(TODAY))
        with store.engine.connect() as conn:
            ids = {r.channel or r.ip: r.id for r in conn.execute(select(devices.c.id, devices.c.channel, devices.c.ip))}
    return db, ids


def test_runbook_and_work_order_name_the_channels(planned: tuple[str, dict[str, int]], tmp_path: Path) -> None:
    db, ids = planned
    env = {"PHASEOUT_DB": db, "COLUMNS": "200"}
    common = ["--today", TODAY, "--start", "2027-01-01", "--budget", "400000", "--crew-hours", "900"]
    made = run_cli("plan", *common, "--runbooks", str(tmp_path / "rb"), env=env)
    assert made.returncode == 0, made.stderr
    files = sorted((tmp_path / "rb").glob("S1*.csv"))
    rows = list(csv.DictReader((tmp_path / "rb" / "S1.csv").open(encoding="utf-8")))
    assert "where" in rows[0]
    first = rows[0]["action"]
    assert first.startswith("before starting, note the recorder's channels: NVR DS-7608NXI-K2 at 127.40.0.1: ch 1")
    assert "ch 2 AXIS P3265-LV," in first  # the compliant camera is listed, not marked for a swap
    swapped = {r["device"]: r["where"] for r in rows if r["device"]}
    assert swapped[str(ids["D1"])] == "ch 1 of NVR DS-7608NXI-K2 at 127.40.0.1"
    assert swapped[str(ids["D3"])] == "ch 3 of NVR DS-7608NXI-K2 at 127.40.0.1"
    assert str(ids["D2"]) not in swapped
    cells = [c for p in files for row in csv.reader(p.open(encoding="utf-8")) for c in row]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert any(FORMULA in c for c in cells)  # there, as text

    shown = run_cli("plan", "--site", "S1", env=env)
    assert shown.returncode == 0 and "ch 1 of NVR DS-7608NXI-K2" in shown.stdout, shown.stdout

    assert run_cli("work", "generate", env=env).returncode == 0
    with Store.open(db) as store:
        with store.engine.connect() as conn:
            order = next(o for o in list_orders(conn, site="S1") if o["devices"])
        runbook = Phaseout(store).site_runbook("S1")
    assert runbook is not None and any(s["where"].startswith("ch 3 of NVR") for s in runbook["runbook"])
    work = run_cli("work", "show", str(order["id"]), env=env)
    assert work.returncode == 0, work.stderr
    assert "NVR DS-7608NXI-K2 at 127.40.0.1: ch 1 DS-2CD2386G2-IU (covered, in this order)" in work.stdout
    assert "ch 1 of NVR" in work.stdout

    report = tmp_path / "site.xlsx"
    assert run_cli("report", "site", "--site", "S1", "-f", "xlsx", "-o", str(report), env=env).returncode == 0
    import openpyxl

    book = openpyxl.load_workbook(report)
    texts = [str(c.value) for sheet in book.worksheets for row in sheet.iter_rows() for c in row if c.value]
    assert any(t.startswith("ch 1 of NVR") for t in texts)
    assert all(c.data_type != "f" for sheet in book.worksheets for row in sheet.iter_rows() for c in row)
