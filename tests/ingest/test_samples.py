"""Every format reads its samples (tests/data/imports/<format>/): the format is recognised
from the content, every record is read without error, and the facts each file holds come out
in the common record, in the shapes identification reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from phaseout.identify import Identifier
from phaseout.ingest.formats.catalogue import FORMATS
from phaseout.ingest.formats.record import ModelFact, RecordError, SourceRecord
from phaseout.ingest.formats.registry import detect

DATA = Path(__file__).resolve().parents[1] / "data" / "imports"
SAMPLES = sorted(p for p in DATA.glob("*/*") if p.name != "SOURCES.md")
#: folders whose samples are read by a format of another name (CSV and JSON variants)
ALSO = {
    "netbox": {"netbox", "netbox-csv"},
    "runzero": {"runzero", "runzero-csv"},
    "nx-witness": {"nx-witness", "nx-witness-json"},
}


def _read(path: Path) -> tuple[str, list[SourceRecord], list[RecordError], list[ModelFact]]:
    fmt = detect(path)
    assert fmt.read is not None
    items = list(fmt.read(path))
    recs = [i for i in items if isinstance(i, SourceRecord)]
    errs = [i for i in items if isinstance(i, RecordError)]
    facts = [i for i in items if isinstance(i, ModelFact)]
    return fmt.name, recs, errs, facts


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sample_is_recognised_and_read_cleanly(path: Path) -> None:
    name, recs, errs, facts = _read(path)
    assert name in ALSO.get(path.parent.name, {path.parent.name})
    assert not errs
    assert recs or facts
    for rec in recs:
        assert rec.position and rec.file == path.name
        for obs in rec.observations:  # every answer is in a shape of the identify interface
            assert obs["kind"] in {"mac", "http", "rtsp", "tls", "banner", "sadp", "dhdiscover", "onvif", "upnp"}
            if obs["kind"] in ("http", "rtsp", "banner", "sadp", "dhdiscover"):
                assert isinstance(obs["raw"], str)


def test_every_format_has_samples_and_sources() -> None:
    folders = {p.parent.name for p in SAMPLES}
    covered = set().union(*(ALSO.get(f, {f}) for f in folders))
    missing = {f.name for f in FORMATS if f.read is not None} - covered
    assert not missing
    for folder in folders:
        assert (DATA / folder / "SOURCES.md").is_file()


def test_stream_urls_never_keep_credentials() -> None:
    """Stream URLs in configs and VMS lists embed user:password (and Reolink's user=/password=
    query); the records keep the URL without them, and no column named like a secret."""
    seen = 0
    for path in SAMPLES:
        _name, recs, _errs, _facts = _read(path)
        for rec in recs:
            assert not any("pass" in key.lower() for key in rec.extra), path
            for obs in rec.observations:
                if url := obs.get("url"):
                    seen += 1
                    assert "@" not in url and "password=password" not in url, (path, url)
    assert seen > 20


def _one(folder: str, name: str) -> list[SourceRecord]:
    return _read(DATA / folder / name)[1]


def test_nmap_host_addresses_vendor_scripts_and_fingerprints() -> None:
    recs = {r.ip: r for r in _one("nmap", "full_sudo6.xml")}
    router = recs["192.168.1.1"]
    assert router.mac == "6C:2E:85:19:AF:00" and router.extra["mac_vendor"] == "Sagemcom"
    kinds = {o["kind"] for o in router.observations}
    assert {"mac", "http", "tls", "banner"} <= kinds
    tls = next(o for o in router.observations if o["kind"] == "tls")
    assert tls["subject"].startswith("CN=")
    # servicefp decoded back into the raw answer the service gave
    assert any(o["kind"] == "http" and o["raw"].startswith("HTTP/1.0 ") for o in router.observations)
    (local,) = _one("nmap", "1_os_banner_scripts.xml")
    assert local.hostname == "localhost"
    http = [o for o in local.observations if o["kind"] == "http"]
    assert any("Server: Apache/2.2.15 (CentOS) PHP/5.3.3" in o["raw"] for o in http)


def test_nessus_and_openvas_hosts_and_cves() -> None:
    (host,) = _one("nessus", "nessus_many_vuln.nessus")
    assert host.ip == "12.233.108.201" and host.hostname == "preprod.boardvantage.net"
    assert host.extra["os_guess"] == "CISCO PIX 7.0"
    (gvm,) = _one("openvas", "report_detail_v2.xml")
    assert gvm.ip == "10.99.99.99" and gvm.hostname == "server99"
    assert "CVE-2025-49659" in gvm.cves
    (anonymised,) = _one("openvas", "many_vuln.xml")
    assert anonymised.ip is None and anonymised.hostname == "192.168.1.1001"  # not an address: kept as a name
    assert "CVE-1999-0618" in anonymised.cves


def test_switch_tables_give_mac_port_and_vlan() -> None:
    cisco = _one("mac-table", "cisco_ios_show_mac-address-table2.txt")
    assert cisco[0].mac == "30:A3:30:A3:A1:C3"
    assert cisco[0].extra == {"switch_port": "Te1/30", "vlan": "666"}
    hp = _one("mac-table", "hp_procurve_show_mac-address.txt")
    assert hp[0].mac == "50:00:00:26:00:00" and hp[0].extra["switch_port"] == "Trk1"
    juniper = _one("mac-table", "juniper_junos_show_ethernet-switching_table.txt")
    assert juniper[0].extra["switch_port"] == "ae3.0"
    arp = _one("arp-table", "cisco_ios_show_ip_arp.txt")
    assert (arp[0].ip, arp[0].mac, arp[0].extra["switch_port"]) == (
        "172.16.233.229",
        "00:00:0C:59:F8:92",
        "Ethernet0/0",
    )
    assert len(_one("arp-table", "juniper_junos_show_arp_no-resolve.txt")) == 9


def test_leases_and_listings() -> None:
    leases = _one("dhcpd-leases", "pyparsing_example_dhcpd.leases")
    assert next((r.ip, r.mac) for r in leases) == ("192.168.0.250", "00:17:F2:9B:D8:19")
    listing = _one("listing", "arp_scan_from_docs.txt")
    hik = next(r for r in listing if r.ip == "192.0.2.64")
    assert hik.manufacturer == "Hangzhou Hikvision Digital Technology Co.,Ltd."


def test_censys_and_shodan() -> None:
    (view,) = _one("censys", "censys_python_view_host.json")
    assert view.ip == "8.8.8.8"
    assert [r.ip for r in _one("censys", "censys_python_search_hosts.json")] == ["1.0.0.0", "1.0.0.1"]
    (dns,) = _one("shodan", "pydantic_shodan_readme_banner.json")
    assert dns.ip == "8.8.8.8" and dns.hostname == "dns.google" and dns.extra["org"] == "Google"
    assert {"kind": "banner", "port": 53, "raw": "Recursion: enabled"} in dns.observations


@pytest.mark.parametrize(
    ("folder", "name", "vendors"),
    [
        ("go2rtc", "isapi_readme.yaml", ["hikvision"]),
        ("frigate", "cameras_doc_example.yml", ["dahua"]),
        ("home-assistant", "configuration_from_docs.yaml", ["hikvision", "dahua"]),
        ("zoneminder", "monitors_from_api_docs.json", ["hikvision", "dahua"]),
        ("sadp", "sadp_export_from_columns.csv", ["hikvision", "hikvision"]),
        ("configtool", "configtool_export_from_docs.csv", ["dahua", "dahua"]),
        ("milestone", "camera_report_from_docs.csv", ["hikvision", "dahua", "axis"]),
    ],
)
def test_identification_sees_the_records_as_answers(folder: str, name: str, vendors: list[str]) -> None:
    identifier = Identifier()
    got = [identifier.identify(r.all_observations()).vendor for r in _one(folder, name)]
    assert got == vendors


def test_cameras_keep_their_recorder_and_asset_ids() -> None:
    milestone = _one("milestone", "camera_report_from_docs.csv")
    assert {r.parent for r in milestone} == {"Store 12 Recording Server"}
    assert all(r.device_type == "camera" and r.asset_id for r in milestone)
    assert "Password" not in milestone[0].extra and "Username" in milestone[0].extra
    netbox = _one("netbox", "devices_from_rest_docs.json")
    assert netbox[0].asset_id == "CCTV-0012-01" and netbox[0].site == "Store 12" and netbox[0].ip == "192.0.2.64"
    go2rtc = _one("go2rtc", "streams_readme_examples.yaml")
    assert {r.parent for r in go2rtc} == {"go2rtc"}


def test_device_type_library_is_model_knowledge() -> None:
    _name, recs, _errs, facts = _read(DATA / "netbox-devicetype" / "DS-2CD2143G2-I.yaml")
    assert not recs
    assert facts[0].manufacturer == "Hikvision" and facts[0].part_number == "DS-2CD2143G2-I"
