"""Two shapes found by the holdout8 captures (issue 14, helper evidence3): HTTP header lines as
PHP's ``print_r`` prints the array ``get_headers()`` returns, and Hikvision serial numbers whose
leading model is not a DS- one (OEM labels), read by the serial's own layout.

Positive cases read real captures from tests/data/captures (sources in its manifest); the
negative cases change one thing so that each test can fail for the reason it names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from phaseout.identify import Identifier

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "captures"
IDF = Identifier()


def capture(name: str) -> str:
    return (CAPTURES / name).read_text("utf-8")


def ident(observations: list[dict[str, Any]]) -> dict[str, Any]:
    return IDF.identify(observations).as_dict("t")


def http(text: str) -> list[dict[str, Any]]:
    return [{"kind": "http", "port": 80, "tls": False, "raw": text}]


def banner(text: str) -> list[dict[str, Any]]:
    return [{"kind": "banner", "port": 80, "raw": text}]


def rules(out: dict[str, Any]) -> list[str]:
    return [e["rule"] for e in out["evidence"]]


# ---------------------------------------------------------------- PHP print_r of get_headers()

IMOU = "http-response/dahua-camera-ptz-1-imou-8086-401-php-array.txt"


def test_print_r_header_lines_give_the_devices_realm() -> None:
    out = ident(http(capture(IMOU)))
    assert out["vendor"] == "dahua"
    assert "dahua.auth.login-to-serial" in rules(out)


def test_one_printed_answer_is_read_too() -> None:
    """A single answer (one status line) in print_r form: its header lines are still headers."""
    one = "Array\n(\n    [0] => HTTP/1.1 401 Unauthorized\n    [1] => Server: Hikvision-Webs\n)\n"
    assert ident(http(one))["vendor"] == "hikvision"


@pytest.mark.parametrize(
    "line",
    [
        '    [5] => X-Note: WWW-Authenticate: Digest realm="Login to 54FFB94ED89C7ABB"',
        '    [5] => WWW-Authenticate: Digest realm="TP-Link IP-Camera"',
        '    [5] => WWW-Authenticate: Digest realm="Login"',
    ],
)
def test_print_r_lines_name_nothing_they_do_not_say(line: str) -> None:
    """A realm inside another header's value, another maker's realm, a realm without a serial."""
    text = f"Array\n(\n    [0] => HTTP/1.1 401 Unauthorized\n{line}\n    [6] => HTTP/1.1 500 Error\n)\n"
    assert ident(http(text))["vendor"] not in ("hikvision", "dahua")


def test_without_the_array_arrow_an_indented_bracket_is_not_a_header_prefix() -> None:
    text = 'Array\n(\n    [5] WWW-Authenticate: Digest realm="Login to 54FFB94ED89C7ABB"\n    HTTP/1.1 x HTTP/1.1\n)\n'
    assert ident(http(text))["vendor"] == "unknown"


# ---------------------------------------------------------------- Hikvision serial layout


@pytest.mark.parametrize(
    ("serial", "vendor", "rule"),
    [
        # OEM model, documented layout: the layout names the maker
        ("I61DR20161217AAWR691257591", "hikvision", "hikvision.serial.layout"),
        ("XYZ-NVR0820160211AAWR123456789WCVU", "hikvision", "hikvision.serial.layout"),
        # a DS- serial is read once, through the model grammar, not twice
        ("DS-2CD2385G1-I20200414AAWRE33842150", "hikvision", "serial:hikvision.ipc.ds-2cd"),
        # no region code, a date that cannot be, too few serial digits, another maker's serials
        ("I61DR20161217ABCD691257591", "unknown", None),
        ("I61DR20161317AAWR691257591", "unknown", None),
        ("I61DR20161217AAWR6912", "unknown", None),
        ("4X7C5A1ZAG21L3F", "unknown", None),
        ("210235C3CCF198000123", "unknown", None),
    ],
)
def test_serial_layout(serial: str, vendor: str, rule: str | None) -> None:
    out = ident(banner(f"serialNumber: {serial}"))
    assert out["vendor"] == vendor
    if rule is not None:
        assert rules(out).count(rule) == 1
        assert sum(r.startswith(("hikvision.serial", "serial:")) for r in rules(out)) == 1


def test_oem_diagnostics_without_a_model_is_hikvision() -> None:
    out = ident(banner(capture("isapi-deviceinfo-printout/hikvision-next-36-oem-i61dr-diagnostics-part.txt")))
    assert out["vendor"] == "hikvision"
    assert "hikvision.serial.layout" in rules(out)


def test_a_spreadsheet_serial_keeps_the_inventory_path() -> None:
    """The layout reads serials devices reported; a spreadsheet row is read by the model grammar
    alone (its fast path and the general path must agree)."""
    fields = {"manufacturer": "", "model": "I61DR", "serial": "I61DR20161217AAWR691257591"}
    assert IDF.identify_inventory(fields).vendor == "unknown"
