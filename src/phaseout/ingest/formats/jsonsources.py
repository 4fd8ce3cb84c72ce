"""JSON exports: runZero assets (JSON Lines or JSON), Shodan banners (the JSON Lines of
``shodan download`` or a host lookup), Censys hosts, NetBox's REST device list, Nx Witness's
REST device list and ZoneMinder's monitor list.

Services become the answers identification reads: Shodan's ``data`` is the raw banner the
service sent (an HTTP or RTSP response for those ports), its ``ssl.cert`` the certificate
subject/issuer; Censys gives HTTP headers and TLS distinguished names.  Records of one host
spread over many lines (Shodan: one banner per line) are gathered by IP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from phaseout.errors import InputFileError
from phaseout.ingest.formats.common import (
    MAX_RAW,
    http_message,
    ip_or_none,
    mac_or_none,
    stream_observation,
    url_host,
)
from phaseout.ingest.formats.record import RecordError, SourceRecord, clip
from phaseout.ingest.formats.registry import Format, Item
from phaseout.ingest.formats.safe import iter_json

MAX_HOSTS = 1_000_000
MAX_ANSWERS = 200


def _records(path: Path) -> Iterator[tuple[str, Any]]:
    """(position, object) for every record, whether the file is JSON Lines, one array, or an
    object wrapping the list (``results``, ``result.hits``, ``monitors``, ``matches``)."""
    for position, value in iter_json(path):
        if isinstance(value, InputFileError):
            yield position, value
            continue
        items: Any = value
        if isinstance(value, dict):
            for key in ("results", "matches", "monitors", "data", "hits", "devices"):
                if isinstance(value.get(key), list):
                    items = value[key]
                    break
            else:
                result = value.get("result")
                if isinstance(result, dict) and isinstance(result.get("hits"), list):
                    items = result["hits"]
                elif isinstance(result, dict) and result.get("ip"):
                    items = [result]
        if isinstance(items, list):
            for i, item in enumerate(items, 1):
                yield (f"{position} item {i}" if position != "document" else f"item {i}"), item
        else:
            yield position, items


def _dict(obj: dict[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def _str(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value not in (None, "") else []


def _first_text(value: Any) -> str | None:
    for v in _list(value):
        if (text := clip(v)) is not None:
            return text
    return None


# ---------------------------------------------------------------- runZero


def runzero_record(obj: dict[str, Any], file: str, where: str) -> SourceRecord:
    addresses = [a for a in (ip_or_none(v) for v in _list(obj.get("addresses"))) if a]
    macs = [m for m in (mac_or_none(v) for v in _list(obj.get("macs"))) if m]
    rec = SourceRecord("runzero", file, where, ip=addresses[0] if addresses else None)
    rec.mac = mac_or_none(obj.get("newest_mac")) or (macs[0] if macs else None)
    rec.hostname = _first_text(obj.get("names"))
    rec.model = clip(obj.get("hw"))
    rec.manufacturer = clip(obj.get("hw_vendor"))
    rec.device_type = clip(obj.get("type"))
    rec.site = clip(obj.get("site_name"))
    rec.asset_id = clip(obj.get("id"))
    rec.description = clip(obj.get("comments"))
    for key in ("os", "os_version", "os_vendor"):
        if value := clip(obj.get(key)):
            rec.extra[key] = value
    if vendors := [v for v in _list(obj.get("mac_vendors")) if isinstance(v, str)]:
        rec.extra["mac_vendor"] = vendors[0][:128]
    for mac in macs[:8]:
        rec.observations.append({"kind": "mac", "value": mac})
    services = obj.get("services")
    if isinstance(services, dict):
        for key, attrs in list(services.items())[:MAX_ANSWERS]:
            if isinstance(attrs, dict):
                rec.observations.extend(_runzero_service(str(key), attrs))
    return rec


def _runzero_service(key: str, attrs: dict[str, Any]) -> list[dict[str, Any]]:
    """One runZero service (``10.0.0.5/tcp/80`` -> attributes such as ``http.head.server``)."""
    port_text = key.rsplit("/", 1)[-1]
    port = int(port_text) if port_text.isdigit() else None
    out: list[dict[str, Any]] = []
    headers = [(k[10:].title(), str(v)) for k, v in attrs.items() if k.startswith("http.head.") and isinstance(v, str)]
    title = attrs.get("http.title")
    if headers or isinstance(title, str):
        body = f"<title>{title}</title>" if isinstance(title, str) else ""
        out.append({"kind": "http", "port": port, "raw": http_message("HTTP/1.1 200 OK", headers, body)})
    subject, issuer = attrs.get("tls.subject"), attrs.get("tls.issuer")
    if isinstance(subject, str) or isinstance(issuer, str):
        out.append({"kind": "tls", "port": port, "subject": str(subject or ""), "issuer": str(issuer or "")})
    banner = attrs.get("banner")
    if isinstance(banner, str) and banner.strip():
        out.append({"kind": "banner", "port": port, "raw": banner[:MAX_RAW]})
    return out


# ---------------------------------------------------------------- Shodan


def _shodan_banner(obj: dict[str, Any]) -> list[dict[str, Any]]:
    port = obj.get("port") if isinstance(obj.get("port"), int) else None
    data = _str(obj, "data")
    out: list[dict[str, Any]] = []
    ssl = _dict(obj, "ssl")
    if data.startswith("HTTP/"):
        http = _dict(obj, "http")
        body = _str(http, "html")
        out.append({"kind": "http", "port": port, "tls": bool(ssl), "raw": (data + body)[:MAX_RAW]})
    elif data.startswith("RTSP/"):
        out.append({"kind": "rtsp", "port": port, "raw": data[:MAX_RAW]})
    elif data.strip():
        out.append({"kind": "banner", "port": port, "raw": data[:MAX_RAW]})
    cert = _dict(ssl, "cert")
    if cert:
        out.append(
            {"kind": "tls", "port": port, "subject": _dn(cert.get("subject")), "issuer": _dn(cert.get("issuer"))}
        )
    product = " ".join(str(obj[k]) for k in ("product", "version", "devicetype") if isinstance(obj.get(k), str))
    if product:
        out.append({"kind": "banner", "port": port, "raw": f"shodan product: {product}"})
    return out


def _dn(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items() if isinstance(v, str))
    return str(value or "")


# ---------------------------------------------------------------- Censys


def _censys_service(svc: dict[str, Any]) -> list[dict[str, Any]]:
    port = svc.get("port") if isinstance(svc.get("port"), int) else None
    out: list[dict[str, Any]] = []
    http = _dict(svc, "http")
    response = _dict(http, "response")
    if response:
        headers: list[tuple[str, str]] = []
        for name, value in (response.get("headers") or {}).items():
            values = value.get("headers") if isinstance(value, dict) else value
            for v in _list(values):
                if isinstance(v, str):
                    headers.append((str(name).replace("_", "-"), v))
        status = response.get("status_code")
        body = _str(response, "body")
        if not body and isinstance(response.get("html_title"), str):
            body = f"<title>{response['html_title']}</title>"
        tls = isinstance(svc.get("tls"), dict)
        out.append(
            {"kind": "http", "port": port, "tls": tls, "raw": http_message(f"HTTP/1.1 {status or 200}", headers, body)}
        )
    tls_block = _dict(svc, "tls")
    leaf = ((tls_block.get("certificates") or {}).get("leaf_data") or {}) if tls_block else {}
    if isinstance(leaf, dict) and (leaf.get("subject_dn") or leaf.get("issuer_dn")):
        out.append(
            {
                "kind": "tls",
                "port": port,
                "subject": str(leaf.get("subject_dn", "")),
                "issuer": str(leaf.get("issuer_dn", "")),
            }
        )
    banner = svc.get("banner")
    if isinstance(banner, str) and banner.strip() and not response:
        kind = "rtsp" if banner.startswith("RTSP/") else "banner"
        out.append({"kind": kind, "port": port, "raw": banner[:MAX_RAW]})
    for sw in _list(svc.get("software"))[:10]:
        if isinstance(sw, dict):
            words = " ".join(str(sw[k]) for k in ("vendor", "product", "version") if isinstance(sw.get(k), str))
            if words:
                out.append({"kind": "banner", "port": port, "raw": f"censys software: {words}"})
    return out


# ---------------------------------------------------------------- by-IP gathering


class _ByHost:
    def __init__(self, fmt: str, file: str) -> None:
        self.fmt, self.file = fmt, file
        self.records: dict[str, SourceRecord] = {}

    def get(self, ip: str, where: str) -> SourceRecord:
        rec = self.records.get(ip)
        if rec is None:
            if len(self.records) >= MAX_HOSTS:
                raise InputFileError(f"{self.file}: more than {MAX_HOSTS:,} hosts")
            rec = self.records[ip] = SourceRecord(self.fmt, self.file, f"{where} ({ip})", ip=ip)
        return rec


def _host_names(rec: SourceRecord, names: Any) -> None:
    if rec.hostname is None:
        rec.hostname = _first_text(names)


def read_shodan(path: Path) -> Iterator[Item]:
    hosts = _ByHost("shodan", path.name)
    for where, obj in _records(path):
        if not isinstance(obj, dict):
            yield RecordError(where, str(obj) if isinstance(obj, Exception) else "not a JSON object")
            continue
        banners = obj["data"] if isinstance(obj.get("data"), list) else [obj]
        ip = ip_or_none(obj.get("ip_str"))
        if ip is None:
            yield RecordError(where, "no ip_str")
            continue
        rec = hosts.get(ip, where)
        _host_names(rec, obj.get("hostnames"))
        for key in ("org", "isp", "os"):
            if (value := clip(obj.get(key))) and key not in rec.extra:
                rec.extra[key] = value
        for cve in (obj.get("vulns") or {}) if isinstance(obj.get("vulns"), (dict, list)) else []:
            if isinstance(cve, str) and cve not in rec.cves:
                rec.cves.append(cve)
        for banner in banners:
            if isinstance(banner, dict) and len(rec.observations) < MAX_ANSWERS:
                rec.observations.extend(_shodan_banner(banner))
    yield from hosts.records.values()


def read_censys(path: Path) -> Iterator[Item]:
    for where, obj in _records(path):
        if not isinstance(obj, dict):
            yield RecordError(where, str(obj) if isinstance(obj, Exception) else "not a JSON object")
            continue
        host: dict[str, Any] = _dict(obj, "host") or obj  # the platform API wraps the host
        ip = ip_or_none(host.get("ip"))
        if ip is None:
            yield RecordError(where, "no ip")
            continue
        rec = SourceRecord("censys", path.name, f"{where} ({ip})", ip=ip)
        dns = _dict(host, "dns")
        _host_names(rec, dns.get("names") or dns.get("reverse_dns", {}).get("names") if dns else None)
        system = _dict(host, "operating_system")
        if product := clip(" ".join(str(system.get(k, "")) for k in ("vendor", "product"))):
            rec.extra["os_guess"] = product
        for svc in _list(host.get("services"))[:MAX_ANSWERS]:
            if isinstance(svc, dict):
                rec.observations.extend(_censys_service(svc))
        yield rec


def read_runzero(path: Path) -> Iterator[Item]:
    for where, obj in _records(path):
        if not isinstance(obj, dict):
            yield RecordError(where, str(obj) if isinstance(obj, Exception) else "not a JSON object")
            continue
        if obj.get("type") in ("config", "result", "status") and "ts" in obj:
            yield RecordError(where, "runZero raw scan data, not an asset export: export the inventory instead")
            return
        rec = runzero_record(obj, path.name, where)
        yield rec if rec.has_identity() else RecordError(where, "no address, MAC or name")


# ---------------------------------------------------------------- NetBox, Nx Witness, ZoneMinder


def _name(value: Any) -> str | None:
    if isinstance(value, dict):
        return clip(value.get("name") or value.get("display") or value.get("model") or value.get("slug"))
    return clip(value)


def read_netbox(path: Path) -> Iterator[Item]:
    for where, obj in _records(path):
        if not isinstance(obj, dict):
            yield RecordError(where, str(obj) if isinstance(obj, Exception) else "not a JSON object")
            continue
        dtype = _dict(obj, "device_type")
        rec = SourceRecord("netbox", path.name, f"{where} (id {obj.get('id')})")
        rec.description = clip(obj.get("name"))
        rec.site = _name(obj.get("site"))
        rec.manufacturer = _name(dtype.get("manufacturer"))
        rec.model = clip(dtype.get("model"))
        rec.device_type = _name(obj.get("role") or obj.get("device_role"))
        rec.serial = clip(obj.get("serial"))
        rec.asset_id = clip(obj.get("asset_tag"))
        primary = obj.get("primary_ip4") or obj.get("primary_ip")
        if isinstance(primary, dict):
            rec.ip = ip_or_none(str(primary.get("address", "")).split("/")[0])
        rec.parent = _name(obj.get("parent_device"))
        if platform := _name(obj.get("platform")):
            rec.extra["platform"] = platform
        rec.extra["netbox_id"] = str(obj.get("id", ""))
        yield rec if (rec.has_identity() or rec.description) else RecordError(where, "no name, address or model")


def read_nx(path: Path) -> Iterator[Item]:
    for where, obj in _records(path):
        if not isinstance(obj, dict):
            yield RecordError(where, str(obj) if isinstance(obj, Exception) else "not a JSON object")
            continue
        url = _str(obj, "url")
        rec = SourceRecord("nx-witness", path.name, f"{where} ({clip(obj.get('name')) or obj.get('id')})")
        rec.description = clip(obj.get("name"))
        rec.manufacturer = clip(obj.get("vendor"))
        rec.model = clip(obj.get("model"))
        rec.mac = mac_or_none(obj.get("mac")) or mac_or_none(obj.get("physicalId"))
        host = url_host(url) if url else None
        rec.ip = ip_or_none(host) or ip_or_none(url)
        rec.parent = clip(obj.get("serverId") or obj.get("parentId"))
        rec.asset_id = clip(obj.get("logicalId")) or None
        rec.firmware = clip(obj.get("firmware") or (obj.get("parameters") or {}).get("firmware"))
        rec.device_type = clip(obj.get("deviceType")) or "camera"
        if rec.mac:
            rec.observations.append({"kind": "mac", "value": rec.mac})
        if "://" in url:
            rec.observations.append(stream_observation(url))
        yield rec if rec.has_identity() else RecordError(where, "no address, MAC or model")


def read_zoneminder(path: Path) -> Iterator[Item]:
    for where, obj in _records(path):
        monitor = obj.get("Monitor") if isinstance(obj, dict) else None
        if not isinstance(monitor, dict):
            yield RecordError(where, str(obj) if isinstance(obj, Exception) else "no Monitor object")
            continue
        rec = SourceRecord("zoneminder", path.name, f"{where} (monitor {monitor.get('Id')})", device_type="camera")
        rec.description = clip(monitor.get("Name"))
        path_url = str(monitor.get("Path") or "")
        host = clip(monitor.get("Host")) or (url_host(path_url) if "://" in path_url else None)
        rec.ip = ip_or_none(host)
        rec.hostname = None if rec.ip else host
        rec.parent = "ZoneMinder"
        if "://" in path_url:
            rec.observations.append(stream_observation(path_url))
        elif path_url.startswith("/") and host:
            scheme = str(monitor.get("Protocol") or "rtsp").lower()
            port = str(monitor.get("Port") or "")
            rec.observations.append(stream_observation(f"{scheme}://{host}{':' + port if port else ''}{path_url}"))
        yield rec if (rec.has_identity() or rec.observations) else RecordError(where, "no host or stream")


# ---------------------------------------------------------------- sniffing


def _sniff_keys(*keys: str, score: float = 0.9) -> Callable[[str, str], float]:
    def sniff(head: str, name: str) -> float:
        text = head.lstrip("\ufeff \r\n\t")
        if not text.startswith(("{", "[")):
            return 0.0
        found = sum(1 for k in keys if f'"{k}"' in text[:65536])
        return score if found == len(keys) else 0.3 * found / len(keys)

    return sniff


FORMATS: tuple[Format, ...] = (
    Format(
        "runzero",
        "runZero asset inventory export (JSON Lines or JSON)",
        (".json", ".jsonl"),
        _sniff_keys("addresses", "macs", "alive"),
        read_runzero,
        "runZero Inventory > Export > JSON Lines; phaseout import assets.jsonl",
    ),
    Format(
        "shodan",
        "Shodan banners (shodan download / host JSON)",
        (".json", ".jsonl", ".json.gz"),
        _sniff_keys("ip_str", "port", "data"),
        read_shodan,
        "shodan download --limit 1000 cams 'net:203.0.113.0/24'; gunzip cams.json.gz; phaseout import cams.json",
    ),
    Format(
        "censys",
        "Censys host records (search API / censys CLI JSON)",
        (".json", ".jsonl"),
        _sniff_keys("ip", "services", "service_name"),
        read_censys,
        "censys search 'ip: 203.0.113.0/24' --output hosts.json; phaseout import hosts.json",
    ),
    Format(
        "netbox",
        "NetBox REST API device list (/api/dcim/devices/ JSON)",
        (".json",),
        _sniff_keys("device_type", "asset_tag", "primary_ip4"),
        read_netbox,
        "curl -H 'Authorization: Token ...' https://netbox/api/dcim/devices/?limit=0 > devices.json",
    ),
    Format(
        "nx-witness-json",
        "Nx Witness REST device list (/rest/v2/devices JSON)",
        (".json",),
        _sniff_keys("physicalId", "vendor", "model"),
        read_nx,
        "GET https://nx-server:7001/rest/v2/devices > devices.json; phaseout import devices.json",
    ),
    Format(
        "zoneminder",
        "ZoneMinder monitor list (/api/monitors.json)",
        (".json",),
        _sniff_keys("monitors", "Monitor"),
        read_zoneminder,
        "curl https://zm/zm/api/monitors.json > monitors.json; phaseout import monitors.json",
    ),
)
