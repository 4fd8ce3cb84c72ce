from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phaseout.normalize import address_span, clean_text, looks_like_hostname, normalize_ip, normalize_mac, site_key

MAC = "28:57:BE:12:34:5A"


@pytest.mark.parametrize(
    "written",
    [
        "28:57:BE:12:34:5A",
        "28:57:be:12:34:5a",
        "28-57-BE-12-34-5A",
        "2857.be12.345a",
        "2857BE12345A",
        "0x2857BE12345A",
        "28 57 BE 12 34 5A",
        "  28:57:BE:12:34:5A ",
    ],
)
def test_mac_notations(written: str) -> None:
    assert normalize_mac(written) == MAC


@given(st.binary(min_size=6, max_size=6), st.sampled_from([":", "-", "", " "]), st.booleans())
def test_mac_roundtrip_any_separator(raw: bytes, sep: str, upper: bool) -> None:
    hexes = [f"{b:02x}" for b in raw]
    written = sep.join(h.upper() if upper else h for h in hexes)
    assert normalize_mac(written) == ":".join(h.upper() for h in hexes)


@pytest.mark.parametrize("bad", ["28:57:BE:12:34", "not a mac", "28:57:BE:12:34:5G", "2.85712E+11", ""])
def test_bad_macs_raise_with_reason(bad: str) -> None:
    with pytest.raises(ValueError, match=r"MAC|not a MAC"):
        normalize_mac(bad)


def test_excel_mangled_mac_says_what_happened() -> None:
    with pytest.raises(ValueError, match="turned into a number"):
        normalize_mac("2.85712E+11")


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.000.003.007", "127.0.3.7"),
        ("127.0.3.7:8000", "127.0.3.7"),
        (" 127.0.0.9 ", "127.0.0.9"),
        ("FE80::0001", "fe80::1"),
        ("[::1]", "::1"),
    ],
)
def test_ip_forms(written: str, expected: str) -> None:
    assert normalize_ip(written) == expected


@pytest.mark.parametrize("bad", ["127.0.0.256", "cam-01", "1.2.3", ""])
def test_bad_ips(bad: str) -> None:
    with pytest.raises(ValueError, match="not an IP"):
        normalize_ip(bad)


def test_hostnames() -> None:
    assert looks_like_hostname("cam-012.store12.example")
    assert not looks_like_hostname("1.2.3")
    assert not looks_like_hostname("has space")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  Axis\u00a0 Communications ", "Axis Communications"),
        ("Hik\u200bvision", "Hikvision"),
        ("N/A", None),
        ("-", None),
        ("", None),
        (None, None),
        (1234.0, "1234"),
        (12.5, "12.5"),
        (float("nan"), None),
        ("Unknown", None),
    ],
)
def test_clean_text(value: object, expected: str | None) -> None:
    assert clean_text(value) == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Store 0123", "123"),
        ("store #123", "0123"),
        ("No. 42", "42"),
        ("Leeds  Hyper", "leeds hyper"),
        ("DC-North", "dc north"),
    ],
)
def test_site_keys_agree(a: str, b: str) -> None:
    assert site_key(a) == site_key(b)


def test_site_keys_differ() -> None:
    assert site_key("Store 12") != site_key("Store 120")
    assert site_key("Leeds Hyper") != site_key("Leeds Superstore")


@pytest.mark.parametrize(
    ("target", "inside", "outside", "hosts"),
    [
        ("127.20.0.5", ["127.20.0.5"], ["127.20.0.6"], 1),
        ("127.20.0.0/30", ["127.20.0.0", "127.20.0.3"], ["127.20.0.4"], 2),  # network and broadcast not probed
        ("127.20.0.1-50", ["127.20.0.1", "127.20.0.50"], ["127.20.0.51"], 50),
        ("127.20.0.250-127.20.1.4", ["127.20.0.255", "127.20.1.0"], ["127.20.1.5"], 11),
        ("::1", ["::1"], ["127.0.0.1"], 1),
    ],
)
def test_one_target_grammar_for_scans_and_verification(
    target: str, inside: list[str], outside: list[str], hosts: int
) -> None:
    span = address_span(target)
    assert all(span.covers(ip) for ip in inside) and not any(span.covers(ip) for ip in outside)
    assert len(list(span.hosts())) == hosts


@pytest.mark.parametrize("target", ["127.20.0.9-3", "nope", "127.20.0.1-::5", "10.0.0.0/33"])
def test_bad_targets_are_value_errors(target: str) -> None:
    with pytest.raises(ValueError):
        address_span(target)
