"""Every real capture, re-printed the way common tools print answers (tests/printout_shapes.py),
is identified as it is when printed plainly: a Hikvision/Dahua capture found as it is stays
found, and no other maker's capture becomes Hikvision or Dahua in any shape.

``LOSSES`` names the few re-printed captures that may be lost, each with why: the shape itself
throws the evidence away, or the capture is a fragment no reader can place once wrapped.  A
listed capture that starts passing fails the test until its line goes, so the list only shrinks;
a loss not listed is a regression."""

from __future__ import annotations

from functools import cache

import pytest

from phaseout.identify.engine import Identifier
from tests.corpus_loader import MAKERS, Capture, load_known_misses, load_manifest, observation, read_payload
from tests.printout_shapes import SHAPES, Shape

CAPS = load_manifest()
MISSES = load_known_misses()

#: (shape, capture file) -> why that printout of it may be lost.
LOSSES: dict[tuple[str, str], str] = {
    (
        "etree-reserialised",
        "onvif-capabilities/hikvision-ds-2cd2143g0-i.xml",
    ): "ElementTree drops the unused xmlns:tnshik declaration, the only Hikvision trace",
    (
        "etree-reserialised",
        "onvif-profiles/hikvision-ds-2cd2143g0-i.xml",
    ): "ElementTree drops the unused xmlns:tnshik declaration, the only Hikvision trace",
    (
        "etree-reserialised",
        "onvif-services/hikvision-ds-2cd2143g0-i.xml",
    ): "ElementTree drops the unused xmlns:tnshik declaration, the only Hikvision trace",
    (
        "python-repr",
        "telnet-banner/hikvision-75.txt",
    ): "a one-line literal holds no escaped line end, so it is not read as an answer (a quoted word stays a word)",
    (
        "json-field",
        "telnet-banner/hikvision-75.txt",
    ): "a one-line string in a record is not taken for the answer it wraps (only strings that span lines are)",
    (
        "logged-repr",
        "telnet-banner/hikvision-75.txt",
    ): "a one-line literal holds no escaped line end, so it is not read as an answer",
    (
        "literal-mid-line",
        "telnet-banner/hikvision-75.txt",
    ): "a one-line literal holds no escaped line end, so it is not read as an answer",
    (
        "logged",
        "isapi-deviceinfo-printout/hikvision-next-36-oem-i61dr-diagnostics-part.txt",
    ): "a diagnostics printout whose first line the logger's head joins; its first field is the one read",
    (
        "html-escaped",
        "http-response/dahua-camera-ptz-1-imou-8086-401-php-array.txt",
    ): "PHP's print_r escapes only '=>' here: one '&gt;' and no '&lt;' is not taken for escaped markup",
    (
        "html-escaped",
        "rtsp-fragment/motion-121-amcrest-ngrep-options-401.txt",
    ): "an ngrep printout holds no markup, so nothing marks its '&amp;' escapes as a page's",
}


@cache
def _identifier() -> Identifier:
    return Identifier()


def _vendor(obs: dict[str, object]) -> str:
    return _identifier().identify([obs]).vendor


def _plain(capture: Capture) -> dict[str, object]:
    return observation(capture.kind, read_payload(capture.path))


@cache
def _found_as_is() -> tuple[Capture, ...]:
    return tuple(c for c in CAPS if c.covered and c.file not in MISSES and _vendor(_plain(c)) == c.true_vendor)


def _reprinted(capture: Capture, shape: Shape) -> dict[str, object] | None:
    obs = _plain(capture)
    raw = obs.get("raw")
    if not isinstance(raw, str):
        return None
    text = shape.render(raw)
    return None if text is None else {**obs, "raw": text}


def test_losses_name_real_captures_and_shapes() -> None:
    files = {c.file for c in CAPS}
    names = {s.name for s in SHAPES}
    assert {f for _s, f in LOSSES} <= files
    assert {s for s, _f in LOSSES} <= names


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
def test_covered_captures_stay_found_when_reprinted(shape: Shape) -> None:
    lost, recovered = [], []
    for capture in _found_as_is():
        obs = _reprinted(capture, shape)
        if obs is None:
            continue
        kept = _vendor(obs) == capture.true_vendor
        listed = (shape.name, capture.file) in LOSSES
        if not kept and not listed:
            lost.append(capture.file)
        elif kept and listed:
            recovered.append(capture.file)
    assert not lost, f"{shape.name}: lost {lost}"
    assert not recovered, f"{shape.name}: now found, remove from LOSSES: {recovered}"


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
def test_no_other_maker_becomes_covered_when_reprinted(shape: Shape) -> None:
    wrong = []
    for capture in CAPS:
        if capture.covered:
            continue
        obs = _reprinted(capture, shape)
        if obs is not None and (vendor := _vendor(obs)) in MAKERS:
            wrong.append(f"{capture.file} -> {vendor}")
    assert not wrong, f"{shape.name}: false positives {wrong}"
