"""Evidence as tools and logs print it (issue 14, fresh holdout): Python reprs of RPC2 replies,
console summaries with several ``Key: value`` pairs on a line, XML namespaces named in a log,
RTSP ``RTP-Info`` URLs and the realm a client echoes in its ``Authorization`` line.

Positive cases read real captures from tests/data/captures (sources in its manifest); the
negative cases change one thing in them so that each test can fail for the reason it names."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from phaseout.identify import Identifier
from phaseout.identify.facts import gather
from phaseout.identify.fallback import json_text_pairs, key_value_lines, table_rows, unquote_literal

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "captures"
IDF = Identifier()


def capture(name: str) -> str:
    return (CAPTURES / name).read_text("utf-8")


def banner(text: str) -> list[dict[str, Any]]:
    return [{"kind": "banner", "port": 80, "raw": text}]


def rtsp(text: str) -> list[dict[str, Any]]:
    return [{"kind": "rtsp", "port": 554, "raw": text}]


# ---------------------------------------------------------------- text readers


def test_python_repr_prefixes_belong_to_the_printout_not_to_the_value() -> None:
    pairs = json_text_pairs("{u'params': {u'type': u'IPC-D2B20-ZS'}, u'id': 6, b'sn': b'X1'}")
    assert ("type", "IPC-D2B20-ZS") in pairs
    assert ("sn", "X1") in pairs
    assert ("id", "6") in pairs


def test_several_pairs_on_one_console_line() -> None:
    pairs = dict(key_value_lines("    Vendor: EZIP, Build: 2018-09-18 21:57:52, Version: 2.622.0000000.4.R"))
    assert pairs == {"vendor": "EZIP", "build": "2018-09-18 21:57:52", "version": "2.622.0000000.4.R"}


def test_a_comma_inside_a_value_does_not_split_it() -> None:
    assert dict(key_value_lines("Manufacturer: Acme, Inc., Model: X1")) == {"manufacturer": "Acme, Inc.", "model": "X1"}


# ---------------------------------------------------------------- Dahua RPC2 printouts


def test_rpc2_replies_printed_by_python2_give_vendor_and_model() -> None:
    """getDeviceClass ("IPC") and getDeviceType ("IPC-D2B20-ZS") both print a ``type``: the
    one that is a model wins, the class stays a type hint."""
    facts = gather(banner(capture("dahua-rpc2-printout/ezip-ipc-d2b20-zs-magicbox-rpc.txt")))
    assert any(model == "IPC-D2B20-ZS" for _p, _k, _f, model in facts.models)
    assert ("banner", "Vendor", "EZIP") in facts.makers
    found = IDF.identify(banner(capture("dahua-rpc2-printout/ezip-ipc-d2b20-zs-magicbox-rpc.txt")))
    assert (found.vendor, found.brand) == ("dahua", "EZ-IP")


def test_console_summary_vendor_line() -> None:
    found = IDF.identify(banner(capture("dahua-rpc2-printout/ezip-ipc-d2b20-zs-system-summary.txt")))
    assert (found.vendor, found.brand) == ("dahua", "EZ-IP")


def test_a_summary_naming_another_vendor_is_not_dahua() -> None:
    text = capture("dahua-rpc2-printout/ezip-ipc-d2b20-zs-system-summary.txt").replace("EZIP", "AXIS")
    assert IDF.identify(banner(text)).vendor not in ("dahua", "hikvision")


# ---------------------------------------------------------------- namespaces named in logs


def test_namespace_a_client_logged_names_the_maker() -> None:
    found = IDF.identify(banner(capture("isapi-deviceinfo-printout/pyhik-62-hikvision-wifi-cam-debug.txt")))
    assert found.vendor == "hikvision"


def test_a_logged_onvif_namespace_names_no_maker() -> None:
    text = "DEBUG [client] Device info namespace: http://www.onvif.org/ver10/schema\n"
    assert IDF.identify(banner(text)).vendor == "unknown"


# ---------------------------------------------------------------- RTSP


def test_rtp_info_urls_of_a_play_answer_are_read() -> None:
    facts = gather(rtsp(capture("rtsp-reply/retina-hikvision-play.txt")))
    urls = [u for _k, u in facts.texts.get("url", [])]
    assert any("/Streaming/Channels/101/trackID=1" in u for u in urls)
    assert IDF.identify(rtsp(capture("rtsp-reply/retina-hikvision-play.txt"))).vendor == "hikvision"


def test_relative_rtp_info_urls_name_no_maker() -> None:
    assert IDF.identify(rtsp(capture("rtsp-reply/retina-dahua-play.txt"))).vendor == "unknown"


def test_realm_echoed_by_the_client_is_the_devices_realm() -> None:
    found = IDF.identify(rtsp(capture("rtsp-fragment/androidx-media-357-hikvision-setup-log.txt")))
    assert found.vendor == "hikvision"
    assert any(e.kind == "rtsp" and "IP Camera(C2732)" in e.matched for e in found.evidence)


@pytest.mark.parametrize(
    "line",
    [
        'Authorization: Basic YWRtaW46YWRtaW4=\nrealm="IP Camera(C2732)"',  # a realm not in a Digest line
        'Authorization: Digest username="admin", uri="/x", response="00"',  # no realm at all
    ],
)
def test_only_a_digest_authorization_realm_counts(line: str) -> None:
    text = f"RTSP/1.0 200 OK\nCSeq: 4\n{line}\nRTSP/1.0 200 OK\nCSeq: 5\n"
    facts = gather(rtsp(text))
    assert not any("IP Camera" in t for _k, t in facts.texts.get("auth", []))


# ---------------------------------------------------------------- MACs inside version-1 UUIDs


@pytest.mark.parametrize(
    ("value", "mac"),
    [
        ("d9b04000-d0fb-11b2-80e4-988b0a0e517f", "988B0A0E517F"),  # ISAPI deviceID (lkqm capture)
        ("urn:uuid:0f54c000-440e-11b5-8402-849a40b17cae", "849A40B17CAE"),
        ("572ecdc4-b723-11e8-99d8-53d34f41f286", None),  # multicast bit set: a made-up node (RFC 4122 4.5)
        ("48473336-3939-3233-3034-2428fd22c319", None),  # not version 1: the node is not defined as a MAC
    ],
)
def test_uuid_node_mac(value: str, mac: str | None) -> None:
    from phaseout.identify.facts import uuid_node_mac

    assert uuid_node_mac(value) == mac


def test_device_id_gives_the_mac_only_when_no_mac_element_does() -> None:
    real = capture("isapi-deviceinfo/lkqm-ds-2cd7a47fwd-xzs-deviceinfo-misspelt-close.xml")
    http = {"kind": "http", "port": 80, "path": "/ISAPI/System/deviceInfo", "raw": "HTTP/1.1 200 OK\r\n\r\n"}
    without_mac = real.replace("<macAddress>98:8b:0a:0e:51:7f</macAddress>\n", "")
    assert "macAddress" not in without_mac
    assert gather([{**http, "raw": http["raw"] + without_mac}]).macs == [("http", "988B0A0E517F")]
    other_mac = real.replace("98:8b:0a:0e:51:7f", "00:40:8c:00:00:01")
    assert gather([{**http, "raw": http["raw"] + other_mac}]).macs == [("http", "00408C000001")]


# ---------------------------------------------------------------- transcripts in a client's log


def test_header_lines_behind_a_log_tag_are_read() -> None:
    """Every line of the Rebroadcast plugin's log starts with its tag: the 401's realm is still
    the device's header (an Amcrest unit: Dahua's ``Login to <serial>`` realm)."""
    found = IDF.identify(rtsp(capture("rtsp-fragment/scrypted-1695-amcrest-options-401.txt")))
    assert found.vendor == "dahua"
    assert any("Login to AMC059BF677A58A7DE" in e.matched for e in found.evidence)


def test_a_tagged_log_of_another_maker_stays_another_maker() -> None:
    text = capture("rtsp-fragment/scrypted-1271-tplink-ipc-describe-401.txt")
    facts = gather(rtsp(text))
    assert any("TP-LINK IP-Camera" in t for _k, t in facts.texts.get("auth", []))
    assert IDF.identify(rtsp(text)).vendor not in ("dahua", "hikvision")


def test_key_value_messages_behind_a_loggers_prefix() -> None:
    text = capture("dahua-rpc2-printout/rroller-dahua-156-vto2000a-debug.txt")
    assert ("devicetype", "VTO2000A") in key_value_lines(text)
    assert IDF.identify(banner(text)).vendor == "dahua"


def test_a_logger_prefix_alone_names_nothing() -> None:
    text = "2022-02-06 19:22:01 INFO (Thread-116) [custom_components.dahua] Get device type\n"
    assert key_value_lines(text) == []
    assert IDF.identify(banner(text)).vendor == "unknown"


# ---------------------------------------------------------------- two-column table printouts


def test_a_sadp_clients_label_table_gives_model_and_firmware() -> None:
    """HikPwn prints a SADP inquiry reply as a ``LABEL  DATA`` table; its labels are SADP's own
    field names (DeviceDescription, SoftwareVersion), humanised."""
    result = IDF.identify([{"kind": "sadp", "raw": capture("sadp/hikpwn-readme-ds-2de4220iw-d-printout.txt")}])
    assert (result.vendor, result.model, result.firmware) == ("hikvision", "DS-2DE4220IW-D", "V5.4.3build 160810")


def test_table_rows_read_padded_tabbed_and_ruled_columns() -> None:
    rows = dict(table_rows("\tDescription         DS-2CD2143G2-I\n| Serial Number | ABC123 |\nMAC\t\tAA:BB\n"))
    assert rows == {"description": "DS-2CD2143G2-I", "serialnumber": "ABC123", "mac": "AA:BB"}


def test_one_padded_line_in_free_text_is_not_a_table() -> None:
    assert table_rows("Welcome to the web server.\nModel    DS-2CD2143G2-I\n") == []
    facts = gather([{"kind": "sadp", "raw": "Model    DS-2CD2143G2-I"}])
    assert facts.models == []


def test_a_description_that_is_prose_is_not_a_model() -> None:
    """``Description`` names the model only when its value looks like one."""
    raw = "Description        IP Camera\nSoftware Version   V5.4.3\n"
    result = IDF.identify([{"kind": "sadp", "raw": raw}])
    assert result.model is None and result.vendor == "unknown"


def test_a_hostile_table_costs_linear_time_and_is_capped() -> None:
    line = "A" * 30 + " " * 5000 + "x" * 5000 + "\n"
    rows = table_rows(line * 200)
    assert len(rows) <= 2000
    assert all(len(value) <= 512 for _key, value in rows)


def test_a_long_run_of_spaces_after_a_label_costs_linear_time() -> None:
    """The column gap was matched by two quantifiers over the same spaces (`` {2,}[ \t]*``), and
    a value that then failed made the engine try every split of the run: 32,000 spaces after
    ``Model`` cost 7 s, 64,000 (one SADP or ONVIF answer) 29 s, per answer."""
    raw = "Model" + " " * 32000 + "x" * 600 + "\n"
    for kind in ("sadp", "onvif"):
        began = time.perf_counter()
        gather([{"kind": kind, "raw": raw}])
        assert time.perf_counter() - began < 1.5, kind
    ruled = "Model" + " " * 16000 + "|" + " " * 16000 + "DS-2CD2143G2-I\nMAC  AA:BB\n"
    began = time.perf_counter()
    assert dict(table_rows(ruled))["model"] == "DS-2CD2143G2-I"
    assert time.perf_counter() - began < 1.5


# ---------------------------------------------------------------- answers echoed as string literals


def test_a_cgi_answer_echoed_as_a_python_string_is_read_as_the_answer() -> None:
    """python-amcrest #168: the REPL's echo of getSoftwareVersion, quotes and ``\\r\\n`` kept."""
    body = capture("dahua-magicbox/python-amcrest-168-amcrest-ipm-721b-softwareversion-repr.txt")
    raw = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body
    path = "/cgi-bin/magicBox.cgi?action=getSoftwareVersion"
    result = IDF.identify([{"kind": "http", "port": 80, "path": path, "raw": raw}])
    assert (result.vendor, result.firmware) == ("dahua", "2.420.AC00.15.R")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'version=1\\r\\nBuildDate=2'", "version=1\r\nBuildDate=2"),
        ("b'220 FTP ready\\r\\n'", "220 FTP ready\r\n"),
        ('"a=\\"q\\"\\nb=\\u00e9"', 'a="q"\nb=\u00e9'),
        ("'it''s\\n'", "'it''s\\n'"),  # two literals, not one: left alone
        ("'no escaped line end'", "'no escaped line end'"),
        ("'unterminated\\n", "'unterminated\\n"),
        ("plain=text\\n", "plain=text\\n"),
    ],
)
def test_unquote_literal(text: str, expected: str) -> None:
    assert unquote_literal(text) == expected


def test_a_huge_literal_is_read_in_linear_time() -> None:
    text = "'" + "a\\n" * 100_000 + "'"
    assert unquote_literal(text) == "a\n" * 100_000
