"""Evidence in the shapes real devices and tools produce: real answers (tests/data/evidence,
sources in sources.toml) read whole, in any element order, and when cut, framed, coloured or
escaped the way pasted tool output is.  Hostile variants are derived from the real answers."""

from __future__ import annotations

import base64
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from phaseout.identify import Identifier
from phaseout.identify.facts import ObservationError, gather
from phaseout.identify.fallback import clean_text, json_text_pairs, key_value_lines, xml_text_elements
from phaseout.identify.jsonl import run

DATA = Path(__file__).resolve().parents[1] / "data" / "evidence"
IDF = Identifier()


def sample(name: str) -> str:
    return (DATA / name).read_text("utf-8")


def http(body: str, path: str = "/ISAPI/System/deviceInfo", status: str = "200 OK") -> dict[str, Any]:
    return {"kind": "http", "port": 80, "path": path, "raw": f"HTTP/1.1 {status}\r\n\r\n{body}"}


def test_every_sample_has_a_source() -> None:
    listed = {s["file"] for s in tomllib.loads(sample("sources.toml"))["sample"]}
    assert listed == {p.name for p in DATA.iterdir() if p.name != "sources.toml"}


# ---------------------------------------------------------------- ISAPI


def test_isapi_deviceinfo_in_real_element_order() -> None:
    """The concrete bug of issue 14: <deviceDescription>IPCamera</...> and <deviceType> come
    before <model>; the model is the <model> element, not IPCAMERA."""
    found = IDF.identify([http(sample("hikvision-ds-2cd2386g2-iu-deviceinfo.xml"))])
    assert found.vendor == "hikvision"
    assert found.model == "DS-2CD2386G2-IU"
    assert found.device_type == "camera"
    assert found.firmware == "V5.7.18 build 240826"


def test_isapi_recorder_with_isapi_org_namespace() -> None:
    found = IDF.identify([http(sample("hikvision-ds-7608nxi-i2-deviceinfo.xml"))])
    assert (found.vendor, found.model, found.device_type) == ("hikvision", "DS-7608NXI-I2/8P/S", "recorder")


def test_isapi_error_body_names_the_maker_and_records_the_status() -> None:
    found = IDF.identify([http(sample("hikvision-isapi-device-error.xml"), status="403 Forbidden")])
    assert found.vendor == "hikvision"
    assert any("deviceError" in e.note for e in found.evidence)


@pytest.mark.parametrize("cut", [0.5, 0.7, 0.9])
def test_truncated_deviceinfo_is_read_as_far_as_it_goes(cut: float) -> None:
    text = sample("hikvision-ds-2cd2386g2-iu-deviceinfo.xml")
    found = IDF.identify([http(text[: int(len(text) * cut)])])
    assert found.vendor == "hikvision"
    assert found.model == "DS-2CD2386G2-IU"  # <model> is in the first half


def test_an_entity_bomb_is_never_read_as_a_value() -> None:
    body = (
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>\n'
        "<DeviceInfo><model>&lol2;</model><serialNumber>X1</serialNumber></DeviceInfo>"
    )
    found = IDF.identify([http(body)])
    assert found.model is None
    assert any("XML refused" in e.note for e in found.evidence)


def test_deviceinfo_with_a_doctype_is_refused_as_xml_but_read_as_text() -> None:
    text = sample("hikvision-ds-2cd2386g2-iu-deviceinfo.xml").replace(
        "?>\n", '?>\n<!DOCTYPE d [<!ENTITY x "boom">]>\n', 1
    )
    found = IDF.identify([http(text)])
    assert found.model == "DS-2CD2386G2-IU"
    assert any("XML refused" in e.note for e in found.evidence)


def test_usercheck_without_namespace() -> None:
    body = '<?xml version="1.0" encoding="UTF-8" ?>\n<userCheck>\n<statusValue>401</statusValue>\n'
    body += "<statusString>Unauthorized</statusString>\n</userCheck>\n"
    assert IDF.identify([http(body, "/ISAPI/Security/userCheck")]).vendor == "hikvision"


# ---------------------------------------------------------------- Dahua


def test_dhdiscover_reply_as_published() -> None:
    found = IDF.identify([{"kind": "dhdiscover", "raw": sample("dahua-dhdiscover-reply.txt")}])
    assert (found.vendor, found.model, found.device_type) == ("dahua", "IPC-HDW5421S", "camera")


def _dhip_frame(body: bytes) -> str:
    """A DHIP datagram as a capture tool decodes it to text: 32-byte header (length field
    first, magic "DHIP" at offset 4), then the JSON body; bytes read as Latin-1."""
    header = len(body).to_bytes(4, "little") + b"DHIP" + b"\x00" * 8 + len(body).to_bytes(4, "little") + b"\x7b" * 12
    return (header + body).decode("latin-1")


def test_dhip_frame_with_binary_header_and_a_brace_in_it() -> None:
    body = sample("dahua-dhdiscover-reply.txt").split("DHIP", 1)[1].strip().encode()
    found = IDF.identify([{"kind": "dhdiscover", "raw": _dhip_frame(body)}])
    assert (found.vendor, found.model) == ("dahua", "IPC-HDW5421S")


@pytest.mark.parametrize("keep", [200, 400, 600])
def test_dhip_frame_cut_mid_field(keep: int) -> None:
    body = sample("dahua-dhdiscover-reply.txt").split("DHIP", 1)[1].strip().encode()[:keep]
    found = IDF.identify([{"kind": "dhdiscover", "raw": _dhip_frame(body)}])
    assert found.vendor == "dahua"  # the method name alone says DHDiscover
    if keep >= 400:
        assert found.model == "IPC-HDW5421S"


def test_magicbox_and_configmanager_key_value_answers() -> None:
    magic = http("deviceType=IPC-HDW5831R-ZE\r\n", "/cgi-bin/magicBox.cgi?action=getDeviceType")
    assert IDF.identify([magic]).model == "IPC-HDW5831R-ZE"
    config = http("table.General.MachineName=Cam4\r\n", "/cgi-bin/configManager.cgi?action=getConfig&name=General")
    assert IDF.identify([config]).vendor == "dahua"
    serial = gather([http("sn=4M0123PAZ00042\r\n", "/cgi-bin/magicBox.cgi?action=getSerialNo")])
    assert serial.serials == [("http", "4M0123PAZ00042")]


def test_rpc2_json_replies() -> None:
    device_type = '{ "id" : 5, "params" : { "type" : "IPC-HFW4431R-Z" }, "result" : true, "session" : 1 }'
    assert IDF.identify([http(device_type, "/RPC2")]).model == "IPC-HFW4431R-Z"
    version = '{"id":6,"params":{"version":{"BuildDate":"2019-07-25","Version":"2.800.0000000.10.R"}},"result":true}'
    assert gather([http(version, "/RPC2")]).firmware == [("http", "2.800.0000000.10.R")]
    vendor = '{"id":7,"params":{"Vendor":"Dahua"},"result":true}'
    assert IDF.identify([http(vendor, "/RPC2")]).vendor == "dahua"


# ---------------------------------------------------------------- ONVIF


PROBE_MATCH = (
    "<d:ProbeMatches><d:ProbeMatch><d:Types>dn:NetworkVideoTransmitter</d:Types>"
    "<d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/hardware/DS-2CD2143G2-I "
    "onvif://www.onvif.org/name/HIKVISION%20DS-2CD2143G2-I onvif://www.onvif.org/MAC/24:28:fd:01:02:03</d:Scopes>"
    "</d:ProbeMatch></d:ProbeMatches>"
)


@pytest.mark.parametrize(
    "raw",
    [
        PROBE_MATCH,  # without Envelope/Header (some tools print the body only)
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:d="urn:d"><s:Header/><s:Body>'
        + PROBE_MATCH.replace("<d:ProbeMatches>", '<d:ProbeMatches xmlns:d="urn:d">')
        + "</s:Body></s:Envelope>",
        # scopes one per line, as tools list them
        "onvif://www.onvif.org/hardware/DS-2CD2143G2-I\nonvif://www.onvif.org/name/HIKVISION%20DS-2CD2143G2-I\n",
    ],
)
def test_ws_discovery_shapes(raw: str) -> None:
    found = IDF.identify([{"kind": "onvif", "raw": raw}])
    assert (found.vendor, found.model) == ("hikvision", "DS-2CD2143G2-I")


@pytest.mark.parametrize(
    "raw",
    [
        "Manufacturer: HIKVISION\nModel: DS-2CD2143G2-I\nFirmwareVersion: V5.5.0 build 170725\nSerialNumber: X\n",
        "{'Manufacturer': 'HIKVISION', 'Model': 'DS-2CD2143G2-I', 'FirmwareVersion': 'V5.5.0 build 170725'}",
    ],
)
def test_get_device_information_as_text(raw: str) -> None:
    found = IDF.identify([{"kind": "onvif", "raw": raw}])
    assert (found.vendor, found.model, found.firmware) == ("hikvision", "DS-2CD2143G2-I", "V5.5.0 build 170725")


def test_vendor_namespace_in_get_capabilities() -> None:
    raw = (
        '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:tnshik="http://www.hikvision.com/2011/event/topics"><env:Body/></env:Envelope>'
    )
    assert IDF.identify([{"kind": "onvif", "raw": raw}]).vendor == "hikvision"


# ---------------------------------------------------------------- RTSP, HTTP, TLS, SNMP, favicon


def test_rtsp_transcript_with_the_realm_in_the_second_answer() -> None:
    raw = (
        "RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n"
        'RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nWWW-Authenticate: Digest realm="IP Camera(C2875)", '
        'nonce="a0b1"\r\n\r\n'
    )
    assert IDF.identify([{"kind": "rtsp", "raw": raw}]).vendor == "hikvision"


def test_curl_verbose_output_with_ansi_colours() -> None:
    raw = "\x1b[1m< HTTP/1.1 401 Unauthorized\x1b[0m\r\n< Server: \x1b[32mHikvision-Webs\x1b[0m\r\n< \r\n"
    assert IDF.identify([{"kind": "http", "raw": raw}]).vendor == "hikvision"


def test_certificate_printout_with_written_out_utf8_escapes() -> None:
    raw = (
        "Subject\n    CN: 192.168.2.70\n    Country: CN\nIssuer\n"
        "    CN: Dahua\\xC2\\xA0Device\\xC2\\xA0NVR\\xC2\\xA0CA\n"
        "    Org: Zhejiang\\xC2\\xA0Dahua\\xC2\\xA0Technology\\xC2\\xA0Co.,Ltd.\n    Country: CN\n"
    )
    assert IDF.identify([{"kind": "tls", "raw": raw}]).vendor == "dahua"
    curl = "*  subject: CN=192.168.20.92; C=CN\n*  issuer: CN=NVR; C=CN; O=ZheJiang Dahua Technology CO.,LTD.; OU=NVR\n"
    assert IDF.identify([{"kind": "tls", "raw": curl}]).vendor == "dahua"


@pytest.mark.parametrize(
    ("obs", "vendor"),
    [
        ({"kind": "snmp", "sysobjectid": "SNMPv2-SMI::enterprises.1004849.3.2.10"}, "dahua"),
        ({"kind": "snmp", "sysobjectid": ".1.3.6.1.4.1.39165.1.1"}, "hikvision"),
        ({"kind": "snmp", "raw": '.1.3.6.1.4.1.39165.1.1.0 = STRING: "IPC7A27-ANPR"\n'}, "hikvision"),
        ({"kind": "snmp", "raw": "SNMPv2-MIB::sysObjectID.0 = OID: NET-SNMP-MIB::netSnmpAgentOIDs.10\n"}, "unknown"),
        ({"kind": "snmp", "sysobjectid": "1.3.6.1.4.1.391650.1"}, "unknown"),
    ],
)
def test_snmp_enterprise_numbers(obs: dict[str, Any], vendor: str) -> None:
    assert IDF.identify([obs]).vendor == vendor


def test_favicon_hash_and_bytes() -> None:
    assert IDF.identify([{"kind": "favicon", "hash": 999357577}]).vendor == "hikvision"
    assert IDF.identify([{"kind": "favicon", "hash": "1653394551"}]).vendor == "dahua"
    # bytes are hashed the way Shodan does: mmh3 of base64 with a newline every 76 characters
    import mmh3

    data = bytes(range(256)) * 3
    expected = mmh3.hash(base64.encodebytes(data))
    facts = gather([{"kind": "favicon", "base64": base64.b64encode(data).decode()}])
    assert facts.texts["favicon"] == [("favicon", str(expected))]
    with pytest.raises(ObservationError):
        gather([{"kind": "favicon", "hash": "not a number"}])


def test_pasted_nmap_script_output() -> None:
    raw = "http-mm-sha-favicon\n  favicon_file: /favicon.ico\n  favicon_mmhash: 1653394551\nhttp-title\nWEB\n"
    assert IDF.identify([{"kind": "banner", "raw": raw}]).vendor == "dahua"


# ---------------------------------------------------------------- hostile input


def test_text_cleaning() -> None:
    assert clean_text("\x1b[31mDahua\x1b[0m\\xC2\\xA0NVR\x00") == "Dahua NVR"
    assert clean_text("plain") == "plain"
    assert xml_text_elements("<a><model>DS-1</model><serialNumber>X") == [("model", "DS-1"), ("serialnumber", "X")]
    assert json_text_pairs('{"Vendor" : "Dahua", "Dev') == [("vendor", "Dahua")]
    assert key_value_lines("Model: X1\nvendor = Y\n") == [("model", "X1"), ("vendor", "Y")]


@pytest.mark.parametrize(
    "raw",
    [
        "<" * 100_000,
        "<a>" * 50_000,
        '{"a":' * 50_000,
        "\x1b[" * 50_000,
        "\\x" * 100_000,
        "onvif://www.onvif.org/name/" * 10_000,
        "a=" * 100_000,
        "Subject\n" + "  CN: x\n" * 10_000,
    ],
)
@pytest.mark.parametrize("kind", ["http", "rtsp", "onvif", "sadp", "dhdiscover", "upnp", "banner", "snmp", "tls"])
def test_hostile_shapes_never_crash(raw: str, kind: str) -> None:
    IDF.identify([{"kind": kind, "raw": raw}])


def test_a_record_nested_255_levels_does_not_stop_the_stream() -> None:
    deep: Any = 1
    for _ in range(255):
        deep = {"a": deep}
    lines = [
        {"id": deep, "observations": []},
        {"id": "x", "observations": [{"kind": "inventory", "fields": {"model": deep}}]},
        {"id": "y", "observations": [{"kind": "inventory", "fields": {"manufacturer": "Dahua"}}]},
    ]
    import io

    source = io.BytesIO(b"".join(json.dumps(line).encode() + b"\n" for line in lines))
    sink = io.BytesIO()
    done, errors = run(IDF, source, sink)
    out = [json.loads(x) for x in sink.getvalue().splitlines()]
    assert (done, errors) == (1, 2)
    assert "error" in out[0] and out[1]["id"] == "x" and "error" in out[1]
    assert out[2]["vendor"] == "dahua"


# ---------------------------------------------------------------- labels sold around the world


@pytest.mark.parametrize(
    ("maker", "vendor", "relation"),
    [
        ("Intelbras", "dahua", "oem"),  # Brazil: reported, decides alone
        ("Prama Hikvision India Private Limited", "hikvision", "sub-brand"),  # India
        ("ABUS", "unknown", None),  # suspected: some lines only, never decides alone
        ("Grundig Security", "unknown", None),
        ("Alibi", "unknown", "unknown"),  # a Uniview OEM today: not taken for Hikvision
    ],
)
def test_worldwide_labels_weighed_by_how_well_the_relation_is_known(
    maker: str, vendor: str, relation: str | None
) -> None:
    found = IDF.identify([{"kind": "inventory", "fields": {"manufacturer": maker}}])
    assert (found.vendor, found.relation) == (vendor, relation)


def test_a_suspected_label_with_device_evidence_is_the_makers() -> None:
    found = IDF.identify([{"kind": "inventory", "fields": {"manufacturer": "ABUS", "model": "DS-2CD2143G2-I"}}])
    assert (found.vendor, found.brand, found.relation) == ("hikvision", "ABUS (some lines)", "oem")


# ---------------------------------------------------------------- printouts given as banners


@pytest.mark.parametrize(
    ("raw", "vendor"),
    [
        # SNMP printed by snmpwalk, given as a banner on port 161
        ("SNMPv2-MIB::sysObjectID.0 = OID: SNMPv2-SMI::enterprises.1004849.3.2.10\n", "dahua"),
        # a DHIP login challenge printed as header words and JSON
        (
            "20000000|44484950|d710c601|00000000|ac000000|00000000|ac000000|00000000\n"
            '{ "result": false, "params": { "realm": "Login to ASI1201E", "random": "1" }, "session": 1 }\n',
            "dahua",
        ),
        # ISAPI deviceInfo printed as a Python dict (deviceDescription and deviceType first)
        (
            "{'@xmlns': 'http://www.hikvision.com/ver20/XMLSchema', 'deviceDescription': 'IPCamera', "
            "'deviceType': 'IPCamera', 'model': 'DS-2SC3Q140MY-TE', 'firmwareVersion': 'V5.7.12'}",
            "hikvision",
        ),
        ("[*] Remote Model: DH-XVR1B08-I, Class: HCVR\n", "dahua"),
        ("AXIS P1346 Network Camera 5.50beta3 (2014) ready.", "axis"),
        ("{'Manufacturer': 'IPCAM', 'Model': 'C6F0SgZ3N0PmL2'}", "unknown"),
    ],
)
def test_printouts_given_as_banners(raw: str, vendor: str) -> None:
    assert IDF.identify([{"kind": "banner", "port": 80, "raw": raw}]).vendor == vendor


def test_ssdp_headers_printed_as_json() -> None:
    raw = (
        '{"SERVER": "Linux/3.8.8, UPnP/1.0, ZheJiang Dahua Technology CO.,LTD. Upnp SDK", '
        '"USN": "uuid:www.dahuatech.com.device_3_0-1L047ACPAW00037"}'
    )
    assert IDF.identify([{"kind": "upnp", "raw": raw}]).vendor == "dahua"


def test_certificate_fields_in_a_tools_wording() -> None:
    obs = {
        "kind": "tls",
        "subject": "CN: 192.168.2.70, Country: CN",
        "issuer": "CN: Dahua Device NVR CA, Org: Zhejiang Dahua Technology Co.,Ltd., Country: CN",
    }
    assert IDF.identify([obs]).vendor == "dahua"


def test_the_shared_odm_namespace_alone_names_no_maker() -> None:
    raw = '<Envelope xmlns:hikwsd="http://www.onvifext.com/onvif/ext/ver10/wsdl"><Manufacturer>IPCAM</Manufacturer>'
    assert IDF.identify([{"kind": "onvif", "raw": raw}]).vendor == "unknown"
