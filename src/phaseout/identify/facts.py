"""Observations -> facts: the texts and values identification looks at.

Every device answer is treated as hostile: raw text is cut to ``MAX_RAW_CHARS`` before any
parsing, XML goes through defusedxml (no DTDs, no entities, no external references), JSON and
CSV are parsed from the capped text, and a parse that fails leaves the raw text to the banner
rules instead of failing the record.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any

from defusedxml import ElementTree as SafeET  # type: ignore[import-untyped]
from defusedxml.common import DefusedXmlException  # type: ignore[import-untyped]

#: Raw text considered per observation (a hostile device may send a gigabyte).
MAX_RAW_CHARS = 256 * 1024
#: Longest single value kept (a model name of 10 kB is junk, not a model).
MAX_VALUE_CHARS = 256
KINDS = ("inventory", "mac", "http", "rtsp", "onvif", "sadp", "dhdiscover", "upnp", "tls", "banner")


class ObservationError(ValueError):
    """An observation that is not shaped as the interface says (the record gets an error)."""


@dataclass(slots=True)
class Facts:
    """What the observations of one device say, grouped by what identification does with it."""

    texts: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # signal field -> [(kind, text)]
    makers: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, source field, text)
    brands: list[tuple[str, str]] = field(default_factory=list)  # (kind, text)
    models: list[tuple[int, str, str, str]] = field(default_factory=list)  # (priority, kind, field, text)
    firmware: list[tuple[str, str]] = field(default_factory=list)
    macs: list[tuple[str, str]] = field(default_factory=list)  # (kind, 12 hex digits)
    serials: list[tuple[str, str]] = field(default_factory=list)
    type_hints: list[tuple[str, str]] = field(default_factory=list)  # (kind, text)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (kind, note) e.g. refused XML

    def text(self, fld: str, kind: str, value: str) -> None:
        if value:
            self.texts.setdefault(fld, []).append((kind, value[:MAX_RAW_CHARS]))


def _value(v: Any) -> str:
    """A field value as one line of at most ``MAX_VALUE_CHARS``, whitespace squeezed."""
    if v is None:
        return ""
    if type(v) is str and len(v) <= MAX_VALUE_CHARS and v.isprintable() and "  " not in v and v.strip() == v:
        return v  # already clean (the common case): skip the split and join
    text = " ".join(str(v).split())
    return text[:MAX_VALUE_CHARS]


_MAC_HEX = re.compile(r"[0-9A-Fa-f]{2}(?:[:-]?[0-9A-Fa-f]{2}){5}")


def mac_hex(value: str) -> str | None:
    m = _MAC_HEX.search(value or "")
    if not m:
        return None
    return re.sub(r"[^0-9A-Fa-f]", "", m.group(0)).upper()


# ---------------------------------------------------------------- structured payloads

# XML element (local name, lower case) -> what it is.  ISAPI deviceInfo, ONVIF
# GetDeviceInformation, SADP ProbeMatch and UPnP device descriptions all fit.
_XML_FIELDS = {
    "model": "model",
    "devicedescription": "model",
    "modelname": "model",
    "modelnumber": "model",
    "manufacturer": "maker",
    "serialnumber": "serial",
    "devicesn": "serial",
    "firmwareversion": "firmware",
    "softwareversion": "firmware",
    "macaddress": "mac",
    "mac": "mac",
    "devicetype": "type",
    "scopes": "scopes",
    "uri": "url",
    "xaddrs": "url",
    "presentationurl": "url",
    "streamuri": "url",
}
_SCOPE = re.compile(r"onvif://www\.onvif\.org/(name|hardware|mfr|manufacturer)/([^\s]+)", re.IGNORECASE)


def _xml_facts(facts: Facts, kind: str, text: str) -> bool:
    """Structured facts from an XML payload; False when it is not (safe) XML."""
    start = text.find("<")
    if start < 0:
        return False
    try:
        root = SafeET.fromstring(text[start:].encode("utf-8", "replace"), forbid_dtd=True)
    except DefusedXmlException as exc:
        facts.notes.append((kind, f"XML refused ({exc.__class__.__name__}): read as text only"))
        return False
    except SafeET.ParseError:
        return False
    found: dict[str, str] = {}
    released = ""
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1].lower() if isinstance(el.tag, str) else ""
        value = (el.text or "").strip()
        if not value:
            continue
        if tag == "firmwarereleaseddate":
            released = _value(value)
        what = _XML_FIELDS.get(tag)
        if what == "scopes":
            for m in _SCOPE.finditer(value):
                scope, item = m.group(1).lower(), _unquote(m.group(2))
                if scope == "hardware":
                    facts.models.append((2, kind, "onvif scope hardware", _value(item)))
                else:
                    facts.makers.append((kind, f"onvif scope {scope}", _value(item)))
        elif what == "url":
            facts.text("url", kind, value[:2048])
        elif what and what not in found:
            found[what] = _value(value)
    if "model" in found:
        facts.models.append((1, kind, "model", found["model"]))
    if "maker" in found:
        facts.makers.append((kind, "manufacturer", found["maker"]))
    if "serial" in found:
        facts.serials.append((kind, found["serial"]))
    if "firmware" in found:
        fw = f"{found['firmware']} {released}".strip() if released else found["firmware"]
        facts.firmware.append((kind, fw))
    if "mac" in found and (hx := mac_hex(found["mac"])):
        facts.macs.append((kind, hx))
    if "type" in found:
        facts.type_hints.append((kind, found["type"]))
    return True


def _unquote(text: str) -> str:
    from urllib.parse import unquote

    return unquote(text).replace("_", " ")


_KEY_VALUE = re.compile(r"^([A-Za-z][\w.\[\]]{0,63})=(.*)$", re.MULTILINE)


def _key_value_facts(facts: Facts, kind: str, text: str) -> bool:
    """Dahua CGI answers (``deviceType=...`` lines)."""
    pairs = dict((k, _value(v)) for k, v in _KEY_VALUE.findall(text[:65536]))
    if not pairs:
        return False
    device_type = pairs.get("deviceType") or pairs.get("type")
    base = pairs.get("updateSerial")
    if device_type:
        if _looks_like_model(device_type):
            facts.models.append((1, kind, "deviceType", device_type))
        else:
            facts.type_hints.append((kind, device_type))
    if base:
        facts.models.append((3, kind, "updateSerial", base))
    if pairs.get("serialNumber"):
        facts.serials.append((kind, pairs["serialNumber"]))
    if pairs.get("version"):
        facts.firmware.append((kind, pairs["version"]))
    if pairs.get("vendor"):
        facts.makers.append((kind, "vendor", pairs["vendor"]))
    return True


def _looks_like_model(text: str) -> bool:
    """``IPC-HDW5831R-ZE`` is a model; ``31`` and ``IP Camera`` are not."""
    return bool(re.search(r"[A-Za-z]", text)) and bool(re.search(r"\d", text)) and " " not in text.strip()


_GENERIC_VENDORS = {"general", "private", "oem", "default", "none", ""}


def _json_facts(facts: Facts, kind: str, text: str) -> bool:
    start = text.find("{")
    if start < 0:
        return False
    try:
        data = json.loads(text[start:])
    except ValueError:
        return False
    info: dict[str, Any] = {}
    if isinstance(data, dict):
        params = data.get("params")
        if isinstance(params, dict):
            device_info = params.get("deviceInfo")
            info = device_info if isinstance(device_info, dict) else params
        else:
            result = data.get("result") if isinstance(data.get("result"), dict) else None
            info = result or data
        if isinstance(data.get("mac"), str) and (hx := mac_hex(data["mac"])):
            facts.macs.append((kind, hx))
    _device_info_facts(facts, kind, {str(k).lower(): v for k, v in info.items()})
    return True


def _device_info_facts(facts: Facts, kind: str, info: dict[str, Any]) -> None:
    """DHDiscover deviceInfo / scan-dataset columns, keys already lower-cased."""
    model = _value(info.get("devicetype") or info.get("device_model") or info.get("type"))
    if model:
        if _looks_like_model(model):
            facts.models.append((1, kind, "DeviceType", model))
        else:
            facts.type_hints.append((kind, model))
    vendor = _value(info.get("vendor") or info.get("device_vendor") or info.get("manufacturer"))
    if vendor.lower() not in _GENERIC_VENDORS:
        facts.makers.append((kind, "Vendor", vendor))
    elif vendor:
        facts.notes.append((kind, f"vendor field says {vendor!r} (generic OEM firmware)"))
    if serial := _value(info.get("serialno") or info.get("device_serial")):
        facts.serials.append((kind, serial))
    if version := _value(info.get("version") or info.get("device_version")):
        facts.firmware.append((kind, version))
    if device_class := _value(info.get("deviceclass") or info.get("device_type")):
        facts.type_hints.append((kind, device_class))
    if (mac := info.get("mac") or info.get("mac_address")) and (hx := mac_hex(str(mac))):
        facts.macs.append((kind, hx))


def _csv_record_facts(facts: Facts, kind: str, text: str) -> bool:
    """A DHDiscover row from a scan dataset export (header line + one row)."""
    try:
        rows = list(csv.DictReader(io.StringIO(text[:65536])))
    except csv.Error:
        return False
    if not rows or not rows[0]:
        return False
    row = {str(k).lower(): v for k, v in rows[0].items() if k}
    if not any(k in row for k in ("device_model", "device_vendor", "method")):
        return False
    if row.get("method"):
        facts.text("dhdiscover", kind, str(row["method"]))
    _device_info_facts(facts, kind, row)
    return True


# ---------------------------------------------------------------- protocol framing


def split_message(raw: str) -> tuple[str, dict[str, list[str]], str]:
    """An HTTP or RTSP message -> (status line, headers by lower-case name, body).  Tolerates a
    message that is only a body, or only header lines."""
    text = raw[:MAX_RAW_CHARS]
    head, body = text, ""
    for sep in ("\r\n\r\n", "\n\n"):
        if sep in text:
            head, body = text.split(sep, 1)
            break
    lines = head.splitlines()
    status = ""
    if lines and re.match(r"^(?:HTTP|RTSP)/\d", lines[0]):
        status = lines.pop(0)
    elif not all(re.match(r"^[A-Za-z][\w-]*\s*:", ln) for ln in lines if ln.strip()):
        return "", {}, text  # no header block: the whole thing is a body
    headers: dict[str, list[str]] = {}
    for line in lines[:200]:
        name, sep, value = line.partition(":")
        if sep:
            headers.setdefault(name.strip().lower(), []).append(value.strip()[:4096])
    return status, headers, body


def _http(facts: Facts, obs: dict[str, Any]) -> None:
    status, headers, body = split_message(_raw(obs))
    for server in headers.get("server", []):
        facts.text("http.server", "http", server)
    for auth in headers.get("www-authenticate", []):
        facts.text("auth", "http", auth)
    if location := headers.get("location"):
        facts.text("url", "http", location[0])
    if body:
        facts.text("http.body", "http", body)
        stripped = body.lstrip("\ufeff \r\n\t")
        answered = False
        if stripped.startswith("<"):
            _xml_facts(facts, "http", stripped)
        elif stripped.startswith("{"):
            _json_facts(facts, "http", stripped)
        else:
            answered = _key_value_facts(facts, "http", stripped)
        # The request path says something only when the answer is what that endpoint gives
        # (key=value lines for Dahua CGI): a device that answers 200 to every path proves nothing.
        path = obs.get("path") or obs.get("request")
        ok = not status or " 2" in status[:13]
        if isinstance(path, str) and ok and answered:
            facts.text("http.path", "http", path[:2048])


def _rtsp(facts: Facts, obs: dict[str, Any]) -> None:
    _status, headers, body = split_message(_raw(obs))
    for server in headers.get("server", []):
        facts.text("rtsp.server", "rtsp", server)
    for auth in headers.get("www-authenticate", []):
        facts.text("auth", "rtsp", auth)
    for name in ("content-base", "content-location"):
        for url in headers.get(name, []):
            facts.text("url", "rtsp", url)
    if body:
        facts.text("rtsp.body", "rtsp", body)
        for m in re.finditer(r"a=control:(\S+)", body[:65536]):
            facts.text("url", "rtsp", m.group(1))
    extra_url = obs.get("url")
    if extra_url:
        facts.text("url", "rtsp", str(extra_url)[:2048])


def _xml_kind(kind: str) -> Any:
    def parse(facts: Facts, obs: dict[str, Any]) -> None:
        raw = _raw(obs)
        facts.text(kind if kind in ("sadp", "onvif") else "http.body", kind, raw)
        if kind == "upnp" and not raw.lstrip().startswith("<"):
            _status, headers, body = split_message(raw)
            for server in headers.get("server", []):
                facts.text("http.server", kind, server)
            if body:
                _xml_facts(facts, kind, body)
            return
        _xml_facts(facts, kind, raw)

    return parse


def _dhdiscover(facts: Facts, obs: dict[str, Any]) -> None:
    raw = _raw(obs)
    facts.text("dhdiscover", "dhdiscover", raw)
    if not _json_facts(facts, "dhdiscover", raw):
        _csv_record_facts(facts, "dhdiscover", raw)


def _tls(facts: Facts, obs: dict[str, Any]) -> None:
    for name in ("subject", "issuer"):
        value = obs.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ObservationError(f"tls.{name} must be a string")
        facts.text(f"tls.{name}", "tls", value[:4096])
        for m in re.finditer(r"(?:^|[,;/]\s*)O\s*=\s*([^,;/]+)", value[:4096]):
            facts.makers.append(("tls", f"certificate {name} O", _value(m.group(1))))


def _banner(facts: Facts, obs: dict[str, Any]) -> None:
    facts.text("banner", "banner", _raw(obs))


def _mac(facts: Facts, obs: dict[str, Any]) -> None:
    value = obs.get("value")
    if not isinstance(value, str):
        raise ObservationError("mac observation needs a string value")
    hx = mac_hex(value)
    if hx:
        facts.macs.append(("mac", hx))
    else:
        facts.notes.append(("mac", f"not a MAC address: {value[:40]!r}"))


INVENTORY_KEYS = ("manufacturer", "brand", "model", "firmware", "mac", "description", "serial", "device_type")


def _inventory(facts: Facts, obs: dict[str, Any]) -> None:
    fields = obs.get("fields")
    if not isinstance(fields, dict):
        raise ObservationError("inventory observation needs a fields object")
    get = (
        fields
        if all(isinstance(k, str) and k.islower() for k in fields)
        else {k.lower(): v for k, v in fields.items() if isinstance(k, str)}
    )
    if maker := _value(get.get("manufacturer")):
        facts.makers.append(("inventory", "manufacturer", maker))
    if brand := _value(get.get("brand")):
        facts.brands.append(("inventory", brand))
    if model := _value(get.get("model")):
        facts.models.append((4, "inventory", "model", model))
    if firmware := _value(get.get("firmware")):
        facts.firmware.append(("inventory", firmware))
    if (mac := get.get("mac")) and (hx := mac_hex(str(mac))):
        facts.macs.append(("inventory", hx))
    if serial := _value(get.get("serial")):
        facts.serials.append(("inventory", serial))
    if dtype := _value(get.get("device_type")):
        facts.type_hints.append(("inventory", dtype))


def _raw(obs: dict[str, Any]) -> str:
    raw = obs.get("raw")
    if not isinstance(raw, str):
        raise ObservationError(f"{obs.get('kind')} observation needs a raw string")
    return raw[:MAX_RAW_CHARS]


PARSERS: dict[str, Any] = {
    "inventory": _inventory,
    "mac": _mac,
    "http": _http,
    "rtsp": _rtsp,
    "onvif": _xml_kind("onvif"),
    "sadp": _xml_kind("sadp"),
    "upnp": _xml_kind("upnp"),
    "dhdiscover": _dhdiscover,
    "tls": _tls,
    "banner": _banner,
}


def gather(observations: list[Any]) -> Facts:
    """All facts of one device.  Raises :class:`ObservationError` for a malformed observation."""
    facts = Facts()
    for i, obs in enumerate(observations):
        if not isinstance(obs, dict):
            raise ObservationError(f"observation {i + 1} is not an object")
        kind = obs.get("kind")
        parser = PARSERS.get(kind) if isinstance(kind, str) else None
        if parser is None:
            facts.notes.append((str(kind)[:40], "unknown observation kind: ignored"))
            continue
        parser(facts, obs)
    return facts
