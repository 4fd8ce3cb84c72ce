"""OpenVAS / Greenbone (GVM) XML reports: one record per scanned host.

A report lists results (each with its host, port, NVT and the description the test wrote,
which quotes banners and versions) and then one ``host`` block per host with its details
(MAC, hostname, OS CPE).  Results of one host are gathered as the file streams by; memory
grows with the number of hosts, never with the number of results (at most
``MAX_RESULTS_KEPT`` answers are kept per host).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import Element

from phaseout.ingest.formats.common import ip_or_none, mac_or_none
from phaseout.ingest.formats.record import SourceRecord, clip
from phaseout.ingest.formats.registry import Format, Item
from phaseout.ingest.formats.safe import iter_xml

MAX_RESULTS_KEPT = 300
MAX_HOSTS = 1_000_000
_CVE = re.compile(r"CVE-\d{4}-\d{4,}")


def sniff(head: str, name: str) -> float:
    if "<report" in head and ("<nvt oid=" in head or "format_id=" in head or "<gmp>" in head or "<omp>" in head):
        return 0.95
    if "<get_reports_response" in head:
        return 0.95
    return 0.0


def _host_key(result: Element) -> str:
    host = result.find("host")
    return (host.text or "").strip() if host is not None else ""


class _Hosts:
    def __init__(self, file: str) -> None:
        self.file = file
        self.records: dict[str, SourceRecord] = {}

    def get(self, key: str) -> SourceRecord:
        rec = self.records.get(key)
        if rec is None:
            if len(self.records) >= MAX_HOSTS:
                raise ValueError(f"more than {MAX_HOSTS:,} hosts")
            ip = ip_or_none(key)
            rec = SourceRecord("openvas", self.file, f"host {len(self.records) + 1} ({key})", ip=ip)
            if ip is None:
                rec.hostname = clip(key)
            self.records[key] = rec
        return rec


def _add_result(hosts: _Hosts, result: Element) -> None:
    key = _host_key(result)
    if not key:
        return
    rec = hosts.get(key)
    hostname = result.findtext("host/hostname")
    if hostname and not rec.hostname:
        rec.hostname = clip(hostname)
    port_text = (result.findtext("port") or "").split("/")[0]
    port = int(port_text) if port_text.isdigit() else None
    name = result.findtext("nvt/name") or result.findtext("name") or ""
    description = (result.findtext("description") or "").strip()
    for ref in result.iter("ref"):
        if ref.get("type") == "cve" and (cve := ref.get("id")) and cve not in rec.cves:
            rec.cves.append(cve)
    for cve in _CVE.findall(result.findtext("nvt/cve") or ""):
        if cve not in rec.cves:
            rec.cves.append(cve)
    if description and len(rec.observations) < MAX_RESULTS_KEPT:
        obs: dict[str, object] = {"kind": "banner", "raw": f"{name.strip()}: {description}"[:16384]}
        if port is not None:
            obs["port"] = port
        rec.observations.append(obs)


def _add_host(hosts: _Hosts, host: Element) -> None:
    key = (host.findtext("ip") or "").strip()
    if not key:
        return
    rec = hosts.get(key)
    for detail in host.findall("detail"):
        name = (detail.findtext("name") or "").strip()
        value = (detail.findtext("value") or "").strip()
        if name == "MAC" and (mac := mac_or_none(value)):
            rec.mac = rec.mac or mac
            rec.observations.append({"kind": "mac", "value": mac})
        elif name == "hostname" and value and not rec.hostname:
            rec.hostname = clip(value)
        elif name == "best_os_cpe" and value:
            rec.extra["os_cpe"] = clip(value) or ""
        elif name == "best_os_txt" and value:
            rec.extra["os_guess"] = clip(value) or ""
    asset = host.find("asset")
    if asset is not None and asset.get("asset_id"):
        rec.extra["openvas_asset"] = asset.get("asset_id", "")


def read(path: Path) -> Iterator[Item]:
    hosts = _Hosts(path.name)
    for elem in iter_xml(path, frozenset({"result", "host"})):
        if elem.tag.rsplit("}", 1)[-1] == "result":
            _add_result(hosts, elem)
        elif elem.find("ip") is not None:
            _add_host(hosts, elem)
    yield from hosts.records.values()


FORMAT = Format(
    "openvas",
    "OpenVAS / Greenbone (GVM) XML report",
    (".xml",),
    sniff,
    read,
    "download the report from Greenbone in the XML format and: phaseout import report.xml",
)
