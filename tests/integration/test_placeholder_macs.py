"""A MAC that cannot name one device (all zeros, broadcast or any group address) is kept as
written but never merges devices: registers write 00:00:00:00:00:00 for "unknown", and firmware
that has not read its MAC answers zeros or FF:FF:FF:FF:FF:FF.  Found by helper evidence9: two
real answers whose only identity was the broadcast MAC were merged into one device."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from phaseout.app import Phaseout
from phaseout.app.scans import scanned_host
from phaseout.discover.scanner import HostResult
from phaseout.normalize import mac_key
from phaseout.store.schema import devices
from phaseout.store.store import Store


@pytest.mark.parametrize(
    ("mac", "key"),
    [
        ("00:00:00:00:00:00", None),
        ("FF:FF:FF:FF:FF:FF", None),
        ("01:00:5E:00:00:FB", None),  # IPv4 multicast
        ("33:33:00:00:00:01", None),  # IPv6 multicast
        ("28:57:BE:12:34:56", "28:57:BE:12:34:56"),
        ("02:00:00:00:00:01", "02:00:00:00:00:01"),  # locally administered, still one interface
        (None, None),
        ("", None),
    ],
)
def test_mac_key(mac: str | None, key: str | None) -> None:
    assert mac_key(mac) == key


def _devices(db: Path) -> list[tuple[str | None, str | None, str | None]]:
    with Store.open(str(db)) as store, store.engine.connect() as conn:
        rows = conn.execute(select(devices.c.ip, devices.c.mac, devices.c.model).order_by(devices.c.id))
        return [(r.ip, r.mac, r.model) for r in rows]


def test_an_import_keeps_every_row_with_a_placeholder_mac(tmp_path: Path) -> None:
    csv = tmp_path / "register.csv"
    csv.write_text(
        "Site,IP,Manufacturer,Model,MAC\n"
        "S1,127.0.0.7,Axis,P3225,00:00:00:00:00:00\n"
        "S1,127.0.0.8,Axis,M3045,00:00:00:00:00:00\n"
        "S2,127.0.0.9,Bosch,FLEXIDOME,FF:FF:FF:FF:FF:FF\n"
        "S3,127.0.0.10,Bosch,AUTODOME,ff-ff-ff-ff-ff-ff\n",
        encoding="utf-8",
    )
    db = tmp_path / "p.db"
    with Store.open(str(db)) as store:
        app = Phaseout(store, actor="test")
        app.import_devices(csv)
        app.import_devices(csv)  # again: merged by address, nothing twice
    rows = _devices(db)
    assert [ip for ip, _mac, _model in rows] == ["127.0.0.7", "127.0.0.8", "127.0.0.9", "127.0.0.10"]
    assert rows[0][1] == "00:00:00:00:00:00"  # kept as written


def _isapi(mac: str, model: str, serial: str) -> dict[str, object]:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<DeviceInfo version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">'
        f"<model>{model}</model><serialNumber>{serial}</serialNumber><macAddress>{mac}</macAddress></DeviceInfo>"
    )
    return {
        "kind": "http",
        "port": 80,
        "path": "/ISAPI/System/deviceInfo",
        "raw": f"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n\r\n{body}",
    }


def test_a_scan_does_not_merge_hosts_that_answer_a_placeholder_mac(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    hosts = [
        HostResult(
            "127.0.0.21", ports=[80], observations=[_isapi("ff:ff:ff:ff:ff:ff", "DS-2CD2143G2-I", "AAA11111111")]
        ),
        HostResult(
            "127.0.0.22", ports=[80], observations=[_isapi("ff:ff:ff:ff:ff:ff", "DS-2CD2386G2-IU", "BBB22222222")]
        ),
        HostResult(
            "127.0.0.23", ports=[80], observations=[_isapi("00:00:00:00:00:00", "DS-2CD2047G2-L", "CCC33333333")]
        ),
    ]
    with Store.open(str(db)) as store:
        app = Phaseout(store, actor="test")
        app.record_results(hosts, targets=[h.ip for h in hosts], ports=(80,), site="S1")
        # the first camera, now answering with its real MAC, is found by its serial: no contradiction
        again = [
            HostResult(
                "127.0.0.21", ports=[80], observations=[_isapi("28:57:be:12:34:56", "DS-2CD2143G2-I", "AAA11111111")]
            )
        ]
        app.record_results(again, targets=["127.0.0.21"], ports=(80,), site="S1")
    rows = _devices(db)
    assert len(rows) == 3
    assert rows[0][1] == "28:57:BE:12:34:56"  # the real MAC replaces the placeholder
    assert rows[1][1] == "FF:FF:FF:FF:FF:FF"  # kept as the device said it


def test_the_host_mac_is_the_first_that_can_name_a_device() -> None:
    host = HostResult(
        "127.0.0.30",
        ports=[80],
        observations=[
            _isapi("00:00:00:00:00:00", "DS-2CD2143G2-I", "DDD44444444"),
            _isapi("28:57:be:00:00:01", "DS-2CD2143G2-I", "DDD44444444"),
        ],
    )
    assert scanned_host(host, finished=True).mac == "28:57:BE:00:00:01"
