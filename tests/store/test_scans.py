"""Scan results in the store: observations kept, hosts merged with imported devices by MAC,
serial, then (site, IP), identification from both, exposure judged on the newest answers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import func, select

from phaseout.app import Phaseout
from phaseout.app.assessment import run_assessment
from phaseout.discover.scanner import HostResult
from phaseout.policy.packs import available_packs
from phaseout.store import Store
from phaseout.store.schema import devices, import_batches, observations

HIK_PAGE = (
    "HTTP/1.1 200 OK\r\nServer: App-webs/\r\nContent-Type: text/html\r\n\r\n"
    "<html><head><title>Web</title></head><body></body></html>"
)
HIK_401 = (
    'HTTP/1.1 401 Unauthorized\r\nServer: App-webs/\r\nWWW-Authenticate: Digest realm="IP Camera(C1234)", '
    'qop="auth", nonce="abc"\r\n\r\n'
)
DAHUA_INFO = (
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
    "deviceType=IPC-HDW2431T-AS-S2\r\nhardwareVersion=1.00\r\nserialNumber=6J0ABCDEF012345\r\n"
)


def _http(raw: str, path: str = "/") -> dict[str, object]:
    return {"kind": "http", "port": 80, "tls": False, "path": path, "raw": raw}


def test_scan_merges_with_imported_devices_and_feeds_assessment(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text(
        "Site,Make,Model,IP,Serial\n"
        "S1,,,127.40.0.1,\n"  # unknown at import; the scan identifies it
        "S2,,,127.40.0.1,\n"  # same address plan in another store: must not be touched
        "S1,Dahua,,127.40.0.9,6J0ABCDEF012345\n",  # found by serial although its address moved
        encoding="utf-8",
    )
    hik = HostResult("127.40.0.1", ports=[80, 554], observations=[_http(HIK_PAGE), _http(HIK_401, "/ISAPI")])
    moved = HostResult("127.40.0.2", ports=[80], observations=[_http(DAHUA_INFO, "/cgi-bin/magicBox.cgi")])
    stranger = HostResult("127.40.0.3", ports=[80], observations=[_http(HIK_PAGE)])
    with Store.open(db_url) as store:
        Phaseout(store).import_devices(tmp_path / "c.csv")
        first = Phaseout(store).record_results([hik, moved, stranger], targets=["127.40.0.0/24"], site="S1")
        assert (first.hosts, first.created, first.updated) == (3, 1, 2)
        with store.engine.connect() as conn:
            ids = {r.ip: r for r in conn.execute(select(devices.c.ip, devices.c.vendor))}
            assert conn.execute(select(func.count()).select_from(devices)).scalar() == 4
            batch = conn.execute(select(import_batches).where(import_batches.c.kind == "scan")).one()
            assert batch.rows_total == 3 and batch.rows_imported == 3
            by_vendor = dict(
                conn.execute(select(devices.c.ip, devices.c.vendor).where(devices.c.serial == "6J0ABCDEF012345")).all()
            )
            assert by_vendor == {"127.40.0.9": "dahua"}  # matched by serial, address kept as imported
            vendors = sorted(
                (ip, v) for ip, v in conn.execute(select(devices.c.ip, devices.c.vendor)) if ip == "127.40.0.1"
            )
            assert vendors == [("127.40.0.1", "hikvision"), ("127.40.0.1", "unknown")]  # S1 identified, S2 untouched
            assert ids["127.40.0.3"].vendor == "hikvision"  # an unlisted device found on the network
            scan_obs = conn.execute(
                select(func.count()).select_from(observations).where(observations.c.kind != "inventory")
            ).scalar()
            assert scan_obs == 4

        again = Phaseout(store).record_results([hik], targets=["127.40.0.1"], site="S1")
        assert (again.created, again.updated) == (0, 1)
        with store.engine.connect() as conn:
            scan_obs = conn.execute(
                select(func.count()).select_from(observations).where(observations.c.kind != "inventory")
            ).scalar()
            assert scan_obs == 4  # the device's earlier answers replaced, not piled up

        siteless = HostResult("127.41.0.1", ports=[80], observations=[_http(HIK_PAGE)])
        assert Phaseout(store).record_results([siteless], targets=["127.41.0.1"]).created == 1

        found = run_assessment(store.engine, [available_packs()["org-template"]], dt.date(2026, 11, 29))
        assert any(a.site == "" and a.vendor == "hikvision" and a.findings for a in found)  # no site: still assessed
        hik_found = [a for a in found if a.vendor == "hikvision"]
        assert any(f["ref"] == "http-without-tls" for a in hik_found for f in a.findings), hik_found[0].findings
