"""Channels behind a recorder, read from the recorder's own lists (pure functions, no I/O).

An NVR or DVR answers for the cameras behind it: Hikvision ISAPI lists its IP channels in
``/ISAPI/ContentMgmt/InputProxy/channels`` (address, model, serial, firmware as the camera
reported them), their state in ``.../channels/status`` (``online``, ``chanDetectResult``) and its
analogue inputs in ``/ISAPI/System/Video/inputs/channels``; Dahua lists its remote devices in
``configManager.cgi?action=getConfig&name=RemoteDevice`` (``key=value`` lines, one slot per
channel) and the channel names in ``name=ChannelTitle``.  The shapes follow published real
answers (docs/discovery.md names them).

Everything here is hostile input: a list may be huge, cut, malformed, list the recorder itself,
or name addresses anywhere.  Counts and field lengths are capped, every problem becomes a line
in ``errors`` (reported per host), and nothing here ever leads to a connection: the addresses
are recorded, never contacted.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET  # type: ignore[import-untyped]
from defusedxml.common import DefusedXmlException  # type: ignore[import-untyped]

MAX_CHANNELS = 512  # the largest recorders have 256 channels; twice that is a hostile list
MAX_LIST_CHARS = 2 * 1024 * 1024
MAX_FIELD = 128
MAX_CHANNEL_NUMBER = 4096
MAX_ERRORS = 20

HIK_PROXY_PATH = "/ISAPI/ContentMgmt/InputProxy/channels"
HIK_STATUS_PATH = "/ISAPI/ContentMgmt/InputProxy/channels/status"
HIK_INPUTS_PATH = "/ISAPI/System/Video/inputs/channels"
DAHUA_REMOTE_PATH = "/cgi-bin/configManager.cgi?action=getConfig&name=RemoteDevice"
DAHUA_TITLE_PATH = "/cgi-bin/configManager.cgi?action=getConfig&name=ChannelTitle"

#: Dahua writes unused slots with this placeholder address (and Enable=false)
_PLACEHOLDER_ADDRESSES = {"0.0.0.0", "192.168.0.0"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Channel:
    """One camera input of a recorder.  ``address`` is the camera's IP as the recorder reported
    it (None for an analogue input or a name that is not an IP); it is never contacted."""

    number: int
    analog: bool = False
    name: str = ""
    address: str | None = None
    port: int | None = None
    protocol: str = ""
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None
    mac: str | None = None
    online: bool | None = None
    detail: str = ""

    @property
    def key(self) -> str:
        """``A3`` for analogue input 3, ``D3`` for IP channel 3, as the makers' own screens say."""
        return f"{'A' if self.analog else 'D'}{self.number}"

    def inventory(self) -> dict[str, Any]:
        """What the recorder says about the camera, in the shape ``identify`` reads."""
        fields = {"model": self.model, "serial": self.serial, "firmware": self.firmware, "mac": self.mac}
        return {"kind": "inventory", "fields": {k: v for k, v in fields.items() if v} | {"device_type": "camera"}}

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.key,
            "number": self.number,
            "analog": self.analog,
            "name": self.name,
            "address": self.address,
            "port": self.port,
            "protocol": self.protocol,
            "model": self.model,
            "serial": self.serial,
            "firmware": self.firmware,
            "mac": self.mac,
            "online": self.online,
            "detail": self.detail,
        }


@dataclass(slots=True)
class ChannelReport:
    channels: list[Channel] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def error(self, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(message)


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    # line breaks and tabs become spaces: a name with CR/LF would reach e-mail headers and logs
    text = " ".join(_CONTROL.sub("", value).split())[:MAX_FIELD]
    return text or None


def _ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def _int(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit() or len(value.strip()) > 6:
        return None
    return int(value.strip())


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name:
            return child.text
    return None


def _xml(text: str) -> Element | None:
    """The document's root, or None when it is not well-formed XML (or carries a DTD/entities)."""
    try:
        root: Element = SafeET.fromstring(text.encode("utf-8", errors="replace"))
        return root
    except (SafeET.ParseError, DefusedXmlException, ValueError):
        return None


def _blocks(text: str, tag: str) -> list[str]:
    """Text-level fallback: each ``<tag ...>...</tag>`` (or the cut last one) in broken XML."""
    opener = re.compile(rf"<(?:\w+:)?{tag}\b[^>]*>", re.IGNORECASE)
    starts = [m.end() for m in opener.finditer(text)]
    out = []
    for i, start in enumerate(starts[: MAX_CHANNELS + 1]):
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        out.append(text[start:end])
    return out


def _text_field(block: str, name: str) -> str | None:
    m = re.search(rf"<(?:\w+:)?{name}\b[^>]*>([^<]*)<", block, re.IGNORECASE)
    return m.group(1) if m else None


class _Fields:
    """Field lookup over a parsed element or, when the XML was broken, over raw text."""

    def __init__(self, element: Element | None = None, text: str = "") -> None:
        self.values: dict[str, str | None] = {}
        if element is not None:
            for node in element.iter():
                self.values.setdefault(_local(node.tag), node.text)
        self.text = text

    def get(self, name: str) -> str | None:
        if name in self.values:
            return self.values[name]
        return _text_field(self.text, name) if self.text else None


def _entries(text: str, tag: str, report: ChannelReport, what: str) -> list[_Fields]:
    """The list's entries: structured when the XML parses, else read from the text."""
    if len(text) > MAX_LIST_CHARS:
        report.error(f"{what}: answer cut at {MAX_LIST_CHARS // 1024} KiB")
        text = text[:MAX_LIST_CHARS]
    root = _xml(text)
    if root is not None:
        return [_Fields(e) for e in root.iter() if _local(e.tag) == tag]
    blocks = _blocks(text, tag)
    if blocks or text.strip():
        report.error(
            f"{what}: malformed XML; {len(blocks)} entr{'y' if len(blocks) == 1 else 'ies'} read from the text"
        )
    return [_Fields(text=b) for b in blocks]


def _accept(report: ChannelReport, seen: set[str], channel: Channel, what: str) -> None:
    if len(report.channels) >= MAX_CHANNELS:
        if len(report.channels) == MAX_CHANNELS and not any("more than" in e for e in report.errors):
            report.error(f"{what}: more than {MAX_CHANNELS} channels; the rest left out")
        return
    if channel.key in seen:
        report.error(f"{what}: channel {channel.key} listed twice; the first kept")
        return
    seen.add(channel.key)
    report.channels.append(channel)


def _number(raw: str | None, report: ChannelReport, what: str) -> int | None:
    number = _int(raw)
    if number is None or not 1 <= number <= MAX_CHANNEL_NUMBER:
        report.error(f"{what}: channel id {str(raw)[:20]!r} is not a channel number; entry left out")
        return None
    return number


def parse_hikvision_proxy_channels(text: str) -> ChannelReport:
    """``InputProxyChannelList``: the IP channels, each with what the camera told the recorder."""
    report = ChannelReport()
    seen: set[str] = set()
    what = "IP channel list"
    for entry in _entries(text, "InputProxyChannel", report, what):
        number = _number(entry.get("id"), report, what)
        if number is None:
            continue
        raw_address = _clean(entry.get("ipAddress")) or _clean(entry.get("hostName"))
        address = _ip(raw_address)
        _accept(
            report,
            seen,
            Channel(
                number=number,
                name=_clean(entry.get("name")) or "",
                address=address,
                port=_int(entry.get("managePortNo")),
                protocol=_clean(entry.get("proxyProtocol")) or "",
                model=_clean(entry.get("model")),
                serial=_clean(entry.get("serialNumber")),
                firmware=_clean(entry.get("firmwareVersion")),
                detail="" if address or not raw_address else f"host {raw_address}",
            ),
            what,
        )
    return report


def parse_hikvision_proxy_status(text: str) -> tuple[dict[int, tuple[bool | None, str]], list[str]]:
    """``InputProxyChannelStatusList``: channel id -> (online, ``chanDetectResult``).  A channel
    whose answer has no ``online`` is unknown (None), never offline."""
    report = ChannelReport()
    out: dict[int, tuple[bool | None, str]] = {}
    for entry in _entries(text, "InputProxyChannelStatus", report, "IP channel status"):
        number = _int(entry.get("id"))
        if number is None or number in out or len(out) >= MAX_CHANNELS:
            continue
        online_raw = (entry.get("online") or "").strip().lower()
        online = True if online_raw == "true" else False if online_raw == "false" else None
        out[number] = (online, _clean(entry.get("chanDetectResult")) or "")
    return out, report.errors


def parse_hikvision_video_inputs(text: str) -> ChannelReport:
    """``VideoInputChannelList``: the analogue inputs (no address).  ``resDesc`` of ``NO VIDEO``
    means nothing is plugged in or the camera is dark: offline."""
    report = ChannelReport()
    seen: set[str] = set()
    what = "analogue input list"
    for entry in _entries(text, "VideoInputChannel", report, what):
        number = _number(entry.get("id"), report, what)
        if number is None:
            continue
        res = _clean(entry.get("resDesc")) or ""
        enabled = (entry.get("videoInputEnabled") or "true").strip().lower() != "false"
        online = None if not res else res.upper() != "NO VIDEO"
        _accept(
            report,
            seen,
            Channel(
                number=number,
                analog=True,
                name=_clean(entry.get("name")) or "",
                protocol="analog",
                online=online if enabled else False,
                detail=res if enabled else "input disabled",
            ),
            what,
        )
    return report


def merge_hikvision(
    proxy: ChannelReport, status: dict[int, tuple[bool | None, str]], inputs: ChannelReport
) -> ChannelReport:
    """IP channels with their state, then the analogue inputs."""
    merged = ChannelReport(errors=[*proxy.errors, *inputs.errors][:MAX_ERRORS])
    for ch in proxy.channels:
        online, detail = status.get(ch.number, (None, ""))
        merged.channels.append(replace(ch, online=online, detail=detail or ch.detail))
    room = MAX_CHANNELS - len(merged.channels)
    merged.channels.extend(inputs.channels[:room])
    return merged


_DAHUA_LINE = re.compile(r"^table\.RemoteDevice\.(?:uuid:)?([^.=]+?)_(\d+)\.([\w\[\]\.]+)=(.*)$")
_DAHUA_TITLE = re.compile(r"^table\.ChannelTitle\[(\d+)\]\.Name=(.*)$")


def parse_dahua_remote_devices(text: str) -> ChannelReport:
    """``table.RemoteDevice.uuid:System_CONFIG_NETCAMERA_INFO_<slot>.<Field>=<value>``: slot n is
    channel n+1.  A slot with ``Enable=false`` or the placeholder address is an empty channel."""
    report = ChannelReport()
    what = "remote device list"
    if len(text) > MAX_LIST_CHARS:
        report.error(f"{what}: answer cut at {MAX_LIST_CHARS // 1024} KiB")
        text = text[:MAX_LIST_CHARS]
    slots: dict[int, dict[str, str]] = {}
    odd = 0
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        m = _DAHUA_LINE.match(line)
        if m is None:
            odd += 1
            continue
        slot = int(m.group(2)) if len(m.group(2)) <= 5 else MAX_CHANNEL_NUMBER
        if slot >= MAX_CHANNEL_NUMBER:
            odd += 1
            continue
        if slot not in slots and len(slots) >= MAX_CHANNELS:
            if not any("more than" in e for e in report.errors):
                report.error(f"{what}: more than {MAX_CHANNELS} slots; the rest left out")
            continue
        slots.setdefault(slot, {}).setdefault(m.group(3), m.group(4))
    if odd:
        report.error(f"{what}: {odd} line(s) not in the key=value form were ignored")
    for slot in sorted(slots):
        values = slots[slot]
        enabled = values.get("Enable", "true").strip().lower() == "true"
        address = _ip(values.get("Address"))
        if not enabled or address in _PLACEHOLDER_ADDRESSES:
            continue
        name = values.get("VideoInputs[0].Name") or values.get("Name") or ""
        report.channels.append(
            Channel(
                number=slot + 1,
                name=_clean(name) or "",
                address=address,
                port=_int(values.get("Port")),
                protocol=_clean(values.get("ProtocolType") or values.get("Vendor")) or "",
                model=_clean(values.get("DeviceType")),
                serial=_clean(values.get("SerialNo")),
                firmware=_clean(values.get("Version")),
                mac=_clean(values.get("Mac")),
            )
        )
    return report


def parse_dahua_channel_titles(text: str) -> dict[int, str]:
    """``table.ChannelTitle[i].Name=...``: channel i+1 -> its name."""
    out: dict[int, str] = {}
    for line in text[:MAX_LIST_CHARS].splitlines():
        m = _DAHUA_TITLE.match(line.strip())
        if m and len(m.group(1)) <= 5 and len(out) < MAX_CHANNELS:
            out.setdefault(int(m.group(1)) + 1, _clean(m.group(2)) or "")
    return out


def merge_dahua(remote: ChannelReport, titles: dict[int, str]) -> ChannelReport:
    """Remote devices named by their channel titles where the slot itself has no name."""
    merged = ChannelReport(errors=list(remote.errors))
    for ch in remote.channels:
        merged.channels.append(replace(ch, name=ch.name or titles.get(ch.number, "")))
    return merged


def drop_self(report: ChannelReport, recorder_ip: str, recorder_serials: list[str]) -> ChannelReport:
    """Leave out channels that name the recorder itself (its own address or serial): a list
    that points back at its recorder would make the recorder its own camera."""
    own = {s.upper() for s in recorder_serials if s and len(s) >= 6}
    kept = ChannelReport(errors=list(report.errors))
    for ch in report.channels:
        serial = (ch.serial or "").upper()
        distinct = len(serial) >= 9 and len(set(serial)) > 2  # not "000000000" nor a short tag
        same = serial and any(serial == s or (distinct and (serial in s or s in serial)) for s in own)
        if ch.address == recorder_ip or same:
            kept.error(f"channel {ch.key} names the recorder itself; left out")
            continue
        kept.channels.append(ch)
    return kept
