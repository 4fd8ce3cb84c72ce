"""Answer shapes added after the holdout6 measurement (issue 14): SNMP objects by number and
snmpsim records, a maker named in sysDescr, a realm that is the device's MAC, and the SDP
session name of Hikvision's RTSP server.  Each case also checks what must stay unknown, since a
false positive costs a customer a wrongly replaced camera."""

from __future__ import annotations

from typing import Any

import pytest

from phaseout.identify import Identifier

IDF = Identifier()


def _vendor(obs: dict[str, Any]) -> str:
    return IDF.identify([obs]).vendor


def _rules(obs: dict[str, Any]) -> set[str]:
    return {e.rule for e in IDF.identify([obs]).evidence}


# ---------------------------------------------------------------- SNMP


NET_SNMP_LINUX = "1.3.6.1.2.1.1.1.0|4|Linux 3.10.0\n1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.8072.3.2.10\n"
SNMPREC_HIK_NVR = (
    "1.3.6.1.2.1.1.1.0|4|Hikvision company products\n"
    "1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.50001\n"
    "1.3.6.1.2.1.1.3.0|67|85447143\n"
)


@pytest.mark.parametrize(
    ("obs", "vendor"),
    [
        # snmpsim records (OID|tag|value): sysDescr names the maker
        ({"kind": "snmp", "raw": SNMPREC_HIK_NVR}, "hikvision"),
        ({"kind": "banner", "port": 161, "raw": SNMPREC_HIK_NVR}, "hikvision"),
        # tag 4x: the value in hex
        ({"kind": "snmp", "raw": "1.3.6.1.2.1.1.1.0|4x|" + b"Hikvision company products".hex() + "\n"}, "hikvision"),
        # snmpsim record of a private object under Dahua's MIB root
        ({"kind": "snmp", "raw": "1.3.6.1.4.1.1004849.2.1.2.6.0|4|DH-NVR4108HS-8P-4KS2\n"}, "dahua"),
        # snmpwalk -On: sysObjectID by number
        ({"kind": "snmp", "raw": ".1.3.6.1.2.1.1.2.0 = OID: .1.3.6.1.4.1.1004849.3.2.10\n"}, "dahua"),
        # another maker named in sysDescr is that maker, never a covered one
        ({"kind": "snmp", "raw": "1.3.6.1.2.1.1.1.0|4|; AXIS P5534-E; PTZ Dome Network Camera; 5.40.9.2;\n"}, "axis"),
        ({"kind": "snmp", "sysdescr": "Hikvision company products"}, "hikvision"),
        # nothing maker-specific stays unknown
        ({"kind": "snmp", "raw": '.1.3.6.1.2.1.1.1.0 = STRING: "NVR"\n'}, "unknown"),
        ({"kind": "snmp", "raw": NET_SNMP_LINUX}, "unknown"),
    ],
)
def test_snmp_records_by_number(obs: dict[str, Any], vendor: str) -> None:
    assert _vendor(obs) == vendor


def test_a_maker_in_sysdescr_is_named_as_the_device_names_itself() -> None:
    result = IDF.identify([{"kind": "snmp", "raw": SNMPREC_HIK_NVR}])
    assert any(e.rule == "name:hikvision" and "company products" in e.matched for e in result.evidence)


def test_a_bad_hex_snmprec_value_is_kept_as_text() -> None:
    assert _vendor({"kind": "snmp", "raw": "1.3.6.1.2.1.1.1.0|4x|not hex\n"}) == "unknown"


# ---------------------------------------------------------------- a realm that is a MAC

HIK_401 = (
    "RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\n"
    'WWW-Authenticate: Digest realm="{realm}", nonce="739ee6c7ea93532ef87d5f319b155537", stale="FALSE"\r\n\r\n'
)


@pytest.mark.parametrize(
    ("realm", "vendor"),
    [
        ("b4a38201a73f", "hikvision"),  # B4:A3:82 is assigned to Hikvision
        ("B4:A3:82:01:A7:3F", "hikvision"),
        ("588fcf7a1dc6", "hikvision"),  # 58:8F:CF: Hangzhou Ezviz Software
        ("02a38201a73f", "unknown"),  # locally administered: says nothing
        ("fe12f37bd0000bccbbd35f1a", "unknown"),  # 24 hex digits: a hash, not a MAC
        ("b4a38201a73f0", "unknown"),  # 13 digits
    ],
)
def test_realm_that_is_a_mac(realm: str, vendor: str) -> None:
    assert _vendor({"kind": "rtsp", "raw": HIK_401.format(realm=realm)}) == vendor


def test_realm_mac_in_an_http_challenge_and_in_an_echoed_authorization() -> None:
    http = 'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="b4a38201a73f"\r\n\r\n'
    assert _vendor({"kind": "http", "raw": http}) == "hikvision"
    echoed = (
        "RTSP/1.0 200 OK\r\nCSeq: 2\r\n\r\n"
        "DESCRIBE rtsp://192.0.2.1/Streaming/Channels/101 RTSP/1.0\r\nCSeq: 3\r\n"
        'Authorization: Digest username="u", realm="b4a38201a73f", nonce="n", uri="/", response="r"\r\n\r\n'
    )
    assert _vendor({"kind": "rtsp", "raw": echoed}) == "hikvision"


# ---------------------------------------------------------------- SDP session name

HIK_SDP = (
    "RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\n\r\n"
    "v=0\r\no=- 1109162014219182 0 IN IP4 0.0.0.0\r\ns={name}\r\ne=NONE\r\nt=0 0\r\n"
    "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
    "a=Media_header:MEDIAINFO=494D4B48010100000400000100000000000000000000000000000000000000000000000000000000;\r\n"
)


def test_hik_media_server_session_name() -> None:
    obs = {"kind": "rtsp", "raw": HIK_SDP.format(name="HIK Media Server V3.1.3")}
    assert _vendor(obs) == "hikvision"
    assert "hikvision.rtsp.sdp.hik-media-server" in _rules(obs)


@pytest.mark.parametrize(
    "name", ["Media Presentation", "RTSP/RTP stream from anjvision ipcamera", "HIK-like Media Server"]
)
def test_hikvision_style_sdp_from_other_firmware_stays_unknown(name: str) -> None:
    # the IMKH media header and "Media Presentation" are shared by Hikvision-style ODM firmware
    assert _vendor({"kind": "rtsp", "raw": HIK_SDP.format(name=name)}) == "unknown"


# ---------------------------------------------------------------- SNMP ifPhysAddress (IF-MIB)

#: net-snmp's own shapes (STRING with unpadded octets, Hex-STRING) and snmpsim's hex tag; the
#: MAC prefixes are the makers' IEEE registrations (3C:EF:8C Dahua, 00:02:D1 Vivotek).
BARE_NVR = "SNMPv2-MIB::sysDescr.0 = STRING: NVR\n"


@pytest.mark.parametrize(
    ("walk", "mac"),
    [
        ("IF-MIB::ifPhysAddress.1 = STRING: \nIF-MIB::ifPhysAddress.2 = STRING: 3c:ef:8c:8:4e:1e\n", "3CEF8C084E1E"),
        (".1.3.6.1.2.1.2.2.1.6.2 = Hex-STRING: 3C EF 8C 08 4E 1E \n", "3CEF8C084E1E"),
        ("1.3.6.1.2.1.2.2.1.6.1|4|\n1.3.6.1.2.1.2.2.1.6.2|4x|3cef8c084e1e\n", "3CEF8C084E1E"),
        ("1.3.6.1.2.1.2.2.1.6.2|4|0:2:d1:43:a5:26\n", "0002D143A526"),
    ],
)
def test_an_interfaces_mac_names_the_network_cards_maker(walk: str, mac: str) -> None:
    result = IDF.identify([{"kind": "snmp", "raw": BARE_NVR + walk}])
    assert any(e.rule.startswith("oui") for e in result.evidence)
    assert result.vendor == ("dahua" if mac.startswith("3CEF8C") else "vivotek")


@pytest.mark.parametrize(
    "walk",
    [
        "1.3.6.1.2.1.2.2.1.6.2|4x|000000000000\n",  # no address
        "1.3.6.1.2.1.2.2.1.6.2|4x|3cef8c08\n",  # four octets: not an 802 MAC
        "IF-MIB::ifPhysAddress.3 = STRING: garbage\n",
        "IF-MIB::ifDescr.2 = STRING: 3c:ef:8c:08:4e:1e\n",  # another object's value
    ],
)
def test_other_values_give_no_mac(walk: str) -> None:
    assert IDF.identify([{"kind": "snmp", "raw": BARE_NVR + walk}]).vendor == "unknown"


@pytest.mark.parametrize("bogus", ["ff:ff:ff:ff:ff:ff", "1:0:5e:0:0:fb", "33:33:0:0:0:1"])
def test_a_group_address_is_not_the_hosts_mac(bogus: str) -> None:
    """A scanned host's first MAC is its matching key (the strongest): an interface reporting
    the broadcast or a multicast address (an uninitialised radio, a driver's placeholder) would
    make every such device one device.  Group addresses are skipped, as the switch-table reader
    and the UUID node reader skip them; the walk's next interface gives the MAC."""
    from phaseout.identify.facts import gather

    walk = f"IF-MIB::ifPhysAddress.2 = STRING: {bogus}\nIF-MIB::ifPhysAddress.3 = STRING: 3c:ef:8c:8:4e:1e\n"
    assert [hx for _kind, hx in gather([{"kind": "snmp", "raw": BARE_NVR + walk}]).macs] == ["3CEF8C084E1E"]


def test_the_mac_of_the_interface_holding_an_address_comes_first() -> None:
    """ipAdEntIfIndex (IP-MIB, RFC 4293) says which interface holds each address: the first MAC
    (the scanned host's matching key) is that interface's, not a loopback's or a second card's."""
    from phaseout.identify import facts

    walk = (
        "IF-MIB::ifPhysAddress.1 = STRING: 0:11:22:33:44:55\n"
        "IF-MIB::ifPhysAddress.2 = STRING: 3c:ef:8c:8:4e:1e\n"
        "IP-MIB::ipAdEntIfIndex.127.0.0.1 = INTEGER: 1\n"
        "IP-MIB::ipAdEntIfIndex.192.0.2.10 = INTEGER: 2\n"
    )
    record = "1.3.6.1.2.1.2.2.1.6.1|4x|001122334455\n1.3.6.1.2.1.2.2.1.6.2|4x|3cef8c084e1e\n"
    record += "1.3.6.1.2.1.4.20.1.2.192.0.2.10|2|2\n"
    for raw in (walk, record):
        assert facts.gather([{"kind": "snmp", "raw": raw}]).macs[0] == ("snmp", "3CEF8C084E1E")
    # without the address table, the walk's order stands
    plain = walk.split("IP-MIB")[0]
    assert facts.gather([{"kind": "snmp", "raw": plain}]).macs[0] == ("snmp", "001122334455")


def test_a_walk_gives_at_most_a_few_dozen_macs() -> None:
    from phaseout.identify import facts

    walk = "".join(
        f"IF-MIB::ifPhysAddress.{i} = STRING: 0:11:22:{i // 65536 % 256:x}:{i // 256 % 256:x}:{i % 256:x}\n"
        for i in range(1, 5000)
    )
    assert len(facts.gather([{"kind": "snmp", "raw": walk}]).macs) == facts.MAX_WALK_MACS


@pytest.mark.parametrize(
    ("capture", "mac"),
    [
        # LibreNMS snmpsim records (source and licence in tests/data/captures/manifest.csv): the
        # hex tag, the text tag net-snmp prints, and ipAdEntIfIndex rows naming the interface
        ("librenms-dahua-nvr4108hs-8p-4ks2.snmprec", "3CEF8C084E1E"),
        ("librenms-vivotek-mega-pixel.snmprec", "0002D143A526"),
        ("librenms-axis-q1656-box.snmprec", "B8A44F96FAA4"),
    ],
)
def test_real_walks_give_their_interfaces_mac(capture: str, mac: str) -> None:
    from pathlib import Path

    from phaseout.identify import facts

    raw = (Path(__file__).parents[1] / "data" / "captures" / "snmp-walk" / capture).read_text(encoding="utf-8")
    assert facts.gather([{"kind": "snmp", "raw": raw}]).macs == [("snmp", mac)]
