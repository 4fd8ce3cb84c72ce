"""The wire must never lose what the text has.

Every real capture that is a network answer is served verbatim from its own loopback address
at the request the real device answered (tests/wire_replay.py), the app's probe path scans
those addresses, and each capture identified right on its text must be identified right over
the wire too, unless ``tests/data/wire_known_losses.txt`` names it with a reason.  The whole
served corpus (about 180 captures) is scanned concurrently: one scan, bounded by the host
deadline it is given, a few seconds on an idle machine.  Traffic stays on 127.93.0.0/16."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from phaseout.discover.scanner import ScanSettings
from tests.corpus_loader import MAKERS, load_manifest
from tests.support import needs_ports
from tests.wire_replay import Outcome, replay

LOSSES = Path(__file__).resolve().parents[1] / "data" / "wire_known_losses.txt"


def known_losses() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in LOSSES.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _sep, reason = line.partition(" ")
            out[name] = reason.strip()
    return out


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    start = time.monotonic()
    # Generous timeouts: the replay server shares this process (and its GIL) with the scanner,
    # and on a loaded machine a 1 s connect deadline can pass before the accept runs.
    settings = ScanSettings(ports=(80, 443, 554), connect_timeout=5.0, read_timeout=5.0, host_deadline=40.0)
    rows, _skipped = replay(load_manifest(), settings)
    assert time.monotonic() - start < 60, "the replay scan must stay bounded"
    return rows


@needs_ports
def test_wire_never_loses_what_the_text_has(outcomes: list[Outcome]) -> None:
    losses = known_losses()
    assert all(reason for reason in losses.values()), "every listed loss needs a reason"
    lost = {
        o.plan.capture.file: f"text={o.text_vendor} wire={o.wire_vendor} asked={o.plan.hits}"
        for o in outcomes
        if o.verdict(o.text_vendor) == "correct" and o.verdict(o.wire_vendor) != "correct"
    }
    unexpected = {f: why for f, why in lost.items() if f not in losses}
    assert not unexpected, f"identified on text but lost over the wire: {unexpected}"
    fixed = sorted(set(losses) - set(lost))
    assert not fixed, f"no longer lost over the wire, remove from {LOSSES.name}: {fixed}"


@needs_ports
def test_wire_names_no_covered_maker_for_other_makers(outcomes: list[Outcome]) -> None:
    wrong = [o.plan.capture.file for o in outcomes if not o.plan.capture.covered and o.wire_vendor in MAKERS]
    assert not wrong


@needs_ports
def test_the_scanner_asked_for_the_served_identification_answers(outcomes: list[Outcome]) -> None:
    """The harness is not vacuous: the identification endpoints the scanner asks were served
    and drawn, and what they drew identifies the device."""
    asked = {h.split("?", 1)[0].split("#", 1)[0] for o in outcomes for h in o.plan.hits}
    assert {"GET /", "GET /ISAPI/System/deviceInfo", "POST /onvif/device_service", "OPTIONS", "DESCRIBE"} <= asked
    # Only deviceInfo captures identified on their text: a cut body that names no model (a known
    # miss in tests/data/captures/known_misses.txt) says nothing about the harness.
    deviceinfo = [
        o
        for o in outcomes
        if o.plan.capture.kind == "isapi-deviceinfo" and o.plan.hits and o.text_vendor == "hikvision"
    ]
    assert deviceinfo and all(o.wire_vendor == "hikvision" for o in deviceinfo)
