"""Issue 12's faults, each reproduced: one matching rule for imports and scans, the scan with
``--site`` after a scan without, and one device listing for the CLI and the API."""

from __future__ import annotations

from pathlib import Path

import orjson
from sqlalchemy import func, select
from typer.testing import CliRunner

from phaseout.app import Phaseout
from phaseout.cli import app as cli_app
from phaseout.discover.scanner import HostResult
from phaseout.queries import dashboard
from phaseout.queries.devices import DeviceQuery, count_devices
from phaseout.store import Store
from phaseout.store.schema import devices

HIK_INFO = (
    "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n\r\n"
    '<?xml version="1.0" encoding="UTF-8"?><DeviceInfo version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">'
    "<deviceName>IP CAMERA</deviceName><deviceID>1</deviceID><deviceDescription>IPCamera</deviceDescription>"
    "<deviceType>IPCamera</deviceType><model>DS-2CD2143G2-I</model>"
    "<serialNumber>DS-2CD2143G2-I20220101AAWRJ12345678</serialNumber><macAddress>28:57:be:aa:bb:cc</macAddress>"
    "<firmwareVersion>V5.7.3</firmwareVersion></DeviceInfo>"
)


def _hik(ip: str) -> HostResult:
    obs = {"kind": "http", "port": 80, "tls": False, "path": "/ISAPI/System/deviceInfo", "raw": HIK_INFO}
    return HostResult(ip, ports=[80], observations=[obs])


def test_imports_and_scans_share_one_serial_rule(db_url: str, tmp_path: Path) -> None:
    """The sticker's short serial (the last 9 characters) and ISAPI's full serial are one device,
    whether the second sighting is a spreadsheet row or a scan answer."""
    sheet = tmp_path / "c.csv"
    sheet.write_text("Site,Make,Serial\nS1,Hikvision,J12345678\n", encoding="utf-8")
    again = tmp_path / "d.csv"
    again.write_text("Site,Make,Serial\nS1,Hikvision,DS-2CD2143G2-I20220101AAWRJ12345678\n", encoding="utf-8")
    with Store.open(db_url) as store:
        app = Phaseout(store)
        app.import_devices(sheet)
        result, _ = app.import_devices(again)
        assert (result.created, dict(result.merged_by)) == (0, {"serial": 1})
        record = app.record_results([_hik("127.60.0.9")], targets=["127.60.0.9"])  # a new address: matched by serial
        assert (record.created, record.updated) == (0, 1)
        assert count_devices(store.engine) == 1


def test_a_scan_with_site_after_one_without_finds_the_stores_own_devices(db_url: str, tmp_path: Path) -> None:
    """A first scan without --site created a site-less device; the scan with --site must merge
    it into the store's imported camera at that address, not leave two."""
    sheet = tmp_path / "c.csv"
    sheet.write_text("Site,Make,IP\nS1,,127.61.0.1\nS2,,127.61.0.1\n", encoding="utf-8")
    with Store.open(db_url) as store:
        app = Phaseout(store)
        app.import_devices(sheet)
        first = app.record_results([_hik("127.61.0.1")], targets=["127.61.0.1"])  # ambiguous address: new device
        assert first.created == 1
        second = app.record_results([_hik("127.61.0.1")], targets=["127.61.0.1"], site="S1")
        assert (second.created, second.folded) == (0, 1)
        with store.engine.connect() as conn:
            rows = conn.execute(select(devices.c.site_id, devices.c.vendor, devices.c.mac).order_by(devices.c.id)).all()
            assert conn.execute(select(func.count()).select_from(devices)).scalar() == 2
        vendors = sorted(str(r.vendor) for r in rows)
        assert vendors == ["hikvision", "unknown"], rows  # S1's camera identified; S2's untouched


def test_keyless_register_reimported_stores_nothing_twice(db_url: str, tmp_path: Path) -> None:
    """A register with no MAC, serial, IP or asset column (a public camera list) imported twice."""
    sheet = tmp_path / "register.csv"
    sheet.write_text(
        "Site,Location,Type,Make\nS1,Car park north,Dome,Hikvision\nS1,Car park north,Dome,Hikvision\n"
        "S1,Entrance,Bullet,\nS2,Entrance,Bullet,Dahua\n",
        encoding="utf-8",
    )
    with Store.open(db_url) as store:
        app = Phaseout(store)
        first, _ = app.import_devices(sheet)
        assert (first.created, first.keyless) == (4, 4)  # two identical rows stay two cameras
        again, _ = app.import_devices(sheet)
        assert (again.created, dict(again.merged_by)) == (0, {"fingerprint": 4})
        assert count_devices(store.engine) == 4


def test_asset_ids_merge_after_mac_and_serial(db_url: str, tmp_path: Path) -> None:
    one = tmp_path / "a.csv"
    one.write_text("Site,Asset Tag,Model\nS1,CAM-0042,DS-2CD2143G2-I\n", encoding="utf-8")
    two = tmp_path / "b.csv"
    two.write_text("Site,Camera ID,Firmware\nS1,cam-0042,V5.7.3\n", encoding="utf-8")
    with Store.open(db_url) as store:
        app = Phaseout(store)
        app.import_devices(one)
        result, _ = app.import_devices(two)
        assert dict(result.merged_by) == {"asset_id": 1}
        with store.engine.connect() as conn:
            assert conn.execute(select(devices.c.firmware, devices.c.model)).one() == ("V5.7.3", "DS-2CD2143G2-I")


def test_cli_and_api_filter_the_same_rows(db_url: str, tmp_path: Path) -> None:
    """The CLI's --brand read the spreadsheet's brand and the API's brand the identified label:
    on a Lorex unit recorded only by its make, the CLI said 0 and the API 1."""
    sheet = tmp_path / "c.csv"
    sheet.write_text(
        "Site,Make,Model,Type\nS1,Lorex,LNB8005-C,\nS1,Hikvision,DS-7608NI-K2,\nS1,Axis,P3245-LVE,camera\n",
        encoding="utf-8",
    )
    with Store.open(db_url) as store:
        Phaseout(store).import_devices(sheet)
        with store.engine.connect() as conn:
            api_total, _rows = dashboard.list_devices(conn, brand="lorex")
            api_recorders, _ = dashboard.list_devices(conn, device_type="recorder")
        reported = count_devices(store.engine, DeviceQuery(reported_brand="lorex"))
    out = CliRunner().invoke(cli_app, ["--db", db_url, "devices", "--brand", "lorex", "--format", "jsonl"])
    assert out.exit_code == 0, out.output
    cli_rows = [orjson.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    recorders = CliRunner().invoke(cli_app, ["--db", db_url, "devices", "--type", "recorder", "-f", "jsonl"])
    assert api_total == len(cli_rows) == 1 and cli_rows[0]["vendor"] == "dahua", out.output
    assert api_recorders == len([ln for ln in recorders.stdout.splitlines() if ln.startswith("{")]) == 1
    assert reported == 0  # the source wrote no brand: the reported filter says so, by its name


def test_the_installers_short_serial_finds_the_replacement(db_url: str) -> None:
    """Verification names the replacement by the return's serial under the same rule as imports
    and scans: the label's short form finds the device that reported the full serial."""
    import datetime as dt

    from phaseout.app.work import _new_device

    now = dt.datetime.now(dt.UTC)
    with Store.open(db_url) as store, store.engine.begin() as conn:
        for serial in ("OLD000001", "DS-2CD2386G2-IU20240826AAWRJ98765432"):
            conn.execute(devices.insert().values(serial=serial, first_seen=now, last_seen=now))
        found = _new_device(conn, 1, None, "j98765432")
        assert found is not None and found["id"] == 2
        assert _new_device(conn, 1, None, "98765432X") is None  # a different serial ending alike
