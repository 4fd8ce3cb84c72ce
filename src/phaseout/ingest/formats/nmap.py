"""nmap XML (``-oX``): every host that is up, with what nmap learnt about it.

Per host: IPv4/IPv6 and MAC addresses (with nmap's MAC vendor), host names, and for each open
port the service (name, product, version, extrainfo, devicetype), the service fingerprint
(``servicefp``: the raw bytes the service sent, decoded back into an HTTP, RTSP or banner
answer) and NSE script output.  ``http-headers`` / ``http-server-header`` / ``http-title``
become an ``http`` answer, ``rtsp-methods`` an ``rtsp`` answer, ``ssl-cert`` a ``tls``
subject/issuer, everything else a ``banner``: identification then sees them as it sees the
scanner's own answers.  Elements are streamed (one host in memory) through ``safe.iter_xml``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

from phaseout.ingest.formats.common import MAX_RAW, http_message, ip_or_none, mac_or_none
from phaseout.ingest.formats.record import RecordError, SourceRecord, clip
from phaseout.ingest.formats.registry import Format, Item
from phaseout.ingest.formats.safe import iter_xml

HTTP_NAMES = frozenset({"http", "https", "http-alt", "http-proxy", "https-alt", "http-mgmt", "ssl/http"})
HTTP_PROBES = frozenset({"GetRequest", "HTTPOptions", "FourOhFourRequest", "RTSPRequest"})
_SF_RESPONSE = re.compile(r'r\(([A-Za-z0-9_]+),[0-9A-Fa-f]+,"((?:[^"\\]|\\.)*)"\)')
_ESCAPES = {"r": "\r", "n": "\n", "t": "\t", "0": "\0", "\\": "\\", '"': '"'}
_CERT_NAMES = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "stateOrProvinceName": "ST",
    "localityName": "L",
    "emailAddress": "emailAddress",
}


def sniff(head: str, name: str) -> float:
    if "<nmaprun" in head:
        return 1.0
    return 0.3 if name.endswith(".xml") and "nmap" in head.lower() else 0.0


@lru_cache(maxsize=4096)  # a scan of one estate repeats a few hundred distinct answers
def decode_fingerprint(fp: str) -> tuple[tuple[str, str], ...]:
    """nmap's ``servicefp`` -> [(probe name, the response text it got)], escapes undone."""
    joined = "".join(line[3:] if line.startswith("SF:") else line for line in fp.splitlines())
    out = []
    for probe, body in _SF_RESPONSE.findall(joined):
        text = re.sub(
            r"\\x([0-9A-Fa-f]{2})|\\(.)",
            lambda m: chr(int(m.group(1), 16)) if m.group(1) else _ESCAPES.get(m.group(2), m.group(2)),
            body,
        )
        out.append((probe, text[:MAX_RAW]))
    return tuple(out)


@lru_cache(maxsize=4096)
def _headers_from_script(output: str) -> tuple[tuple[str, str], ...]:
    out = []
    for line in output.splitlines():
        line = line.strip()
        if not line or line.startswith("(Request type"):
            continue
        name, sep, value = line.partition(":")
        if sep and re.fullmatch(r"[A-Za-z][\w-]*", name.strip()):
            out.append((name.strip(), value.strip()))
    return tuple(out)


@lru_cache(maxsize=4096)
def _cert_line(output: str, label: str) -> str | None:
    for line in output.splitlines():
        if line.strip().startswith(label + ":"):
            parts = line.split(":", 1)[1].strip().split("/")
            named = []
            for part in parts:
                key, sep, value = part.partition("=")
                if sep:
                    named.append(f"{_CERT_NAMES.get(key.strip(), key.strip())}={value.strip()}")
            return ", ".join(named) if named else None
    return None


_PORT_CACHE: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
PORT_CACHE_LIMIT = 20_000


def _port(port: Element) -> list[dict[str, Any]]:
    """A port's answers.  Cameras of one model answer alike on every host, so the answers are
    computed once per distinct (port, service, scripts) and shared (they are never mutated)."""
    state = port.find("state")
    if state is None or state.get("state") not in ("open", "open|filtered"):
        return []
    service = port.find("service")
    svc = dict(service.attrib) if service is not None else {}
    script_items = tuple((s.get("id", ""), s.get("output", "")) for s in port.iter("script"))
    key = (port.get("portid"), tuple(svc.items()), script_items)
    hit = _PORT_CACHE.get(key)
    if hit is None:
        hit = _port_answers(port.get("portid", "0"), svc, dict(script_items))
        if len(_PORT_CACHE) >= PORT_CACHE_LIMIT:
            _PORT_CACHE.clear()
        _PORT_CACHE[key] = hit
    return hit


def _port_answers(portid: str, svc: dict[str, str], scripts: dict[str, str]) -> list[dict[str, Any]]:
    number = int(portid or 0) if portid.isdigit() else 0
    tls = svc.get("tunnel") == "ssl" or svc.get("name", "") in ("https", "ssl/http", "https-alt")
    obs: list[dict[str, Any]] = []
    if svc.get("product") or svc.get("devicetype") or svc.get("extrainfo"):
        words = [
            f"{k}={svc[k]}" for k in ("name", "product", "version", "extrainfo", "devicetype", "ostype") if svc.get(k)
        ]
        obs.append({"kind": "banner", "port": number, "raw": "nmap service: " + " ".join(words)})
    name = svc.get("name", "")
    http_parts: tuple[tuple[str, str], ...] = ()
    if "http-headers" in scripts:
        http_parts = _headers_from_script(scripts["http-headers"])
    elif "http-server-header" in scripts:
        http_parts = (("Server", scripts["http-server-header"].strip()),)
    title = scripts.get("http-title", "").strip()
    if http_parts or title:
        body = (
            f"<html><head><title>{title}</title></head></html>"
            if title and "Site doesn't have a title" not in title
            else ""
        )
        obs.append(
            {"kind": "http", "port": number, "tls": tls, "raw": http_message("HTTP/1.1 200 OK", http_parts, body)}
        )
    if "rtsp-methods" in scripts:
        methods = scripts["rtsp-methods"].strip()
        headers = [("Public", methods)]
        if svc.get("product"):
            headers.append(("Server", svc["product"]))
        obs.append({"kind": "rtsp", "port": number, "raw": http_message("RTSP/1.0 200 OK", headers)})
    if "ssl-cert" in scripts:
        subject = _cert_line(scripts["ssl-cert"], "Subject")
        issuer = _cert_line(scripts["ssl-cert"], "Issuer")
        if subject or issuer:
            obs.append({"kind": "tls", "port": number, "subject": subject or "", "issuer": issuer or ""})
    fp = svc.get("servicefp")
    if fp:
        for probe, text in decode_fingerprint(fp):
            if text.startswith("RTSP/"):
                obs.append({"kind": "rtsp", "port": number, "raw": text})
            elif text.startswith("HTTP/") and probe in HTTP_PROBES:
                obs.append({"kind": "http", "port": number, "tls": tls, "raw": text})
            elif text.strip():
                obs.append({"kind": "banner", "port": number, "raw": text})
    for sid, output in scripts.items():
        if (
            sid in ("http-headers", "http-server-header", "http-title", "rtsp-methods", "ssl-cert")
            or not output.strip()
        ):
            continue
        obs.append({"kind": "banner", "port": number, "raw": f"{sid}: {output.strip()}"[:MAX_RAW]})
    if not obs and name in HTTP_NAMES | {"rtsp"}:
        obs.append({"kind": "banner", "port": number, "raw": f"nmap service: name={name}"})
    return obs


def host_record(host: Element, file: str, number: int) -> SourceRecord | RecordError | None:
    """One ``<host>``: a record, None when the host is down, an error when it has no address."""
    status = host.find("status")
    if status is not None and status.get("state") == "down":
        return None
    ip = mac = vendor = None
    for addr in host.findall("address"):
        kind = addr.get("addrtype")
        if kind in ("ipv4", "ipv6") and ip is None:
            ip = ip_or_none(addr.get("addr"))
        elif kind == "mac":
            mac = mac_or_none(addr.get("addr"))
            vendor = clip(addr.get("vendor"))
    where = f"host {number}" + (f" ({ip})" if ip else "")
    if ip is None and mac is None:
        return RecordError(where, "no IP or MAC address")
    rec = SourceRecord("nmap", file, where, ip=ip, mac=mac)
    names = [h.get("name", "") for h in host.iter("hostname") if h.get("name")]
    rec.hostname = clip(names[0]) if names else None
    if vendor:
        rec.extra["mac_vendor"] = vendor
    if mac:
        rec.observations.append({"kind": "mac", "value": mac})
    os_match = host.find("os/osmatch")
    if os_match is not None and os_match.get("name"):
        rec.extra["os_guess"] = clip(os_match.get("name")) or ""
    for port in host.iter("port"):
        rec.observations.extend(_port(port))
    for script in host.findall("hostscript/script"):
        if script.get("output"):
            rec.observations.append({"kind": "banner", "raw": f"{script.get('id')}: {script.get('output')}"[:MAX_RAW]})
    for svc in host.iter("service"):
        if svc.get("devicetype") and not rec.device_type:
            rec.extra["nmap_devicetype"] = svc.get("devicetype", "")
    return rec


def read(path: Path) -> Iterator[Item]:
    for number, host in enumerate(iter_xml(path, frozenset({"host"})), 1):
        item = host_record(host, path.name, number)
        if item is not None:
            yield item


FORMAT = Format(
    "nmap",
    "nmap XML output (-oX)",
    (".xml",),
    sniff,
    read,
    "nmap -sV --script http-headers,http-title,rtsp-methods,ssl-cert -oX scan.xml 10.1.0.0/24",
)
