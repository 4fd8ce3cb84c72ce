"""The channel-list parsers on published recorder answers (tests/data/channels, sources in
SOURCES.toml), and on hostile lists: huge, cut, malformed, self-referencing, bombs."""

from __future__ import annotations

import tomllib
from pathlib import Path

from phaseout.discover import channels as ch

DATA = Path(__file__).resolve().parents[1] / "data" / "channels"


def _read(name: str) -> str:
    return (DATA / name).read_text("utf-8")


def test_every_sample_names_its_source() -> None:
    sources = tomllib.loads(_read("SOURCES.toml"))
    samples = {p.name for p in DATA.iterdir() if p.name != "SOURCES.toml"}
    assert samples == set(sources)
    assert all(s["source"] and s["licence"] and s["kind"] for s in sources.values())


def test_hikvision_ip_channels_of_a_real_nvr() -> None:
    report = ch.parse_hikvision_proxy_channels(_read("hik_inputproxy_channels_2.xml"))
    assert report.errors == []
    assert [(c.key, c.address, c.model, c.serial, c.firmware, c.port) for c in report.channels] == [
        ("D1", "192.168.254.2", "DS-2CD3T86FWDV3-I3S", "SN-TEST-007", "V5.7.5 build 241103", 8000),
        ("D2", "192.168.254.5", "DS-2CD3T86FWDV3-I3S", "SN-TEST-006", "V5.7.5 build 241103", 8000),
    ]
    assert report.channels[0].name == "摄像机04" and report.channels[0].protocol == "HIKVISION"


def test_cascaded_recorder_and_onvif_camera_keep_their_channels() -> None:
    """A recorder on two channels of another (same serial twice) stays two channels; the ONVIF
    camera keeps its port; size="19" on a 3-entry excerpt is not an error."""
    report = ch.parse_hikvision_proxy_channels(_read("hik_inputproxy_channels_cascade_onvif.xml"))
    assert report.errors == []
    assert [c.key for c in report.channels] == ["D6", "D7", "D8"]
    assert report.channels[0].serial == report.channels[1].serial == "SN-TEST-020"
    onvif = report.channels[2]
    assert (onvif.protocol, onvif.model, onvif.port, onvif.address) == ("ONVIF", "TL-IPC55A", 2020, "192.168.10.12")
    assert onvif.inventory() == {
        "kind": "inventory",
        "fields": {"model": "TL-IPC55A", "serial": "SN-TEST-018", "firmware": "1.0.16 Build 260623 Rel.59092n"}
        | {"device_type": "camera"},
    }


def test_status_of_a_real_channel_and_unknown_is_not_offline() -> None:
    status, errors = ch.parse_hikvision_proxy_status(_read("hik_inputproxy_status_ds7708.xml"))
    assert (status, errors) == ({1: (True, "connect")}, [])
    status, _ = ch.parse_hikvision_proxy_status(
        "<InputProxyChannelStatusList><InputProxyChannelStatus><id>3</id></InputProxyChannelStatus>"
        "<InputProxyChannelStatus><id>4</id><online>false</online></InputProxyChannelStatus></InputProxyChannelStatusList>"
    )
    assert status == {3: (None, ""), 4: (False, "")}


def test_analogue_inputs_of_a_real_dvr() -> None:
    report = ch.parse_hikvision_video_inputs(_read("hik_video_inputs_ids7208.xml"))
    assert report.errors == []
    assert [c.key for c in report.channels] == [f"A{i}" for i in range(1, 9)]
    assert all(c.analog and c.address is None for c in report.channels)
    assert [c.online for c in report.channels] == [True] * 7 + [False]  # input 8: NO VIDEO
    merged = ch.merge_hikvision(ch.ChannelReport(), {}, report)
    assert len(merged.channels) == 8


def test_dahua_remote_devices_skip_empty_slots_and_never_keep_passwords() -> None:
    report = ch.parse_dahua_remote_devices(_read("dahua_remotedevice_nvr.txt"))
    titles = ch.parse_dahua_channel_titles(_read("dahua_channeltitle_nvr.txt"))
    merged = ch.merge_dahua(report, titles)
    assert merged.errors == []
    assert [(c.key, c.address, c.model, c.protocol) for c in merged.channels] == [
        ("D1", "192.168.2.13", "IPC-HDW1025C", "Dahua2"),
        ("D2", "192.168.2.14", "DS-2CD1143G0-I", "Onvif"),
    ]
    assert merged.channels[0].mac == "08:ed:ed:28:8f:97" and merged.channels[1].name == "Front door"
    assert "12345" not in repr(merged.channels) and "12345" not in str([c.as_dict() for c in merged.channels])


def _hik_list(n: int) -> str:
    entry = (
        "<InputProxyChannel><id>{i}</id><name>c{i}</name><sourceInputPortDescriptor>"
        "<ipAddress>10.0.{a}.{b}</ipAddress><model>DS-2CD2143G2-I</model></sourceInputPortDescriptor>"
        "</InputProxyChannel>"
    )
    body = "".join(entry.format(i=i, a=i // 250, b=i % 250) for i in range(1, n + 1))
    return f'<InputProxyChannelList version="2.0" size="{n}">{body}</InputProxyChannelList>'


def test_huge_list_is_capped_and_reported() -> None:
    report = ch.parse_hikvision_proxy_channels(_hik_list(5000))
    assert len(report.channels) == ch.MAX_CHANNELS
    assert any(f"more than {ch.MAX_CHANNELS}" in e for e in report.errors)


def test_cut_list_is_read_as_far_as_it_goes() -> None:
    text = _hik_list(10)
    report = ch.parse_hikvision_proxy_channels(text[: len(text) * 6 // 10])
    assert any("malformed XML" in e for e in report.errors)
    assert 4 <= len(report.channels) <= 6 and report.channels[0].key == "D1"


def test_bad_ids_duplicates_and_non_ip_addresses() -> None:
    text = (
        "<InputProxyChannelList><InputProxyChannel><id>x</id></InputProxyChannel>"
        "<InputProxyChannel><id>2</id><sourceInputPortDescriptor><ipAddress>cam.example</ipAddress>"
        "</sourceInputPortDescriptor></InputProxyChannel>"
        "<InputProxyChannel><id>2</id></InputProxyChannel><InputProxyChannel><id>99999999</id></InputProxyChannel>"
        "</InputProxyChannelList>"
    )
    report = ch.parse_hikvision_proxy_channels(text)
    assert [c.key for c in report.channels] == ["D2"]
    assert report.channels[0].address is None and report.channels[0].detail == "host cam.example"
    assert sum("not a channel number" in e for e in report.errors) == 2
    assert any("listed twice" in e for e in report.errors)


def test_entity_bomb_is_never_expanded() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        "<InputProxyChannelList><InputProxyChannel><id>1</id><name>&b;</name></InputProxyChannel>"
        "</InputProxyChannelList>"
    )
    report = ch.parse_hikvision_proxy_channels(bomb)
    assert all("aaaa" not in c.name for c in report.channels)
    assert any("malformed" in e for e in report.errors)


def test_a_list_naming_its_recorder_is_cut_back() -> None:
    report = ch.ChannelReport(
        channels=[
            ch.Channel(1, address="10.0.0.5", serial="DS-2CD2143G2-I20240101AAWRJ12345678"),
            ch.Channel(2, address="10.0.0.9", serial="X"),
            ch.Channel(3, address="10.0.0.7", serial="J12345678"),
        ]
    )
    kept = ch.drop_self(report, "10.0.0.9", ["DS-7608NI-I2/8P20230101CCRRJ12345678WCVU"])
    assert [c.key for c in kept.channels] == ["D1"]
    assert sum("recorder itself" in e for e in kept.errors) == 2


def test_dahua_garbage_and_huge_tables() -> None:
    lines = [
        f"table.RemoteDevice.uuid:System_CONFIG_NETCAMERA_INFO_{i}.Address=10.1.{i // 250}.{i % 250}"
        for i in range(3000)
    ]
    report = ch.parse_dahua_remote_devices("\n".join(lines) + "\n\x00\x00 not a line\n")
    assert len(report.channels) == ch.MAX_CHANNELS
    assert any("more than" in e for e in report.errors) and any("not in the key=value form" in e for e in report.errors)
    assert ch.parse_dahua_channel_titles("Error\r\nBad Request!\r\n") == {}
