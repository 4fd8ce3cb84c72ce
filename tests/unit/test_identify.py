"""Identification scenarios: labels, OEMs, combined and conflicting signals, protocols."""

from __future__ import annotations

from typing import Any

import pytest

from phaseout.identify import Identifier
from phaseout.identify.facts import gather

IDF = Identifier()


def inv(**fields: Any) -> list[dict[str, Any]]:
    return [{"kind": "inventory", "fields": fields}]


def ident(observations: list[dict[str, Any]]) -> dict[str, Any]:
    return IDF.identify(observations).as_dict()


@pytest.mark.parametrize(
    "make",
    [
        "Hikvision",
        "HIKVISION",
        "Hik vision",
        "Hikvison",
        "Hikvsion",
        "HIKVISION DIGITAL TECHNOLOGY CO., LTD",
        "Hangzhou Hikvision Digital Technology Co., Ltd",
        "Hikvision USA Inc",
    ],
)
def test_free_text_maker_names(make: str) -> None:
    assert ident(inv(manufacturer=make))["vendor"] == "hikvision"


@pytest.mark.parametrize(
    "make", ["Dahua", "Dahua Technology Co.,Ltd", "Zhejiang Dahua Vision Technology Co., Ltd.", "DAHUA", "Dahau"]
)
def test_free_text_dahua(make: str) -> None:
    assert ident(inv(manufacturer=make))["vendor"] == "dahua"


@pytest.mark.parametrize(
    ("fields", "vendor", "brand", "relation"),
    [
        ({"brand": "HiLook", "model": "IPC-B140H-M"}, "hikvision", "HiLook", "sub-brand"),
        ({"manufacturer": "EZVIZ"}, "hikvision", "EZVIZ", "sub-brand"),
        ({"manufacturer": "Lorex", "model": "LNB8005-C"}, "dahua", "Lorex", "formerly-owned"),
        ({"manufacturer": "Amcrest", "model": "IP4M-1041B"}, "dahua", "Amcrest", "oem"),
        ({"manufacturer": "Annke"}, "hikvision", "Annke", "oem"),
        ({"brand": "Imou", "model": "IPC-K42"}, "dahua", "Imou", "sub-brand"),
        ({"manufacturer": "Hikvision", "model": "DS-2CD2143G2-I"}, "hikvision", "Hikvision", "own"),
    ],
)
def test_labels_and_relations(fields: dict[str, str], vendor: str, brand: str, relation: str) -> None:
    out = ident(inv(**fields))
    assert (out["vendor"], out["brand"], out["relation"]) == (vendor, brand, relation)


def test_model_alone_is_enough_and_decodes() -> None:
    out = ident(inv(model="DS-2CD2386G2-IU"))
    assert out["vendor"] == "hikvision"
    assert (out["device_type"], out["form_factor"], out["megapixels"]) == ("camera", "turret", 8)
    out = ident(inv(model="DHI-NVR4108HS-8P-4KS2"))
    assert (out["vendor"], out["device_type"]) == ("dahua", "recorder")


def test_oem_label_with_platform_signals_is_confident() -> None:
    weak = ident(inv(manufacturer="LTS"))
    strong = ident(
        [
            *inv(manufacturer="LTS", model="CMIP7442W-28M", mac="14:2F:FD:00:00:01"),
            {
                "kind": "http",
                "raw": "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest "
                'realm="IP Camera(C2183)", nonce="x"\r\n\r\n',
            },
        ]
    )
    assert weak["vendor"] == strong["vendor"] == "hikvision"
    assert strong["confidence"] > weak["confidence"]
    rules = {e["rule"] for e in strong["evidence"]}
    assert {"name:lts", "lts.models", "oui:142FFD", "hikvision.auth.realm-ip-camera"} <= rules


def test_conflicting_signals_lower_confidence_and_are_shown() -> None:
    clean = ident(inv(manufacturer="Hikvision", model="DS-2CD2143G2-I"))
    mixed = ident(inv(manufacturer="Hikvision", model="DS-2CD2143G2-I", mac="00:40:8C:00:00:01"))
    assert mixed["vendor"] == "hikvision"
    assert mixed["confidence"] < clean["confidence"]
    assert mixed["conflicts"] == ["axis"]


def test_spreadsheet_that_says_axis_for_a_hikvision_model_is_flagged() -> None:
    out = ident(inv(manufacturer="Axis", model="DS-2CD2143G2-I", mac="28:57:BE:00:00:01"))
    assert out["vendor"] == "hikvision" and "axis" in out["conflicts"]


@pytest.mark.parametrize(
    "fields",
    [
        {"manufacturer": "Acme Cameras"},
        {"model": "X100"},
        {"mac": "02:11:22:33:44:55"},
        {"description": "camera"},
        {"manufacturer": "", "model": ""},
    ],
)
def test_unknown_is_never_guessed(fields: dict[str, str]) -> None:
    out = ident(inv(**fields))
    assert out["vendor"] == "unknown" and out["confidence"] == 0.0


@pytest.mark.parametrize(
    ("model", "vendor"),
    [("DS920+", "synology"), ("IPC322LB-SF28-A", "uniview"), ("DCS-8000LH", "d-link"), ("NVR301-08S3", "uniview")],
)
def test_collisions_are_not_covered_makers(model: str, vendor: str) -> None:
    assert ident(inv(model=model))["vendor"] == vendor


def test_namesake_prefixes_do_not_count() -> None:
    out = ident([{"kind": "mac", "value": "40:2C:76:10:00:01"}])  # Shanghai Dahua Scale Factory (MA-M)
    assert out["vendor"] == "unknown"
    assert any("Scale" in e.get("note", "") for e in out["evidence"])


def test_locally_administered_mac_carries_no_maker() -> None:
    out = ident([{"kind": "mac", "value": "2A:57:BE:00:00:01"}])
    assert out["vendor"] == "unknown" and out["evidence"][0]["rule"] == "oui:local"


ISAPI = """<?xml version="1.0" encoding="UTF-8"?>
<DeviceInfo version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">
<deviceName>Till 3</deviceName><model>DS-2CD2143G2-I</model>
<serialNumber>DS-2CD2143G2-I20210101AAWRF00000001</serialNumber><macAddress>28:57:be:00:00:09</macAddress>
<firmwareVersion>V5.7.3</firmwareVersion><firmwareReleasedDate>build 220112</firmwareReleasedDate>
<deviceType>IPCamera</deviceType><manufacturer>hikvision</manufacturer></DeviceInfo>"""


def test_isapi_device_info() -> None:
    out = ident(
        [{"kind": "http", "port": 80, "raw": "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n\r\n" + ISAPI}]
    )
    assert (out["vendor"], out["model"], out["firmware"], out["megapixels"]) == (
        "hikvision",
        "DS-2CD2143G2-I",
        "V5.7.3 build 220112",
        4,
    )
    assert out["confidence"] >= 0.95


def test_magicbox_of_an_oem_nvr_uses_the_base_model() -> None:
    body = "deviceType=31\nprocessor=ST7108\nserialNumber=ND0219110NNNNN\nupdateSerial=DHI-NVR4108HS-8P-4KS2\n"
    out = ident(
        [
            {
                "kind": "http",
                "path": "/cgi-bin/magicBox.cgi?action=getSystemInfo",
                "raw": "HTTP/1.1 200 OK\r\n\r\n" + body,
            }
        ]
    )
    assert (out["vendor"], out["device_type"]) == ("dahua", "recorder")


def test_dhdiscover_generic_vendor_is_still_dahua() -> None:
    raw = (
        "\x20\x00\x00\x00DHIP" + "\x00" * 24 + '{"mac":"38:c4:e8:03:b3:e2","method":"client.notifyDevInfo",'
        '"params":{"deviceInfo":{"DeviceClass":"IPC","DeviceType":"BCS-TIP3401IR-E-V","Vendor":"General",'
        '"Version":"2.800.106F004.0.R","SerialNo":"6J0E022PAG35073"}}}'
    )
    out = ident([{"kind": "dhdiscover", "raw": raw}])
    assert (out["vendor"], out["model"], out["device_type"]) == ("dahua", "BCS-TIP3401IR-E-V", "camera")
    assert (out["brand"], out["relation"]) == (None, "oem")  # "General" firmware: sold under another label


def test_sadp_and_onvif_scopes() -> None:
    sadp = (
        '<?xml version="1.0" encoding="UTF-8"?><ProbeMatch><Uuid>A</Uuid><Types>inquiry</Types>'
        "<DeviceType>138</DeviceType><DeviceDescription>DS-7608NXI-I2/8P/S</DeviceDescription>"
        "<DeviceSN>DS-7608NXI-I2/8P/S0820200101CCRRX00000001</DeviceSN><CommandPort>8000</CommandPort>"
        "<MAC>c0-56-e3-00-00-01</MAC></ProbeMatch>"
    )
    out = ident([{"kind": "sadp", "raw": sadp}])
    assert (out["vendor"], out["device_type"]) == ("hikvision", "recorder")
    probe = (
        '<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><e:Body><d:ProbeMatches><d:ProbeMatch>'
        "<d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/name/Dahua "
        "onvif://www.onvif.org/hardware/IPC-HDW2431T-AS-S2</d:Scopes></d:ProbeMatch></d:ProbeMatches>"
        "</e:Body></e:Envelope>"
    )
    out = ident([{"kind": "onvif", "raw": probe}])
    assert (out["vendor"], out["model"]) == ("dahua", "IPC-HDW2431T-AS-S2")


def test_tls_and_banner() -> None:
    out = ident([{"kind": "tls", "subject": "CN=192.0.2.1", "issuer": "CN=NVR; O=ZheJiang Dahua Technology CO.,LTD."}])
    assert out["vendor"] == "dahua"
    assert ident([{"kind": "banner", "port": 23, "raw": "192.0.0.64 login: "}])["vendor"] == "hikvision"
    assert (
        ident([{"kind": "banner", "port": 21, "raw": "AXIS P1346 Network Camera 5.50 (2014) ready"}])["vendor"]
        == "axis"
    )


def test_inventory_fast_path_equals_the_general_path() -> None:
    from phaseout.demo.estate import build_estate

    fresh = Identifier()
    for dev in build_estate(8, seed=4).devices[:400]:
        fields = {
            "manufacturer": dev.written_make,
            "brand": dev.brand,
            "model": dev.model,
            "firmware": dev.firmware,
            "mac": dev.mac,
            "serial": dev.serial,
        }
        fast = fresh.identify_inventory(fields)
        slow = fresh.identify_facts(gather(inv(**fields)))
        row = fresh.identify_row(dev.written_make, dev.brand, dev.model, dev.firmware, dev.mac, dev.serial, None)
        assert fast == slow == row
        # the same family with a distinct model and firmware: shares a cached verdict, must still agree
        variant = fields | {
            "model": f"{dev.model}X{len(dev.serial)}",
            "firmware": f"{dev.firmware}.{dev.mac[-2:]}",
            "mac": dev.mac[:-2] + "7F",
        }
        assert fresh.identify_inventory(variant) == fresh.identify_facts(gather(inv(**variant)))
    for fields in (
        {"model": "", "serial": "DS-2CD2386G2-IU20200101AAWR1", "mac": "28-57-be-00-00-01"},
        {"model": "", "serial": "DS-2CD2386G2-IU20200101AAWR2", "mac": "28:57:BE:00:00:02"},
        {"manufacturer": "Acme", "device_type": "Dome"},
        {"manufacturer": "Acme", "device_type": "NVR"},
    ):
        assert fresh.identify_inventory(fields) == fresh.identify_facts(gather(inv(**fields)))


def test_demo_estate_is_identified_correctly() -> None:
    """Every device of the synthetic estate, from its spreadsheet fields alone."""
    from phaseout.demo.estate import build_estate

    wrong = []
    for dev in build_estate(40, seed=9).devices:
        fields = {"manufacturer": dev.written_make, "model": dev.model, "mac": dev.mac}
        got = IDF.identify_inventory(fields).vendor
        if got != dev.vendor:
            wrong.append((dev.written_make, dev.model, dev.mac, dev.vendor, got))
    assert wrong == []
