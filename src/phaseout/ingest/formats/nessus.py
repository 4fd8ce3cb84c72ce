"""Nessus ``.nessus`` v2 reports (``NessusClientData_v2``): one record per ``ReportHost``.

Host properties give the address, MAC(s), DNS/NetBIOS names and the OS guess; each
``ReportItem``'s plugin output is kept as a ``banner`` on its port (Nessus quotes what the
service said: "The remote web server type is : App-webs/"), the HTTP information plugin's
headers become an ``http`` answer, and the CVEs Nessus lists are kept on the record.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

from phaseout.ingest.formats.common import MAX_RAW, http_message, ip_or_none, mac_or_none
from phaseout.ingest.formats.record import RecordError, SourceRecord, clip
from phaseout.ingest.formats.registry import Format, Item
from phaseout.ingest.formats.safe import iter_xml

MAX_ITEMS_KEPT = 300  # answers kept per host (a full audit lists thousands of plugin results)
_SERVER_TYPE = re.compile(r"The remote web server type is\s*:\s*(.+)", re.I)


def sniff(head: str, name: str) -> float:
    if "<NessusClientData_v2" in head:
        return 1.0
    return 0.4 if "<NessusClientData" in head else 0.0


def _http_info(output: str) -> list[tuple[str, str]]:
    """Headers from the 'HyperText Transfer Protocol (HTTP) Information' plugin output."""
    headers = []
    in_headers = False
    for line in output.splitlines():
        text = line.strip()
        if text.lower().startswith("headers"):
            in_headers = True
            continue
        if in_headers:
            name, sep, value = text.partition(":")
            if sep and re.fullmatch(r"[A-Za-z][\w-]*", name):
                headers.append((name, value.strip()))
            elif text.lower().startswith("response body"):
                break
    return headers


def _item(item: Element) -> tuple[list[dict[str, Any]], list[str]]:
    port = int(item.get("port", "0") or 0)
    plugin = item.get("pluginName", "")
    output = (item.findtext("plugin_output") or "").strip()
    cves = [c.text.strip() for c in item.findall("cve") if c.text]
    obs: list[dict[str, Any]] = []
    if output:
        if "HTTP) Information" in plugin and (headers := _http_info(output)):
            obs.append({"kind": "http", "port": port, "raw": http_message("HTTP/1.1 200 OK", headers)})
        elif match := _SERVER_TYPE.search(output):
            server = match.group(1).strip()
            obs.append({"kind": "http", "port": port, "raw": http_message("HTTP/1.1 200 OK", [("Server", server)])})
        else:
            obs.append({"kind": "banner", "port": port, "raw": f"{plugin}: {output}"[:MAX_RAW]})
    return obs, cves


def host_record(host: Element, file: str, number: int) -> SourceRecord | RecordError:
    props = {t.get("name", ""): (t.text or "").strip() for t in host.findall("HostProperties/tag")}
    name = host.get("name", "")
    ip = ip_or_none(props.get("host-ip")) or ip_or_none(name)
    where = f"ReportHost {number} ({name or ip})"
    macs = [m for m in (mac_or_none(v) for v in re.split(r"[\s,]+", props.get("mac-address", ""))) if m]
    hostname = clip(props.get("host-fqdn") or props.get("netbios-name") or (name if ip is None else None))
    if ip is None and not macs and not hostname:
        return RecordError(where, "no host-ip, MAC or name")
    rec = SourceRecord("nessus", file, where, ip=ip, mac=macs[0] if macs else None, hostname=hostname)
    for mac in macs:
        rec.observations.append({"kind": "mac", "value": mac})
    if os_name := clip(props.get("operating-system")):
        rec.extra["os_guess"] = os_name
    if system := clip(props.get("system-type")):
        rec.extra["system_type"] = system
    cves: list[str] = []
    kept = 0
    for item in host.findall("ReportItem"):
        found, item_cves = _item(item)
        cves.extend(c for c in item_cves if c not in cves)
        if kept < MAX_ITEMS_KEPT:
            rec.observations.extend(found)
            kept += len(found)
    rec.cves = cves
    return rec


def read(path: Path) -> Iterator[Item]:
    for number, host in enumerate(iter_xml(path, frozenset({"ReportHost"})), 1):
        yield host_record(host, path.name, number)


FORMAT = Format(
    "nessus",
    "Nessus .nessus v2 report",
    (".nessus", ".xml"),
    sniff,
    read,
    "export the scan from Nessus as 'Nessus' (.nessus) and: phaseout import scan.nessus",
)
