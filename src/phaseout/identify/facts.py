"""Observations -> facts: the texts and values identification looks at.

Every device answer is treated as hostile: raw text is cut to ``MAX_RAW_CHARS`` before any
parsing, XML goes through defusedxml (no DTDs, no entities, no external references), JSON and
CSV are parsed from the capped text, and a parse that fails leaves the raw text to the banner
rules instead of failing the record.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import itertools
import json
import re
import threading
import xml.etree.ElementTree as ET  # only for documents with no declaration at all: see _xml_facts
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from defusedxml import ElementTree as SafeET  # type: ignore[import-untyped]
from defusedxml.common import DefusedXmlException  # type: ignore[import-untyped]

from phaseout.identify.fallback import (
    clean_text,
    json_text_pairs,
    key_value_lines,
    table_rows,
    undo_ngrep,
    unquote_literal,
    xml_text_elements,
)
from phaseout.identify.printouts import answer_start, unframe, unprint, unwrap

#: Raw text considered per observation (a hostile device may send a gigabyte).
MAX_RAW_CHARS = 256 * 1024
#: Longest single value kept (a model name of 10 kB is junk, not a model).
MAX_VALUE_CHARS = 256
KINDS = (
    "inventory",
    "mac",
    "http",
    "rtsp",
    "onvif",
    "sadp",
    "dhdiscover",
    "upnp",
    "tls",
    "banner",
    "snmp",
    "favicon",
)


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


#: Control characters that are not white space (NUL, ESC, DEL...): dropped from field values.
#: Dahua pads fields with NUL (``"SerialNo": "...\u0000"``): PostgreSQL cannot store a NUL in
#: text (the whole merge failed), and SQLite's ``substr()`` / ``GLOB`` stop at it (the scan
#: merge's serial-tail index missed the device the matching rule finds).
_CONTROLS = dict.fromkeys([*range(0x00, 0x09), *range(0x0E, 0x1C), 0x7F])


def _value(v: Any) -> str:
    """A field value as one line of at most ``MAX_VALUE_CHARS``, whitespace squeezed, control
    characters dropped."""
    if v is None:
        return ""
    if type(v) is str and len(v) <= MAX_VALUE_CHARS and v.isprintable() and "  " not in v and v.strip() == v:
        return v  # already clean (the common case): skip the split and join
    if isinstance(v, (dict, list, tuple)):
        raise ObservationError("a field value must be text or a number, not an object or a list")
    text = " ".join(str(v).translate(_CONTROLS).split())
    return text[:MAX_VALUE_CHARS]


_MAC_HEX = re.compile(r"[0-9A-Fa-f]{2}(?:[:-]?[0-9A-Fa-f]{2}){5}")


#: A time-based (version 1) UUID: ``xxxxxxxx-xxxx-1xxx-yxxx-<node>``.
_UUID_V1 = re.compile(r"\b[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-1[0-9A-Fa-f]{3}-[89ABab][0-9A-Fa-f]{3}-([0-9A-Fa-f]{12})\b")


def uuid_node_mac(value: str) -> str | None:
    """The MAC inside a device's version-1 UUID, or None.

    RFC 4122 (4.1.6) makes the node field of a time-based UUID the IEEE 802 address of the
    machine that made it; a node made up because there was no such address has the multicast bit
    set (4.5), so that one is refused.  Used only on fields where the device names itself (an ISAPI
    ``deviceID``, a WS-Discovery endpoint address), never on free text a client may have written."""
    m = _UUID_V1.search(value or "")
    if not m:
        return None
    node = m.group(1).upper()
    if int(node[:2], 16) & 1:
        return None
    return node


def mac_hex(value: str) -> str | None:
    m = _MAC_HEX.search(value or "")
    if not m:
        return None
    return re.sub(r"[^0-9A-Fa-f]", "", m.group(0)).upper()


# ---------------------------------------------------------------- structured payloads

# XML element (local name, lower case) -> (what it is, rank).  ISAPI deviceInfo, ONVIF
# GetDeviceInformation, SADP ProbeMatch and UPnP device descriptions all fit.  Elements may come
# in any order (real Hikvision firmware sends <deviceDescription>IPCamera</deviceDescription> and
# <deviceType> before <model>), so the value of the best-ranked element wins, not the first one.
_XML_FIELDS: dict[str, tuple[str, int]] = {
    "model": ("model", 0),
    "modelname": ("model", 1),
    "modelnumber": ("model", 2),
    "devicemodel": ("model", 1),
    # SADP puts the model in DeviceDescription; ISAPI puts a class word ("IPCamera") there: it
    # counts as a model only when it looks like one (see _apply_xml_fields)
    "devicedescription": ("model", 5),
    "manufacturer": ("maker", 0),
    "serialnumber": ("serial", 0),
    "devicesn": ("serial", 1),
    "serialno": ("serial", 1),
    "firmwareversion": ("firmware", 0),
    "softwareversion": ("firmware", 1),
    "macaddress": ("mac", 0),
    "mac": ("mac", 1),
    "devicetype": ("type", 0),
    "scopes": ("scopes", 0),
    "scopeitem": ("scopes", 0),
    "uri": ("url", 0),
    "xaddrs": ("url", 0),
    "xaddr": ("url", 0),
    "presentationurl": ("url", 0),
    "streamuri": ("url", 0),
    "statusstring": ("status", 0),
    "substatuscode": ("status", 0),
    # the device's own identifiers: a version-1 UUID carries its MAC (uuid_node_mac)
    "deviceid": ("uuid", 0),
    "address": ("uuid", 1),
}
#: ONVIF scopes, as URIs anywhere in the text (an XML Scopes element, one per line, a list).
_SCOPE = re.compile(r"onvif://www\.onvif\.org/(name|hardware|mfr|manufacturer|mac)/([^\s<\"',]+)", re.IGNORECASE)
#: Elements read per XML document: a real answer has a few hundred; more is a flood.
MAX_XML_ELEMENTS = 20_000


def _xml_facts(facts: Facts, kind: str, text: str) -> bool:
    """Facts from an XML payload: parsed with defusedxml when it is well-formed, else read
    element by element from the text (truncated answers, misspelt closing tags, frames around
    it).  False when there is no XML at all."""
    start = text.find("<")
    if start < 0:
        return False
    pairs: list[tuple[str, str]] = []
    document = text[start:]
    try:
        if "<!" in document:
            root = SafeET.fromstring(document.encode("utf-8", "replace"), forbid_dtd=True)
        else:
            # No "<!" at all: no DOCTYPE, so no entity can be declared and nothing external can
            # be named: everything defusedxml guards against is absent.  The C parser reads
            # such a document (every ISAPI and ONVIF answer) several times faster than
            # defusedxml's pure-Python one, into the same tree (equal facts on every real
            # capture: tests/knowledge/test_answer_facts.py).
            root = ET.fromstring(document.encode("utf-8", "replace"))
    except DefusedXmlException as exc:
        facts.notes.append((kind, f"XML refused ({exc.__class__.__name__}): read as text only"))
        pairs = xml_text_elements(_strip_dtd(text[start:]))
    except (SafeET.ParseError, ET.ParseError, RecursionError, ValueError):
        pairs = xml_text_elements(document)
    else:
        for n, el in enumerate(root.iter()):
            if n >= MAX_XML_ELEMENTS:
                break
            tag = el.tag.rsplit("}", 1)[-1].lower() if isinstance(el.tag, str) else ""
            value = (el.text or "").strip()
            if value:
                pairs.append((tag, value))
    if not pairs:
        return False
    _apply_xml_fields(facts, kind, pairs)
    return True


def _strip_dtd(text: str) -> str:
    """A document without its DOCTYPE block: entities are never expanded, only skipped."""
    return re.sub(r"<!DOCTYPE[^\[>]*(?:\[[^\]]*\])?\s*>", "", text[:MAX_RAW_CHARS], flags=re.IGNORECASE)


def _apply_xml_fields(facts: Facts, kind: str, pairs: list[tuple[str, str]]) -> None:
    best: dict[str, tuple[int, str]] = {}
    released = ""
    for tag, raw_value in pairs:
        if tag == "firmwarereleaseddate":
            released = _value(raw_value)
            continue
        spec = _XML_FIELDS.get(tag)
        if spec is None:
            continue
        what, rank = spec
        if what == "scopes":
            _scopes(facts, kind, raw_value)
        elif what == "url":
            facts.text("url", kind, raw_value[:2048])
        elif what == "status":
            facts.notes.append((kind, f"device answered {tag}={_value(raw_value)[:60]!r}"))
        elif what == "uuid":
            if "mac" not in best and (node := uuid_node_mac(raw_value[:256])):
                best["mac"] = (9, node)  # an explicit <macAddress> element wins
        else:
            value = _value(raw_value)
            if what == "model" and rank >= 5 and not _looks_like_model(value):
                facts.type_hints.append((kind, value))  # "IPCamera", "NVR": a class, not a model
                continue
            if what not in best or rank < best[what][0]:
                best[what] = (rank, value)
    found = {what: value for what, (_rank, value) in best.items()}
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


def _scopes(facts: Facts, kind: str, text: str) -> bool:
    """ONVIF scopes (``onvif://www.onvif.org/hardware/DS-2CD2143G2-I``...) anywhere in a text."""
    found = False
    for m in _SCOPE.finditer(text[:65536]):
        found = True
        scope, item = m.group(1).lower(), _unquote(m.group(2))
        if scope == "hardware":
            facts.models.append((2, kind, "onvif scope hardware", _value(item)))
        elif scope == "mac":
            if hx := mac_hex(item):
                facts.macs.append((kind, hx))
        else:
            facts.makers.append((kind, f"onvif scope {scope}", _value(item)))
    return found


def _unquote(text: str) -> str:
    from urllib.parse import unquote

    return unquote(text).replace("_", " ")


_KEY_VALUE = re.compile(r"^[ \t]*([A-Za-z][\w.\[\]]{0,63})[ \t]*=(.*)$", re.MULTILINE)


def _key_value_facts(facts: Facts, kind: str, text: str) -> bool:
    """Dahua CGI answers: ``deviceType=...`` lines of ``magicBox.cgi`` and ``table.X.Y=...``
    lines of ``configManager.cgi`` (the last dotted part names the field)."""
    pairs: dict[str, str] = {}
    for k, v in _KEY_VALUE.findall(text[:65536]):
        key = k.rsplit(".", 1)[-1].lower()
        pairs.setdefault(key, _value(v))
    if not pairs:
        return False
    _device_info_facts(facts, kind, pairs)
    return True


def _looks_like_model(text: str) -> bool:
    """``IPC-HDW5831R-ZE`` is a model; ``31`` and ``IP Camera`` are not."""
    return bool(re.search(r"[A-Za-z]", text)) and bool(re.search(r"\d", text)) and " " not in text.strip()


_GENERIC_VENDORS = {"general", "private", "oem", "default", "none", ""}


def _json_facts(facts: Facts, kind: str, text: str) -> bool:
    """JSON answers: Dahua RPC2 replies (``{"result":..., "params": {...}}``), DHDiscover
    ``client.notifyDevInfo`` messages, scan-dataset rows.  JSON that does not parse (a DHIP frame
    cut mid-field) is read member by member from the text."""
    start = text.find("{")
    if start < 0:
        return False
    try:
        data = json.loads(text[start:])
    except (ValueError, RecursionError):
        pairs = json_text_pairs(text[start:])
        if not pairs:
            return False
        flat: dict[str, Any] = {}
        for key, value in pairs:
            flat.setdefault(key, value)
        if "method" in flat:
            facts.text("dhdiscover", kind, str(flat["method"]))
        _json_realm(facts, kind, flat.get("realm"))
        _device_info_facts(facts, kind, flat)
        facts.notes.append((kind, "JSON incomplete: read member by member"))
        return True
    info: dict[str, Any] = {}
    if isinstance(data, dict):
        params = data.get("params")
        result = data.get("result")
        if isinstance(params, dict):
            device_info = params.get("deviceInfo")
            info = device_info if isinstance(device_info, dict) else params
        elif isinstance(result, dict):
            info = result
        else:
            info = data
        if isinstance(data.get("mac"), str) and (hx := mac_hex(data["mac"])):
            facts.macs.append((kind, hx))
    lowered = {str(k).lower(): v for k, v in info.items()}
    _json_realm(facts, kind, lowered.get("realm"))
    _device_info_facts(facts, kind, lowered)
    return True


def _json_realm(facts: Facts, kind: str, realm: Any) -> None:
    """The realm of a login challenge sent as JSON (Dahua's ``RPC2_Login`` answers its first call
    with ``params.realm``, the Digest realm its web server sends): read as that challenge is."""
    if isinstance(realm, str) and (value := _value(realm)):
        _auth_facts(facts, kind, {"www-authenticate": [f'Digest realm="{value}"']})


def _first(info: dict[str, Any], *keys: str) -> str:
    """The first of ``keys`` that holds text or a number ({"Version": ...} objects unwrapped)."""
    for key in keys:
        value = info.get(key)
        if isinstance(value, dict):
            value = next((v for k, v in value.items() if str(k).lower() == key), None)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool) and (text := _value(value)):
            return text
    return ""


def _device_info_facts(facts: Facts, kind: str, info: dict[str, Any]) -> None:
    """Device fields by their lower-cased names, as Dahua CGI, RPC2, DHDiscover and scan datasets
    write them."""
    # DeviceType holds the model in Dahua answers and a class word ("IPCamera") in ISAPI ones:
    # the first value that looks like a model is the model, the others are type hints
    model = ""
    for key in ("devicetype", "device_model", "type", "devicemodel", "model"):
        value = _first(info, key)
        if not value:
            continue
        if _looks_like_model(value):
            model = model or value
        else:
            facts.type_hints.append((kind, value))
    if model:
        facts.models.append((1, kind, "DeviceType", model))
    if base := _first(info, "updateserial"):
        facts.models.append((3, kind, "updateSerial", base))
    vendor = _first(info, "vendor", "device_vendor", "manufacturer")
    if vendor.lower() not in _GENERIC_VENDORS:
        facts.makers.append((kind, "Vendor", vendor))
    elif vendor:
        facts.notes.append((kind, f"vendor field says {vendor!r} (generic OEM firmware)"))
    if serial := _first(info, "serialno", "serialnumber", "sn", "device_serial"):
        facts.serials.append((kind, serial))
    if version := _first(info, "version", "device_version", "softwareversion"):
        facts.firmware.append((kind, version))
    if device_class := _first(info, "deviceclass", "device_type", "class"):
        facts.type_hints.append((kind, device_class))
    if (mac := _first(info, "mac", "mac_address", "macaddress")) and (hx := mac_hex(mac)):
        facts.macs.append((kind, hx))
    elif (device_id := _first(info, "deviceid")) and (node := uuid_node_mac(device_id)):
        facts.macs.append((kind, node))


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


#: Header lines anywhere in a transcript of several exchanges (an RTSP OPTIONS / DESCRIBE / 401
#: sequence, ``curl -v`` output whose lines start with ``< ``, a client's log whose every line
#: starts with its bracketed tag such as ``[Rebroadcast Plugin]: ``, PHP's ``print_r`` of the
#: header array ``get_headers()`` returns, one ``    [3] => Server: ...`` line per header): the
#: realm or the Server value may only appear in the second answer.
_TRANSCRIPT_HEADER = re.compile(
    r"^(?:\[[^\]\r\n]{1,60}\]:?[ \t]*|[ \t]*\[\d{1,5}\][ \t]*=>[ \t]*)?(?:[<>] ?)?"
    r"(server|www-authenticate|authorization|content-base|content-location|location|rtp-info)"
    r"[ \t]*:[ \t]*([^\r\n]{1,4096})",
    re.IGNORECASE | re.MULTILINE,
)
#: ``realm="..."`` in a client's Digest ``Authorization`` line: RFC 7616 (3.4) has the client copy
#: the realm of the server's challenge, so a transcript that kept only the client's side of the
#: exchange still shows the realm the device announced.
_AUTH_REALM = re.compile(r'^\s*Digest\b.{0,512}?\brealm="([^"\r\n]{1,256})"', re.IGNORECASE)
#: ``url=`` items of an RTSP ``RTP-Info`` header (RFC 2326, 12.33): the stream URLs of a PLAY answer.
_RTP_INFO_URL = re.compile(r"(?:^|[,;\s])url=([^;,\s]{1,2048})", re.IGNORECASE)


#: A realm that is nothing but a MAC address (12 hex digits, bare or in pairs): the realm is a
#: string the server chooses (RFC 7616 3.3, RFC 7617 2), and some firmware puts its own MAC there.
_REALM_MAC = re.compile(r'\brealm="((?:[0-9A-Fa-f]{12})|(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2})"', re.IGNORECASE)


def _auth_facts(facts: Facts, kind: str, headers: dict[str, list[str]]) -> None:
    """Challenges the device sent, and the realm a client echoed back from one.  A realm that is a
    MAC address is read as the device's MAC: its prefix then names the maker only if the IEEE
    registry (or the curated list) assigns it, so a random 12-hex realm rarely says anything."""
    realms: list[str] = []
    for auth in headers.get("www-authenticate", []):
        facts.text("auth", kind, auth)
        realms.append(auth)
    for line in headers.get("authorization", [])[:20]:
        if m := _AUTH_REALM.match(line):
            facts.text("auth", kind, f'Digest realm="{m.group(1)}"')
            realms.append(f'realm="{m.group(1)}"')
    for realm in realms[:20]:
        if (m := _REALM_MAC.search(realm)) and (hx := mac_hex(m.group(1))):
            facts.macs.append((kind, hx))


_TITLE = re.compile(r"<title[^>]{0,64}>([^<]{1,512})</title", re.IGNORECASE)


#: A status line at the start of a line after other text (a client's log line such as ``rtsp
#: incoming message`` printed before the answer, the answer indented by one space).
_LATER_STATUS = re.compile(r"\n[ \t]{0,4}(?:HTTP|RTSP)/\d\.\d \d{3}\b")


def _headers(text: str, headers: dict[str, list[str]]) -> dict[str, list[str]]:
    """The first message's headers plus those of every later message in the same text (and of
    the one message a log line precedes)."""
    if (
        text.count("TTP/1.") + text.count("TSP/1.") <= 1
        and "\n<" not in text
        and "] => " not in text
        and not (not headers and _LATER_STATUS.search(text[:4096]))
    ):
        return headers
    merged = {k: list(v) for k, v in headers.items()}
    for m in _TRANSCRIPT_HEADER.finditer(text):
        name, value = m.group(1).lower(), m.group(2).strip()
        values = merged.setdefault(name, [])
        if value not in values and len(values) < 50:
            values.append(value)
    return merged


def _http(facts: Facts, obs: dict[str, Any]) -> None:
    raw = _raw(obs)  # (ngrep printouts are made whole in _raw)
    status, headers, body = split_message(raw)
    headers = _headers(raw, headers)
    for server in headers.get("server", []):
        facts.text("http.server", "http", server)
    _auth_facts(facts, "http", headers)
    for location in headers.get("location", [])[:5]:
        facts.text("url", "http", location)
    if body:
        facts.text("http.body", "http", body)
        if m := _TITLE.search(body[:65536]):
            facts.text("http.title", "http", _value(m.group(1)))
        stripped = body.lstrip("\ufeff \r\n\t")
        answered = False
        if stripped.startswith("<"):
            _xml_facts(facts, "http", stripped)
        elif stripped.startswith("{"):
            _json_facts(facts, "http", stripped)
        else:  # (a REPL's echo of the answer, quoted with escaped line ends, read as the answer)
            unquoted = unquote_literal(stripped)  # what its escapes spell is cleaned as _raw cleans
            answered = _key_value_facts(facts, "http", stripped if unquoted is stripped else clean_text(unquoted))
        # The request path says something only when the answer is what that endpoint gives
        # (key=value lines for Dahua CGI): a device that answers 200 to every path proves nothing.
        path = obs.get("path") or obs.get("request")
        ok = not status or " 2" in status[:13]
        if isinstance(path, str) and ok and answered:
            facts.text("http.path", "http", path[:2048])
    if record := _record_taken_apart(obs, raw):  # read as a body, as it was before
        facts.text("http.body", "http", record)
        if record.startswith("{"):
            _json_facts(facts, "http", record)


#: go2rtc's stream information (``/api/streams``, printed by ``go2rtc`` users in bug reports):
#: each producer's ``"url"`` and the ``"sdp"`` it received, as JSON strings (CR LF as ``\\r\\n``).
_JSON_SDP = re.compile(r'"sdp"\s*:\s*"((?:[^"\\\r\n]|\\.){1,65536})')
_JSON_RTSP_URL = re.compile(r'"url"\s*:\s*"(rtsps?://[^"\s]{1,2048})"')


#: A UTF-16 surrogate left alone by a JSON ``\\uD800`` escape: no UTF-8 encodes it.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _json_string(fragment: str) -> str:
    """A JSON string's content, decoded; a string cut short (a pasted excerpt) is decoded as far
    as it goes.  What the escapes give is held to what ``_raw`` gives every other text: no control
    characters (``\\u0000``) and no lone surrogate (``\\ud800``), which no UTF-8 encoder takes
    (a collector's upload, PostgreSQL)."""
    for end in (fragment, fragment.rstrip("\\")):
        try:
            value = json.loads(f'"{end}"')
        except ValueError:
            continue
        if not isinstance(value, str):
            return ""
        return clean_text(_LONE_SURROGATE.sub("\ufffd", value))
    return fragment.replace("\\r\\n", "\r\n").replace("\\n", "\n")


def _printed_streams(facts: Facts, raw: str) -> bool:
    """Stream URLs and SDP bodies from a JSON printout of a client's stream list (go2rtc)."""
    if not raw.lstrip().startswith("{") or '"sdp"' not in raw:
        return False
    found = False
    for m in itertools.islice(_JSON_SDP.finditer(raw), 20):
        sdp = _json_string(m.group(1))
        facts.text("rtsp.body", "rtsp", sdp)
        for c in re.finditer(r"a=control:(\S+)", sdp[:65536]):
            facts.text("url", "rtsp", c.group(1))
        found = True
    for m in itertools.islice(_JSON_RTSP_URL.finditer(raw), 20):
        facts.text("url", "rtsp", _json_string(m.group(1)))
    return found


def _rtsp(facts: Facts, obs: dict[str, Any]) -> None:
    raw = _raw(obs)  # (ngrep printouts are made whole in _raw)
    printed: str = obs["raw"]  # go2rtc's stream list is a record of its own, read as it is
    if printed[:256].lstrip()[:1] == "{" and _printed_streams(facts, clean_text(printed[:MAX_RAW_CHARS])):
        return
    if _printed_streams(facts, raw):
        return
    _status, headers, body = split_message(raw)
    headers = _headers(raw, headers)
    for server in headers.get("server", []):
        facts.text("rtsp.server", "rtsp", server)
    _auth_facts(facts, "rtsp", headers)
    for name in ("content-base", "content-location"):
        for url in headers.get(name, []):
            facts.text("url", "rtsp", url)
    for info in headers.get("rtp-info", [])[:10]:
        for m in _RTP_INFO_URL.finditer(info):
            facts.text("url", "rtsp", m.group(1))
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
        read(facts, raw)
        if record := _record_taken_apart(obs, raw):
            read(facts, record)

    def read(facts: Facts, raw: str) -> None:
        facts.text(kind if kind in ("sadp", "onvif") else "http.body", kind, raw)
        if kind == "upnp" and raw.lstrip().startswith("{"):  # SSDP headers printed as a JSON object
            _printed_dict(facts, kind, raw)
            return
        if kind == "upnp" and not raw.lstrip().startswith("<"):
            _status, headers, body = split_message(raw)
            for server in headers.get("server", []):
                facts.text("http.server", kind, server)
            if body:
                _xml_facts(facts, kind, body)
            return
        if _xml_facts(facts, kind, raw):
            return
        # not XML: a client library's printout, scopes one per line, key: value text
        _scopes(facts, kind, raw)
        _printout_facts(facts, kind, raw)

    return parse


#: Keys of a GetDeviceInformation / SADP / UPnP printout, squeezed to letters and digits.
_PRINTOUT_KEYS = {
    "manufacturer": "vendor",
    "vendor": "vendor",
    "model": "devicetype",
    "modelname": "devicetype",
    "devicetype": "devicetype",
    "devicedescription": "devicedescription",
    # a SADP client's label for DeviceDescription (the element that holds the model there)
    "description": "devicedescription",
    "firmwareversion": "version",
    "softwareversion": "version",
    "serialnumber": "serialnumber",
    "devicesn": "serialnumber",
    "macaddress": "mac",
    "mac": "mac",
}


def _printout_facts(facts: Facts, kind: str, text: str) -> None:
    """``Manufacturer: HIKVISION`` / ``'Model': 'DS-2CD2143G2-I'`` lines, or the rows of a
    two-column table (``Description    DS-2DE4220IW-D``) -> device fields."""
    info: dict[str, Any] = {}
    for key, value in key_value_lines(text[:65536]):
        if (field_name := _PRINTOUT_KEYS.get(key)) and field_name not in info:
            info[field_name] = value
    if not info:
        for key, value in table_rows(text):
            if (field_name := _PRINTOUT_KEYS.get(key)) and field_name not in info:
                info[field_name] = value
    description = info.pop("devicedescription", "")
    if description and "devicetype" not in info and _looks_like_model(description):
        info["devicetype"] = description
    if info:
        _device_info_facts(facts, kind, info)


def _structured(facts: Facts, kind: str, raw: str) -> None:
    """A discovery reply as XML, JSON (after a DHIP header when there is one), a dataset row
    or ``key: value`` text, whichever it is."""
    dhip = raw.find("DHIP")
    body = raw
    if dhip >= 0:  # a DHIP frame: 32-byte header, then JSON (header bytes may hold a "{")
        m = re.compile(r'\{\s*"').search(raw, dhip + 4)
        body = raw[m.start() :] if m else raw[dhip + 4 :]
    lt, brace = body.find("<"), body.find("{")
    if lt >= 0 and (brace < 0 or lt < brace) and _xml_facts(facts, kind, body[lt:]):
        return
    if brace >= 0 and _json_facts(facts, kind, body):
        return
    if _csv_record_facts(facts, kind, body):
        return
    _printout_facts(facts, kind, body)


def _dhdiscover(facts: Facts, obs: dict[str, Any]) -> None:
    raw = _raw(obs)
    for text in (raw, _record_taken_apart(obs, raw)):
        if text:
            facts.text("dhdiscover", "dhdiscover", text)
            _structured(facts, "dhdiscover", text)


def _sadp(facts: Facts, obs: dict[str, Any]) -> None:
    raw = _raw(obs)
    for text in (raw, _record_taken_apart(obs, raw)):
        if text:
            facts.text("sadp", "sadp", text)
            _structured(facts, "sadp", text)


_CERT_LINE = re.compile(r"^[ \t*>|]*+(subject|issuer)\s*[:=]\s*(\S.*)$", re.IGNORECASE | re.MULTILINE)
#: A printout in blocks: a ``Subject`` / ``Issuer`` line, then indented ``CN: ...`` lines.
_CERT_BLOCK = re.compile(r"^[ \t]*(Subject|Issuer)[ \t]*:?[ \t]*\r?\n((?:[ \t]+[^\r\n]+\r?\n?){1,20})", re.MULTILINE)
_RDN_NAMES = {
    "cn": "CN",
    "commonname": "CN",
    "o": "O",
    "org": "O",
    "organization": "O",
    "organizationname": "O",
    "ou": "OU",
    "orgunit": "OU",
    "organizationalunit": "OU",
    "organizationalunitname": "OU",
    "c": "C",
    "country": "C",
    "countryname": "C",
    "st": "ST",
    "state": "ST",
    "stateorprovincename": "ST",
    "l": "L",
    "locality": "L",
    "localityname": "L",
}


def _cert_names(text: str) -> dict[str, str]:
    """Subject and issuer from a tool's printout: ``subject: CN=...`` lines (openssl, curl -v)
    or blocks of indented ``CN: ...`` lines, written back as ``CN=..., O=...``."""
    found: dict[str, str] = {}
    for m in _CERT_LINE.finditer(text):
        found.setdefault(m.group(1).lower(), m.group(2).strip()[:4096])
    for m in _CERT_BLOCK.finditer(text):
        parts = []
        for key, value in key_value_lines(m.group(2)):
            if name := _RDN_NAMES.get(key):
                parts.append(f"{name}={value}")
        if parts:
            found.setdefault(m.group(1).lower(), ", ".join(parts)[:4096])
    return found


_RDN_PART = re.compile(r",\s*(?=[A-Za-z][A-Za-z ]{0,30}:)")


def _rdn_text(value: str) -> str:
    """``CN: x, Org: Zhejiang Dahua Technology Co.,Ltd.`` (a tool's wording) -> ``CN=x,
    O=Zhejiang Dahua Technology Co.,Ltd.``; text already in ``O=`` form is left as it is."""
    if "=" in value or ":" not in value:
        return value
    parts = []
    for part in _RDN_PART.split(value):
        key, sep, item = part.partition(":")
        name = _RDN_NAMES.get(re.sub(r"[^a-z]", "", key.lower())) if sep else None
        parts.append(f"{name}={item.strip()}" if name else part.strip())
    return ", ".join(parts)


def _tls(facts: Facts, obs: dict[str, Any]) -> None:
    """A certificate's subject and issuer, given as fields or as a tool's printout in ``raw``."""
    values: dict[str, str] = {}
    for name in ("subject", "issuer"):
        value = obs.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ObservationError(f"tls.{name} must be a string")
        values[name] = _rdn_text(clean_text(value[:4096]))
    if not values and "raw" in obs:
        values = _cert_names(_raw(obs)[:65536])
    for name, value in values.items():
        facts.text(f"tls.{name}", "tls", value)
        for m in re.finditer(r"(?:^|[,;/]\s*)O\s*=\s*([^,;/]+)", value):
            facts.makers.append(("tls", f"certificate {name} O", _value(m.group(1))))


#: An OID under the private-enterprise arc, as tools write it: ``SNMPv2-SMI::enterprises.39165.1.1``,
#: ``iso.3.6.1.4.1...``, ``.1.3.6.1.4.1...``; normalised to dotted numbers from 1.3.6.1.
_OID = re.compile(
    r"(?:(?<![\d.])\.?1\.3\.6\.1\.4\.1\.|\biso\.3\.6\.1\.4\.1\.|\benterprises\.)(\d{1,10}(?:\.\d{1,10}){0,30})",
    re.IGNORECASE,
)
_SNMP_LINE = re.compile(r"sys(Descr|ObjectID)(?:\.0)?\s*(?:=|:)\s*(?:STRING:|OID:)?\s*([^\r\n]+)", re.IGNORECASE)
#: sysDescr (1.3.6.1.2.1.1.1.0) and sysObjectID (1.3.6.1.2.1.1.2.0) by number (RFC 3418), as
#: ``snmpwalk -On`` prints them (``.1.3.6.1.2.1.1.1.0 = STRING: ...``) and as an snmpsim record
#: stores them (``1.3.6.1.2.1.1.1.0|4|...``: OID, type tag, value; tag ``4x`` = hex-encoded value).
_SNMP_NUMERIC = re.compile(
    r"^[ \t]*\.?1\.3\.6\.1\.2\.1\.1\.([12])\.0[ \t]*(?:=[ \t]*(?:STRING:|OID:)?|\|(\w{1,4})\|)[ \t]*([^\r\n]*)",
    re.MULTILINE,
)
#: The first OID of each line of a walk (the object answered, not a value that looks like one):
#: ``OID = value`` lines, and ``OID|tag|value`` records of an snmpsim file.
_WALKED = re.compile(r"^[ \t]*(\S{1,256}?)[ \t]*(?:=|\|\w{1,4}\|)", re.MULTILINE)


#: ifPhysAddress (IF-MIB, RFC 2863: 1.3.6.1.2.1.2.2.1.6.<ifIndex>): "for an 802.x interface,
#: this object normally contains a MAC address".  By name (``IF-MIB::ifPhysAddress.2 = STRING:
#: 0:2:d1:43:a5:26``, or ``Hex-STRING: 00 02 D1 43 A5 26``), by number, or as an snmpsim record
#: (``1.3.6.1.2.1.2.2.1.6.2|4x|0002d143a526``).  A walk whose sysDescr names no maker (a Dahua
#: recorder's bare ``NVR``) still names its network card's maker through the MAC's prefix.
_IF_PHYS = re.compile(
    r"^[ \t]*(?:(?:IF-MIB::)?ifPhysAddress|\.?1\.3\.6\.1\.2\.1\.2\.2\.1\.6)\.(?P<index>\d{1,10})[ \t]*"
    r"(?:=[ \t]*(?:STRING:|Hex-STRING:)?|\|(?P<tag>\w{1,4})\|)[ \t]*(?P<value>[^\r\n]*)",
    re.MULTILINE,
)
#: ipAdEntIfIndex (IP-MIB, RFC 4293: 1.3.6.1.2.1.4.20.1.2.<address>): the interface holding each
#: IPv4 address.  The MAC of an interface that holds an address other than loopback is put first:
#: the first MAC is the scanned host's matching key, and a recorder's other interfaces (a PoE
#: switch, a second card) are not the one it was reached on.
_IP_IFINDEX = re.compile(
    r"^[ \t]*(?:(?:IP-MIB::|RFC1213-MIB::)?ipAdEntIfIndex|\.?1\.3\.6\.1\.2\.1\.4\.20\.1\.2)"
    r"\.(?P<address>\d{1,3}(?:\.\d{1,3}){3})[ \t]*(?:=[ \t]*(?:INTEGER:)?|\|\w{1,4}\|)[ \t]*(?P<index>\d{1,10})",
    re.MULTILINE,
)
#: MACs taken from one walk at most (a hostile walk could list thousands of interfaces).
MAX_WALK_MACS = 32
_MAC_OCTETS = re.compile(r"[0-9A-Fa-f]{1,2}(?:[:\- ][0-9A-Fa-f]{1,2}){5}")


def _phys_mac(tag: str | None, value: str) -> str | None:
    """The 12 hex digits of an ifPhysAddress value, or None (empty, not six octets, all zero, or
    a group address: broadcast or multicast, which no interface owns and which would make every
    device reporting it one device, the host's first MAC being its matching key)."""
    value = value.strip().strip('"').strip()
    if tag is not None and tag.endswith("x"):
        hx = value.upper()
        ok = len(hx) == 12 and all(c in "0123456789ABCDEF" for c in hx)
    else:
        m = _MAC_OCTETS.fullmatch(value)
        if m is None:
            return None
        hx = "".join(part.rjust(2, "0") for part in re.split(r"[:\- ]", value)).upper()
        ok = True
    return hx if ok and hx != "000000000000" and not int(hx[1], 16) & 1 else None


def _interface_macs(facts: Facts, kind: str, text: str) -> None:
    """The interfaces' MACs of a walk, those of interfaces holding an address first."""
    addressed = {m.group("index") for m in _IP_IFINDEX.finditer(text) if not m.group("address").startswith("127.")}
    found: list[tuple[bool, str]] = []
    for m in _IF_PHYS.finditer(text):
        hx = _phys_mac(m.group("tag"), m.group("value"))
        if hx is not None and all(hx != seen for _first, seen in found):
            found.append((m.group("index") not in addressed, hx))
            if len(found) >= MAX_WALK_MACS:
                break
    for _later, hx in sorted(found, key=lambda pair: pair[0]):  # (stable: walk order otherwise)
        if (kind, hx) not in facts.macs:
            facts.macs.append((kind, hx))


def _snmprec_value(tag: str, value: str) -> str:
    """An snmpsim record value as text: tags ending in ``x`` carry the bytes in hex."""
    if tag.endswith("x"):
        try:
            return bytes.fromhex(value.strip()).decode("utf-8", errors="replace")
        except ValueError:
            return value
    return value


def _snmp(facts: Facts, obs: dict[str, Any]) -> None:
    """SNMP: ``sysdescr`` / ``sysobjectid`` fields, or an ``snmpwalk`` / ``snmpget`` printout in
    ``raw``.  The enterprise arc of the sysObjectID, and of private objects the device answers,
    names the organisation that registered it (its IANA Private Enterprise Number)."""
    descr, oid = obs.get("sysdescr"), obs.get("sysobjectid")
    for name, value in (("sysdescr", descr), ("sysobjectid", oid)):
        if value is not None and not isinstance(value, str):
            raise ObservationError(f"snmp.{name} must be a string")
    if descr:
        facts.text("snmp.sysdescr", "snmp", clean_text(descr[:4096]))
        facts.makers.append(("snmp", "sysDescr", _value(clean_text(descr[:4096]))))
    if oid:
        _snmp_text(facts, "snmp", oid[:1024], with_descr=False)
    if "raw" in obs and descr is None and oid is None:
        _snmp_text(facts, "snmp", _raw(obs)[:65536])


def _snmp_text(facts: Facts, kind: str, text: str, with_descr: bool = True) -> None:
    """sysDescr and enterprise arcs from SNMP text: a bare OID, ``snmpget`` / ``snmpwalk`` lines."""
    oids: list[str] = []
    descr = None
    for m in _SNMP_LINE.finditer(text):
        what, value = m.group(1).lower(), m.group(2).strip().strip('"')
        if what == "descr" and descr is None:
            descr = value
        elif what == "objectid":
            oids.append(value)
    for m in _SNMP_NUMERIC.finditer(text):
        value = _snmprec_value(m.group(2) or "", m.group(3)).strip().strip('"')
        if m.group(1) == "1" and descr is None:
            descr = value
        elif m.group(1) == "2":
            oids.append(value)
    if descr and with_descr:
        facts.text("snmp.sysdescr", kind, descr[:4096])
        # RFC 3418: sysDescr "should include the full name and version identification of the
        # system's hardware type": a maker named there is the device naming its maker.
        facts.makers.append((kind, "sysDescr", _value(descr)))
    _interface_macs(facts, kind, text)
    oids.extend(m.group(1) for m in _WALKED.finditer(text))
    if not oids:
        oids.append(text[:1024])
    seen: set[str] = set()
    for item in oids[:5000]:
        if (hit := _OID.search(item)) and (arc := hit.group(1).split(".", 1)[0]) not in seen:
            seen.add(arc)
            facts.text("snmp.oid", kind, "1.3.6.1.4.1." + hit.group(1))


def _favicon(facts: Facts, obs: dict[str, Any]) -> None:
    """A web interface's icon, as the MurmurHash3 that Shodan and others publish (``hash``), or
    as the icon's bytes in base64 (``base64``), hashed here the same way: mmh3 (32-bit, signed)
    of the base64 text with a newline every 76 characters."""
    value = obs.get("hash")
    if value is None and isinstance(obs.get("base64"), str):
        import base64
        import binascii

        import mmh3

        try:
            data = base64.b64decode(obs["base64"][: MAX_RAW_CHARS * 2], validate=False)
        except (binascii.Error, ValueError):
            raise ObservationError("favicon.base64 is not base64") from None
        value = mmh3.hash(base64.encodebytes(data))
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ObservationError("favicon observation needs a hash (integer) or base64 bytes")
    text = str(value).strip()
    if not re.fullmatch(r"-?\d{1,10}", text):
        raise ObservationError("favicon hash must be a 32-bit integer")
    facts.text("favicon", "favicon", text)


#: Pasted scanner output (nmap scripts, httpx, Shodan exports): the favicon hash and title lines.
_PASTED_FAVICON = re.compile(
    r"(?:favicon_mmhash|favicon\.hash|favicon_hash|icon_hash)\s*[:=]\s*\"?(-?\d{1,10})\b", re.IGNORECASE
)
_PASTED_TITLE = re.compile(r"^\|?[ \t]*+http-title\s*:?\s*\r?\n?[ \t|_]*([^\r\n]{1,256})", re.IGNORECASE | re.MULTILINE)


#: ``namespace: http://...`` / ``xmlns="http://..."`` in a tool's log of an XML answer.
_PASTED_NAMESPACE = re.compile(
    r"""\b(?:xmlns(?::\w{1,20})?|namespace)\s*[:=]\s*["']?(https?://[^\s"'<>]{1,200})""", re.IGNORECASE
)
_PASTED_MODEL = re.compile(r"\bmodel\b['\"]?\s*[:=]\s*['\"]?([A-Za-z0-9][\w()/+.-]{2,40})", re.IGNORECASE)
#: A DHIP frame printed as hex words (``20000000|44484950|...``) or as text ("DHIP" then JSON).
_DHIP_PRINT = re.compile(r"\b44484950\b|DHIP")


def _pasted(facts: Facts, kind: str, text: str) -> None:
    """What tools print about a device, found in pasted text: the favicon's mmh3, the page title,
    a certificate's subject and issuer, SNMP objects, DHIP frames, ``Model: ...`` values and
    printed dicts (``{'model': ...}``, a client library's view of ISAPI, RPC2 or SSDP answers)."""
    head = text[:65536]
    for m in _PASTED_FAVICON.finditer(head):
        facts.text("favicon", kind, m.group(1))
    if title := _PASTED_TITLE.search(head):
        facts.text("http.title", kind, _value(title.group(1)))
    if "ubject" in head or "ssuer" in head:
        for name, value in _cert_names(head).items():
            facts.text(f"tls.{name}", kind, value)
            for o in re.finditer(r"(?:^|[,;/]\s*)O\s*=\s*([^,;/]+)", value):
                facts.makers.append((kind, f"certificate {name} O", _value(o.group(1))))
    if "1.3.6.1.4.1." in head or "enterprises." in head or "sysDescr" in head or "1.3.6.1.2.1.1.1.0" in head:
        _snmp_text(facts, kind, head)
    if _DHIP_PRINT.search(head):
        facts.text("dhdiscover", kind, head)
    if model := _PASTED_MODEL.search(head):
        facts.models.append((2, kind, "printed model", _value(model.group(1))))
    for ns in _PASTED_NAMESPACE.finditer(head):  # the XML namespace a tool says the device used
        facts.text("http.body", kind, f'xmlns="{ns.group(1)}"')
    if "{" in head:
        _printed_dict(facts, kind, head)
    elif ":" in head or "=" in head:
        _printout_facts(facts, kind, head)  # ``Vendor: EZIP, Version: ...`` console summaries


#: Keys of printed dicts (ISAPI deviceInfo via xmltodict, RPC2 params, SSDP headers), lower case.
_DICT_TEXT_FIELDS = {"server": "http.server", "location": "url", "usn": "url", "st": "url"}


def _printed_dict(facts: Facts, kind: str, text: str) -> None:
    """A dict or JSON object printed by a tool (quotes of either kind, possibly cut short)."""
    flat: dict[str, str] = {}
    for key, value in json_text_pairs(text):
        if key == "type" and key in flat and not _looks_like_model(flat[key]) and _looks_like_model(value):
            flat[key] = value  # several replies printed in a row: getDeviceClass "IPC", then getDeviceType
        else:
            flat.setdefault(key, value)
    if not flat:
        return
    for key, fld in _DICT_TEXT_FIELDS.items():
        if flat.get(key):
            facts.text(fld, kind, flat[key][:2048])
    if namespace := flat.get("@xmlns"):  # an XML namespace, printed as an attribute
        facts.text("http.body", kind, f'xmlns="{namespace[:256]}"')
    if realm := flat.get("realm"):  # a DHIP / RPC2 login challenge names its realm
        facts.text("auth", kind, f'realm="{realm[:256]}"')
    description = flat.get("devicedescription", "")
    if description and "model" not in flat and _looks_like_model(description):
        flat["model"] = description
    _device_info_facts(facts, kind, {k: v for k, v in flat.items() if k != "type" or _looks_like_model(v)})


def _banner(facts: Facts, obs: dict[str, Any]) -> None:
    """A greeting (telnet, FTP...), or a tool's report pasted as one: both are read."""
    raw = _raw(obs)
    for text in (raw, _record_taken_apart(obs, raw)):
        if text:
            facts.text("banner", "banner", text)
            _pasted(facts, "banner", text)


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


def _record_taken_apart(obs: dict[str, Any], raw: str) -> str | None:
    """The JSON / Python-literal record ``_raw`` took an answer out of (:func:`printouts.unwrap`),
    cleaned as before, or None.  Its other members (a printed response's headers, a device's
    own reply around a long multi-line value) are evidence too: the readers that read such
    records read it as well, as they did before the answer was taken out."""
    printed: str = obs["raw"]
    first = printed[:256].lstrip()[:1]  # no copy of the whole answer on the hot path
    if first in ("{", "[") and raw[:256].lstrip()[:1] != first:
        return clean_text(printed[:MAX_RAW_CHARS].lstrip())
    return None


#: Kinds whose raw text is one device's answer: the user's lines before it are not evidence
#: (``printouts.answer_start``).  Banners and SNMP texts are often whole pasted reports.
_ANSWER_KINDS = frozenset({"http", "rtsp", "onvif", "sadp", "upnp", "dhdiscover"})


def _raw(obs: dict[str, Any]) -> str:
    """The capped raw text as the device sent it, as far as it can be told: the string or record
    a tool printed it in taken away (a REPL's echo, a logger's ``%r``, a JSON log record), then
    terminal colours, written-out byte escapes and control characters removed, then the line
    prefixes, hex dump layout or entity escaping of a printout undone (:mod:`printouts`)."""
    raw = obs.get("raw")
    if not isinstance(raw, str):
        raise ObservationError(f"{obs.get('kind')} observation needs a raw string")
    text = unprint(clean_text(unwrap(unframe(raw[:MAX_RAW_CHARS]))))
    # (an ngrep printout is made whole first: its packet lines are not a preamble)
    kind = obs.get("kind")
    if kind not in _ANSWER_KINDS:
        return text
    return answer_start(undo_ngrep(text), headers=kind in ("http", "rtsp"))


PARSERS: dict[str, Any] = {
    "inventory": _inventory,
    "mac": _mac,
    "http": _http,
    "rtsp": _rtsp,
    "onvif": _xml_kind("onvif"),
    "sadp": _sadp,
    "upnp": _xml_kind("upnp"),
    "dhdiscover": _dhdiscover,
    "tls": _tls,
    "banner": _banner,
    "snmp": _snmp,
    "favicon": _favicon,
}


def gather(observations: list[Any]) -> Facts:
    """All facts of one device.  Raises :class:`ObservationError` for a malformed observation."""
    facts = Facts()
    for parser, obs in _parsable(observations, facts):
        parser(facts, obs)
    return facts


def _parsable(observations: list[Any], facts: Facts) -> Iterator[tuple[Any, dict[str, Any]]]:
    """Each observation with its kind's parser; a malformed one raises, an unknown kind is noted
    in ``facts`` and skipped (the one check :func:`gather` and :func:`gather_cached` share)."""
    for i, obs in enumerate(observations):
        if not isinstance(obs, dict):
            raise ObservationError(f"observation {i + 1} is not an object")
        kind = obs.get("kind")
        parser = PARSERS.get(kind) if isinstance(kind, str) else None
        if parser is None:
            facts.notes.append((str(kind)[:40], "unknown observation kind: ignored"))
            continue
        yield parser, obs


#: Distinct answers whose facts :data:`ANSWERS` keeps, and the answer bytes they may stand for.
ANSWER_CACHE_ENTRIES = 20_000
ANSWER_CACHE_BYTES = 32 * 1024 * 1024
_FACT_LISTS = tuple(f.name for f in dataclasses.fields(Facts) if f.name != "texts")


class AnswerFacts:
    """The facts of single answers, by a digest of the answer's content.

    Sound because every parser is a function of its one observation that only appends to the
    facts (no parser reads what another answer put there), so the facts of several answers
    are the facts of each, concatenated in order: :func:`gather_cached` gives exactly what
    :func:`gather` gives.  It pays where answers repeat: a scan reads each answer twice (the
    MAC, serial and firmware for matching, then the identification of the stored device), the
    same model serves the same web page on every camera, and a re-scan hears the same answers.
    Bounded by entries and by the size of the answers it stands for; when full, the older half
    goes (emptying it all made a busy server parse a whole upload twice: the identification
    read came after the cache had been emptied by the same upload's matching read).
    Inventory rows are never kept: each names one device, so they never repeat, and they are
    cheaper to read than to look up.
    """

    def __init__(self, entries: int = ANSWER_CACHE_ENTRIES, size: int = ANSWER_CACHE_BYTES) -> None:
        self.entries = entries
        self.size = size
        self._facts: dict[bytes, tuple[Facts, int]] = {}
        self._bytes = 0
        self.hits = 0
        self.misses = 0
        # the process's cache is filled by every scan and upload its threads merge at once:
        # making room walks the dict, which another thread's insert would change under it
        self._lock = threading.Lock()

    def facts(self, parser: Any, obs: dict[str, Any]) -> Facts:
        """The facts of one observation (never to be changed by the caller)."""
        found = answer_key(obs)
        if found is None:  # an inventory row, or a value whose JSON would not tell it apart
            fresh = Facts()
            parser(fresh, obs)
            return fresh
        key, size = found
        hit = self.lookup(key)
        if hit is not None:
            self.hits += 1
            return hit
        self.misses += 1
        one = Facts()
        parser(one, obs)  # an ObservationError leaves nothing cached
        self.keep(key, size, one)
        return one

    def lookup(self, key: bytes) -> Facts | None:
        hit = self._facts.get(key)
        return hit[0] if hit is not None else None

    def keep(self, key: bytes, size: int, one: Facts) -> None:
        """Keep ``one`` under ``key``, making room by dropping the oldest entries."""
        with self._lock:
            if key in self._facts:
                return
            if len(self._facts) >= self.entries or self._bytes + size > self.size:
                self._shrink(size)
            self._facts[key] = (one, size)
            self._bytes += size

    def _shrink(self, size: int) -> None:
        keep_entries = self.entries // 2
        keep_bytes = max(0, min(self.size // 2, self.size - size))
        drop = 0
        for _key, (_facts, n) in self._facts.items():
            if len(self._facts) - drop <= keep_entries and self._bytes <= keep_bytes:
                break
            drop += 1
            self._bytes -= n
        for key in list(itertools.islice(self._facts, drop)):
            del self._facts[key]
        if not self._facts:
            self._bytes = 0

    def clear(self) -> None:
        with self._lock:
            self._facts.clear()
            self._bytes = 0


def answer_key(obs: dict[str, Any]) -> tuple[bytes, int] | None:
    """(digest of the answer, its size) as :class:`AnswerFacts` keys it, or None for an answer
    that is not kept (an inventory row; a value whose JSON would not tell it apart).  The
    ``vantage`` a stored answer carries is left out: no parser reads it, so the scan's own
    read of an answer and the identification's read of it stored share one entry."""
    if obs.get("kind") == "inventory" or not _plain(obs):
        return None
    if "vantage" in obs:
        obs = {k: v for k, v in obs.items() if k != "vantage"}
    data = orjson.dumps(obs, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(data, digest_size=16).digest(), len(data)


_PLAIN = frozenset((str, int, float, bool, type(None)))


def _plain(obs: dict[str, Any]) -> bool:
    """Only text, numbers, booleans and nulls, at the top or one object down (an inventory's
    ``fields``): then two answers with the same JSON are the same answer to every parser."""
    for key, value in obs.items():
        if type(key) is not str:
            return False
        kind = type(value)
        if kind in _PLAIN:
            continue
        if kind is not dict:
            return False
        for k, v in value.items():
            if type(k) is not str or type(v) not in _PLAIN:
                return False
    return True


#: The process's cache of answer facts (shared by scans and identification).
ANSWERS = AnswerFacts()


class ScanAnswers(AnswerFacts):
    """One scan's answers, each parsed at most once while the scan is stored: first the facts
    its collector sent with it (``supplied``, by :func:`answer_key`), then what this scan read
    already, then the process's cache (``base``), and only then the parser.

    Facts a collector sent stand for its own answers in its own scan and nowhere else: they never
    enter the process's cache, so one collector cannot change how another's (or a local scan's)
    identical answer is read.  What the parser reads here is kept in both."""

    def __init__(self, supplied: dict[bytes, Facts] | None = None, base: AnswerFacts | None = None) -> None:
        super().__init__()
        self.supplied = supplied or {}
        self.base = ANSWERS if base is None else base
        self.used = 0

    def lookup(self, key: bytes) -> Facts | None:
        hit = self.supplied.get(key)
        if hit is not None:
            self.used += 1
            return hit
        return super().lookup(key) or self.base.lookup(key)

    def keep(self, key: bytes, size: int, one: Facts) -> None:
        super().keep(key, size, one)
        self.base.keep(key, size, one)


def _merge(facts: Facts, one: Facts) -> None:
    for fld, values in one.texts.items():
        facts.texts.setdefault(fld, []).extend(values)
    for name in _FACT_LISTS:
        values = getattr(one, name)
        if values:
            getattr(facts, name).extend(values)


def gather_cached(observations: list[Any], cache: AnswerFacts | None = None) -> Facts:
    """:func:`gather`, with each answer's facts taken from ``cache`` (default :data:`ANSWERS`)
    when the same answer was read before."""
    store = ANSWERS if cache is None else cache
    facts = Facts()
    for parser, obs in _parsable(observations, facts):
        _merge(facts, store.facts(parser, obs))
    return facts
