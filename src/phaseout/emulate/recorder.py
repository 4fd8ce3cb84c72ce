"""The channel lists of emulated recorders, in the shapes real firmware sends.

Hikvision (element order, namespaces, the ``size`` attribute that does not count the entries,
ONVIF entries without ``enableAnr``/``devIndex``, an offline camera whose model, serial and
firmware are empty, ``NO VIDEO`` on a dark analogue input, 403 for analogue inputs on an NVR
that has none) follows the answers published in maciej-or/hikvision_next
tests/fixtures/devices/*.json (commit f6dac0da) and kou147258/hikvision-isapi-performance
tests/fixtures_v08/*InputProxy_channels.xml (commit 0a06fc91); the status list follows the
per-channel status that repository's tests/test_v074_snapshot_and_recording.py (commit 153d464c)
quotes from a DS-7708N-I4.  Dahua's ``table.RemoteDevice`` / ``table.ChannelTitle`` lines
follow the field names and order of the published answers listed in docs/discovery.md.

Channels are plain dicts on the :class:`~phaseout.emulate.devices.Device` so a test can change
them between scans (a camera unplugged, a hostile entry added).  Hostile quirks: ``huge`` (a
list of 5,000 entries), ``truncated`` (the list cut mid-element), ``self`` (an entry naming the
recorder itself), ``bad-ids`` (ids that are not numbers, duplicated ids).
"""

from __future__ import annotations

import uuid
from typing import Any
from xml.sax.saxutils import escape

QUIRKS = ("", "huge", "truncated", "self", "bad-ids")


def plan_channels(spec: dict[str, Any], ip: str, serial: str, count: int | None = None) -> list[dict[str, Any]]:
    """The channels of one recorder from its profile's ``[channels]`` table: ``ip`` entries
    cycled up to ``ip_count`` (or ``count``), then ``analog_count`` analogue inputs."""
    if not spec:
        return []
    entries = spec.get("ip", [])
    ip_count = spec.get("ip_count", len(entries)) if count is None else count
    out: list[dict[str, Any]] = []
    octets = ip.split(".")
    for i in range(ip_count if entries else 0):
        entry = entries[i % len(entries)]
        n = i + 1
        tail = f"{serial[-5:]}{n:03d}"
        values = {"n": n, "tail": tail, "a": octets[2], "b": octets[3], "model": entry.get("model", "")}
        out.append(
            {
                "number": n,
                "analog": False,
                "name": str(entry.get("name", "IPCamera {n:02d}")).format(**values),
                "protocol": entry.get("protocol", "HIKVISION"),
                "port": entry.get("port", 8000),
                "address": str(spec.get("address", "192.168.254.{n}")).format(**values),
                "model": entry.get("model", ""),
                "serial": str(entry.get("serial", "")).format(**values),
                "firmware": entry.get("firmware", ""),
                "mac": str(entry.get("mac", "")).format(**values),
                "vendor": entry.get("vendor", ""),
                "truth": entry.get("truth", ""),
                "online": bool(entry.get("online", True)),
                "dev_index": str(uuid.uuid5(uuid.NAMESPACE_OID, f"{ip}/{n}")),
            }
        )
    for i in range(spec.get("analog_count", 0)):
        n = i + 1
        dark = n in spec.get("analog_dark", [])
        out.append(
            {
                "number": n,
                "analog": True,
                "name": f"Camera {n:02d}",
                "resolution": "NO VIDEO" if dark else spec.get("analog_resolution", "1920*1080(1080P)P25"),
            }
        )
    return out


def _hik_open(root: str, spec: dict[str, Any], extra: str = "") -> str:
    version = spec.get("isapi_version", "2.0")
    ns = spec.get("isapi_namespace", "http://www.isapi.org/ver20/XMLSchema")
    return f'<?xml version="1.0" encoding="UTF-8" ?>\n<{root} version="{version}" xmlns="{ns}"{extra}>\n'


def _hik_channel(ch: dict[str, Any], spec: dict[str, Any], cid: str) -> str:
    known = ch["online"] or spec.get("offline_keeps_model", False)
    model, serial, firmware = (ch["model"], ch["serial"], ch["firmware"]) if known else ("", "", "")
    onvif = ch["protocol"] != "HIKVISION"
    lines = [
        "<InputProxyChannel>",
        f"<id>{cid}</id>",
        f"<name>{escape(ch['name'])}</name>",
        "<sourceInputPortDescriptor>",
        f"<proxyProtocol>{escape(ch['protocol'])}</proxyProtocol>",
        "<addressingFormatType>ipaddress</addressingFormatType>",
        f"<ipAddress>{escape(ch['address'])}</ipAddress>",
        f"<managePortNo>{ch['port']}</managePortNo>",
        "<srcInputPort>1</srcInputPort>",
        "<userName>admin</userName>",
        *(["<connMode>plugplay</connMode>"] if spec.get("poe") and not onvif else []),
        "<streamType>auto</streamType>",
        f"<model>{escape(model)}</model>",
        f"<serialNumber>{escape(serial)}</serialNumber>",
        f"<firmwareVersion>{escape(firmware)}</firmwareVersion>",
        "<deviceID></deviceID>",
        "</sourceInputPortDescriptor>",
        "<certificateValidationEnabled>false</certificateValidationEnabled>",
        f"<defaultAdminPortEnabled>{'true' if spec.get('poe') else 'false'}</defaultAdminPortEnabled>",
        *([] if onvif else ["<enableAnr>false</enableAnr>"]),
        "<enableTiming>true</enableTiming>",
        *([] if onvif else [f"<devIndex>{ch['dev_index']}</devIndex>"]),
        "</InputProxyChannel>",
    ]
    return "\n".join(lines) + "\n"


def hikvision_proxy_channels(channels: list[dict[str, Any]], spec: dict[str, Any], recorder: dict[str, str]) -> str:
    """``GET /ISAPI/ContentMgmt/InputProxy/channels``."""
    ip_channels = [c for c in channels if not c["analog"]]
    quirk = spec.get("quirk", "")
    if quirk == "huge":
        template = ip_channels[0] if ip_channels else None
        ip_channels = [dict(template, number=i + 1) for i in range(5000)] if template else []
    if quirk == "self" and ip_channels:
        ip_channels = [*ip_channels, dict(ip_channels[0], number=len(ip_channels) + 1, **recorder)]
    body = _hik_open("InputProxyChannelList", spec, f' size="{spec.get("capacity", len(ip_channels))}"')
    for ch in ip_channels:
        cid = str(ch["number"])
        if quirk == "bad-ids" and ch["number"] % 3 == 0:
            cid = "x" if ch["number"] % 2 else "1"  # not a number / a duplicate of channel 1
        body += _hik_channel(ch, spec, cid)
    body += "</InputProxyChannelList>\n"
    if quirk == "truncated":
        body = body[: int(len(body) * 0.6)]
    return body


def hikvision_proxy_status(channels: list[dict[str, Any]], spec: dict[str, Any]) -> str:
    """``GET /ISAPI/ContentMgmt/InputProxy/channels/status``."""
    body = _hik_open("InputProxyChannelStatusList", spec)
    for ch in channels:
        if ch["analog"]:
            continue
        body += (
            "<InputProxyChannelStatus>\n"
            f"<id>{ch['number']}</id>\n"
            "<sourceInputPortDescriptor>\n"
            f"<proxyProtocol>{escape(ch['protocol'])}</proxyProtocol>\n"
            "<addressingFormatType>ipaddress</addressingFormatType>\n"
            f"<ipAddress>{escape(ch['address'])}</ipAddress>\n"
            f"<managePortNo>{ch['port']}</managePortNo>\n"
            "<srcInputPort>1</srcInputPort>\n"
            "</sourceInputPortDescriptor>\n"
            f"<online>{'true' if ch['online'] else 'false'}</online>\n"
            f"<chanDetectResult>{'connect' if ch['online'] else 'offline'}</chanDetectResult>\n"
            "</InputProxyChannelStatus>\n"
        )
    return body + "</InputProxyChannelStatusList>\n"


def hikvision_video_inputs(channels: list[dict[str, Any]], spec: dict[str, Any]) -> str | None:
    """``GET /ISAPI/System/Video/inputs/channels``; None (403) on a recorder without analogue
    inputs, as the NVRs in the published fixtures answer."""
    analog = [c for c in channels if c["analog"]]
    if not analog:
        return None
    version = spec.get("isapi_version", "2.0")
    ns = spec.get("isapi_namespace", "http://www.isapi.org/ver20/XMLSchema")
    body = _hik_open("VideoInputChannelList", spec)
    for ch in analog:
        body += (
            f'<VideoInputChannel version="{version}" xmlns="{ns}">\n'
            f"<id>{ch['number']}</id>\n<inputPort>{ch['number']}</inputPort>\n"
            f"<videoInputEnabled>true</videoInputEnabled>\n<name>{escape(ch['name'])}</name>\n"
            f"<videoFormat>PAL</videoFormat>\n<resDesc>{escape(ch['resolution'])}</resDesc>\n"
            "</VideoInputChannel>\n"
        )
    return body + "</VideoInputChannelList>\n"


def dahua_remote_devices(channels: list[dict[str, Any]], spec: dict[str, Any], recorder: dict[str, str]) -> str:
    """``configManager.cgi?action=getConfig&name=RemoteDevice``: one slot per channel of the
    recorder's capacity; unused slots disabled with the placeholder address."""
    ip_channels = {c["number"]: c for c in channels if not c["analog"]}
    quirk = spec.get("quirk", "")
    capacity = max(spec.get("capacity", 0), max(ip_channels, default=0))
    if quirk == "huge":
        capacity = 5000
    lines = []
    for slot in range(capacity):
        ch = ip_channels.get(slot + 1) or (
            next(iter(ip_channels.values())) if quirk == "huge" and ip_channels else None
        )
        if quirk == "self" and slot == capacity - 1 and ip_channels:
            ch = dict(next(iter(ip_channels.values())), **recorder)
        key = f"table.RemoteDevice.uuid:System_CONFIG_NETCAMERA_INFO_{slot}"
        if ch is None or (not ch.get("online", True) and spec.get("offline_disabled", False)):
            lines += [f"{key}.Address=192.168.0.0", f"{key}.Enable=false"]
            continue
        # keys in the alphabetical order the CGI prints them, the camera's password included
        # (real firmware sends it in clear; the scanner never keeps it)
        lines += [
            f"{key}.Address={ch['address']}",
            f"{key}.DeviceType={ch['model']}",
            f"{key}.Enable=true",
            f"{key}.HttpPort=80",
            f"{key}.HttpsPort=443",
            f"{key}.Mac={ch.get('mac', '')}",
            f"{key}.Name={ch['name']}",
            f"{key}.Password=emulated-camera",
            f"{key}.Port={ch['port']}",
            f"{key}.ProtocolType={ch['protocol']}",
            f"{key}.RtspPort=554",
            f"{key}.SerialNo={ch['serial']}",
            f"{key}.UserName=admin",
            f"{key}.Vendor={ch.get('vendor') or ('Private' if ch['protocol'] != 'Onvif' else 'Onvif')}",
            f"{key}.Version={ch['firmware']}",
            f"{key}.VideoInputChannels=1",
            f"{key}.VideoInputs[0].Enable=true",
            f"{key}.VideoInputs[0].Name={ch['name']}",
        ]
    if quirk == "bad-ids":  # a slot that is not a number, one far out of range
        lines += [
            "table.RemoteDevice.uuid:System_CONFIG_NETCAMERA_INFO_x.Address=10.0.0.1",
            "table.RemoteDevice.uuid:System_CONFIG_NETCAMERA_INFO_99999999.Address=10.0.0.2",
        ]
    body = "\r\n".join(lines) + "\r\n"
    if quirk == "truncated":
        body = body[: int(len(body) * 0.6)] + "\x00\x00garbage without equals"
    return body


def dahua_channel_titles(channels: list[dict[str, Any]], spec: dict[str, Any]) -> str:
    """``configManager.cgi?action=getConfig&name=ChannelTitle``."""
    names = {c["number"]: c["name"] for c in channels if not c["analog"]}
    capacity = max(spec.get("capacity", 0), max(names, default=0))
    return "".join(f"table.ChannelTitle[{i}].Name={names.get(i + 1, f'IPC{i + 1:02d}')}\r\n" for i in range(capacity))
