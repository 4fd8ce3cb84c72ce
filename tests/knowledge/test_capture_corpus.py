"""The real-capture corpus (tests/data/captures): its manifest is complete and honest, every
capture goes through identification without a crash, and every capture outside the
expected-misses list is identified right.

The expected-misses list (known_misses.txt) records today's misses with a reason; a capture
that starts passing must leave the list (the test says so), and a capture that starts failing
is a regression.  A miss on a covered maker means the vendor is not hikvision/dahua as
labelled; a false positive (another maker called hikvision/dahua) is never an accepted miss
unless listed with its reason."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from phaseout.identify.engine import Identifier
from tests.corpus_loader import (
    CAPTURES,
    KINDS,
    MAKERS,
    MANIFEST,
    MAX_CAPTURE_BYTES,
    SPLITS,
    TIERS,
    Capture,
    device_record,
    load_known_misses,
    load_manifest,
    split_is_valid,
)

CAPS = load_manifest()
BY_FILE = {c.file: c for c in CAPS}
MISSES = load_known_misses()


@cache
def _identifier() -> Identifier:
    return Identifier()


def _identify(capture: Capture) -> dict[str, Any]:
    record = device_record(capture, capture.file)
    return _identifier().identify(record["observations"]).as_dict(capture.file)


def _correct(capture: Capture, vendor: str) -> bool:
    if capture.covered:
        return vendor == capture.true_vendor
    return vendor not in MAKERS


def test_corpus_is_large_and_mixed() -> None:
    assert len(CAPS) >= 200
    others = [c for c in CAPS if not c.covered]
    assert len(others) >= 60
    assert {c.true_vendor for c in CAPS} >= set(MAKERS)
    assert {c.split for c in CAPS} == set(SPLITS)


def test_every_file_is_listed_once_and_every_row_has_a_file() -> None:
    on_disk = {p.relative_to(CAPTURES).as_posix() for p in CAPTURES.rglob("*") if p.is_file() and p.parent != CAPTURES}
    listed = [c.file for c in CAPS]
    assert len(listed) == len(set(listed)), "a file is listed twice in the manifest"
    assert on_disk - set(listed) == set(), "capture files missing from manifest.csv"
    assert set(listed) - on_disk == set(), f"{MANIFEST} rows without a file"


@pytest.mark.parametrize("capture", CAPS, ids=lambda c: c.file)
def test_manifest_row_is_complete(capture: Capture) -> None:
    assert capture.kind in KINDS, f"unknown kind {capture.kind!r}"
    assert capture.file.startswith(capture.kind + "/"), "files live in a folder named after their kind"
    assert capture.source, "every capture names its source (URL or repo+path+commit)"
    assert capture.licence, "every capture states the licence of its source"
    assert capture.tier in TIERS
    assert capture.true_vendor and capture.true_vendor == capture.true_vendor.lower()
    if capture.oem_of:
        assert capture.oem_of == capture.true_vendor, "an OEM unit is labelled with its maker"
    assert capture.group, "the split is derived from the source group"
    assert split_is_valid(capture.split, capture.group)
    size = capture.path.stat().st_size
    assert 0 < size <= MAX_CAPTURE_BYTES


@pytest.mark.parametrize("capture", CAPS, ids=lambda c: c.file)
def test_identification_never_crashes(capture: Capture) -> None:
    out = _identify(capture)
    assert out["id"] == capture.file
    assert isinstance(out.get("vendor"), str) and out["vendor"]
    assert 0.0 <= float(out.get("confidence", 0.0)) <= 1.0


def test_known_misses_name_real_captures_with_a_reason() -> None:
    for name, reason in MISSES.items():
        assert name in BY_FILE, f"known_misses.txt names {name}, which is not in the manifest"
        assert reason, f"known_misses.txt gives no reason for {name}"


@pytest.mark.parametrize("capture", CAPS, ids=lambda c: c.file)
def test_capture_identified_right_unless_an_expected_miss(capture: Capture) -> None:
    vendor = _identify(capture)["vendor"]
    if capture.file in MISSES:
        assert not _correct(capture, vendor), (
            f"{capture.file} is now identified right ({vendor}): remove it from known_misses.txt"
        )
        return
    if capture.covered:
        assert vendor == capture.true_vendor, f"missed: {capture.true_vendor} ({capture.true_brand}) read as {vendor}"
    else:
        assert vendor not in MAKERS, f"false positive: {capture.true_vendor} ({capture.true_brand}) called {vendor}"
