"""``phaseout identify``: the stable JSON Lines interface, and hostile input that must give an
error record or a capped, safe parse -- never a crash or a hang."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest


def run(data: bytes, *args: str, timeout: float = 60) -> tuple[list[dict[str, Any]], str, float]:
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "phaseout", "identify", *args], input=data, capture_output=True, timeout=timeout
    )
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr.decode()
    return [json.loads(line) for line in proc.stdout.splitlines()], proc.stderr.decode(), elapsed


def line(record: dict[str, Any]) -> bytes:
    return json.dumps(record).encode() + b"\n"


def test_same_order_same_ids_and_error_objects() -> None:
    data = (
        line({"id": "a", "observations": [{"kind": "inventory", "fields": {"manufacturer": "Hikvision"}}]})
        + b"this is not json\n"
        + line({"id": 7, "observations": [{"kind": "mac", "value": "3C:EF:8C:00:00:01"}]})
        + line({"id": "no-obs"})
        + line({"id": "bad-obs", "observations": [{"kind": "http"}]})
        + line({"id": "weird-kind", "observations": [{"kind": "carrier-pigeon", "raw": "coo"}]})
        + b"\n"
        + line(["not", "an", "object"])  # type: ignore[arg-type]
        + line({"id": None, "observations": []})
    )
    out, stderr, _ = run(data)
    assert [o.get("id") for o in out] == ["a", None, 7, "no-obs", "bad-obs", "weird-kind", None, None]
    assert out[0]["vendor"] == "hikvision" and out[2]["vendor"] == "dahua"
    assert "not valid JSON" in out[1]["error"]
    assert "observations must be a list" in out[3]["error"]
    assert "raw string" in out[4]["error"]
    assert out[5]["vendor"] == "unknown" and "unknown observation kind" in json.dumps(out[5]["evidence"])
    assert "error" in out[6]
    assert out[7]["vendor"] == "unknown"
    assert set(out[0]) >= {
        "id",
        "vendor",
        "brand",
        "relation",
        "model",
        "firmware",
        "device_type",
        "form_factor",
        "megapixels",
        "confidence",
        "evidence",
    }
    assert "could not be identified" in stderr


def test_binary_junk_and_invalid_utf8() -> None:
    junk = bytes(b for b in range(256) if b != 10) * 4 + b"\n"
    bad_utf8 = b'{"id": "u", "observations": [{"kind": "banner", "raw": "\xff\xfe login:"}]}\n'
    out, _, _ = run(junk + bad_utf8)
    assert len(out) == 2
    assert "not valid JSON" in out[0]["error"]
    assert out[1]["id"] == "u" and out[1]["vendor"] == "unknown"  # read with replacement characters


def test_fifty_megabyte_raw_field_is_capped() -> None:
    raw = "Server: Hikvision-Webs\r\n\r\n" + "A" * (50 * 1024 * 1024)
    data = line({"id": "big", "observations": [{"kind": "http", "raw": "HTTP/1.1 200 OK\r\n" + raw}]})
    out, _, elapsed = run(data, timeout=120)
    assert out[0]["vendor"] == "hikvision"
    assert elapsed < 60


BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<DeviceInfo><model>&lol9;</model><manufacturer>hikvision</manufacturer></DeviceInfo>"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE d [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<DeviceInfo><model>&xxe;</model></DeviceInfo>"""


@pytest.mark.parametrize("payload", [BOMB, XXE])
def test_xml_entities_are_refused(payload: str) -> None:
    obs = [{"kind": "http", "raw": "HTTP/1.1 200 OK\r\n\r\n" + payload}, {"kind": "onvif", "raw": payload}]
    out, _, elapsed = run(line({"id": "x", "observations": obs}))
    text = json.dumps(out[0])
    assert "XML refused" in text
    assert "root:" not in text and "lollol" not in text
    assert elapsed < 30


def test_script_tag_model_is_returned_as_data() -> None:
    model = "<script>alert(1)</script>"
    out, _, _ = run(line({"id": "s", "observations": [{"kind": "inventory", "fields": {"model": model}}]}))
    assert out[0]["model"] == model.upper() or out[0]["model"] == model
    assert out[0]["vendor"] == "unknown"


def test_deeply_nested_json_is_an_error_not_a_crash() -> None:
    nested = b'{"id": "deep", "observations": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    out, _, _ = run(nested)
    assert "error" in out[0]


def test_table_format() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "phaseout", "identify", "--format", "table"],
        input=line({"id": "t", "observations": [{"kind": "inventory", "fields": {"model": "DS-2CD2143G2-I"}}]}),
        capture_output=True,
        timeout=60,
        env={"COLUMNS": "200", "PATH": ""},
    )
    assert proc.returncode == 0 and b"hikvision" in proc.stdout


def test_knowledge_commands() -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "phaseout", "knowledge", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={"COLUMNS": "200", "PATH": ""},
        )

    assert "all pass" in cli("check").stdout
    shown = cli("show", "Lorex").stdout
    assert "formerly-owned" in shown and "Dahua" in shown
    assert "Hangzhou Hikvision" in cli("show", "28:57:BE").stdout
    missing = cli("show", "Nonexistent Corp")
    assert missing.returncode == 6 and "nothing known" in missing.stderr


def test_knowledge_update_loads_a_downloaded_registry(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A newer IEEE registry the user downloaded: its prefixes are known afterwards, merged
    over loads, and a garbage file is refused."""
    env = {"XDG_DATA_HOME": str(tmp_path), "COLUMNS": "200", "PATH": ""}
    registry = tmp_path / "oui.csv"
    registry.write_text(
        "Registry,Assignment,Organization Name,Organization Address\n"
        'MA-L,FCFCFC,"Axis Communications AB",Lund SE\n'
        "MA-L,FDFDFD,Hangzhou Hikvision Digital Technology Co.,Ltd.,Hangzhou CN\n",
        encoding="utf-8",
    )

    def cli(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "phaseout", *args], input=stdin, capture_output=True, timeout=60, env=env
        )

    done = cli("knowledge", "update", "--oui", str(registry))
    assert done.returncode == 0 and b"2 prefixes loaded" in done.stdout
    out = cli(
        "identify",
        stdin=line({"id": 1, "observations": [{"kind": "mac", "value": "FC:FC:FC:00:00:01"}]})
        + line({"id": 2, "observations": [{"kind": "mac", "value": "FD:FD:FD:00:00:01"}]}),
    )
    results = [json.loads(x) for x in out.stdout.splitlines()]
    assert [r["vendor"] for r in results] == ["axis", "hikvision"]
    bad = tmp_path / "bad.csv"
    bad.write_text("nothing,useful\n1,2\n", encoding="utf-8")
    refused = cli("knowledge", "update", "--oui", str(bad))
    assert refused.returncode == 3 and b"no registry rows" in refused.stderr


def test_upnp_device_description() -> None:
    description = (
        '<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0"><device>'
        "<deviceType>urn:schemas-upnp-org:device:Basic:1</deviceType><manufacturer>Dahua</manufacturer>"
        "<modelName>DHI-NVR4216-16P-4KS2</modelName><serialNumber>6J0E00000000000</serialNumber>"
        "</device></root>"
    )
    out, _, _ = run(line({"id": "u", "observations": [{"kind": "upnp", "raw": description}]}))
    assert (out[0]["vendor"], out[0]["model"], out[0]["device_type"]) == ("dahua", "DHI-NVR4216-16P-4KS2", "recorder")


def test_registry_update_keeps_netaddr_for_the_rest(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from phaseout.knowledge.oui import OuiResolver

    resolver = OuiResolver({}, {"FCFCFC": "Somebody"})
    assert resolver.lookup("FCFCFC000001").registrant == "Somebody"  # type: ignore[union-attr]
    assert resolver.lookup("00408C000001").registrant == "Axis Communications AB"  # type: ignore[union-attr]


def test_table_fits_a_narrow_terminal_and_says_what_it_left_out() -> None:
    record = line({"id": "cam-42", "observations": [{"kind": "inventory", "fields": {"model": "DS-2CD2143G2-I"}}]})
    narrow = subprocess.run(
        [sys.executable, "-m", "phaseout", "identify", "--format", "table"],
        input=record,
        capture_output=True,
        timeout=60,
        env={"COLUMNS": "80", "PATH": ""},
    )
    assert narrow.returncode == 0
    assert all(len(row) <= 80 for row in narrow.stdout.decode().splitlines())
    assert "cam-42" in narrow.stdout.decode()  # the id whole, not folded
    assert "not shown at 80 columns: type, relation, form, MP, evidence" in narrow.stderr.decode()
