"""The recorder tree in words (estate.recorders) and the runbook that names each swap's channel
(plan.runbook), table-driven over plain rows as queries.recorders returns them."""

from __future__ import annotations

from typing import Any

import pytest

from phaseout.estate.recorders import camera_words, place_words, places_of, recorder_line, recorder_title
from phaseout.plan.runbook import SwapLine, runbook


def row(did: int, channel: str | None = None, **kw: Any) -> dict[str, Any]:
    base = {
        "id": did,
        "parent_id": 1 if did != 1 else None,
        "channel": channel,
        "channel_state": "online" if channel else None,
        "ip": None,
        "model": None,
        "id_model": None,
        "vendor": "unknown",
        "label": None,
        "covered": False,
        "status": "active",
        "id_type": "camera",
    }
    return base | kw


NVR = row(1, ip="10.0.0.5", model="DS-7608NXI-K2", vendor="hikvision", covered=True, id_type="recorder")
D1 = row(11, "D1", ip="192.168.254.1", model="DS-2CD2386G2-IU", vendor="hikvision", covered=True)
D2 = row(12, "D2", ip="192.168.254.2", model="AXIS P3265-LV", vendor="axis")
D3 = row(13, "D3", ip="192.168.254.3", model="IPC-HDW2431T", vendor="dahua", label="lorex", covered=True)
D4 = row(14, "D4", channel_state="offline", ip="192.168.254.4")
D5 = row(15, "D5", channel_state="missing", ip="192.168.254.5", model="DS-2CD2046G2-IU", vendor="hikvision")
A1 = row(21, "A1")
LINKED = row(31, None, model="DS-2CE16D0T", vendor="hikvision", covered=True)


@pytest.mark.parametrize(
    ("device", "words"),
    [
        (D1, "DS-2CD2386G2-IU (covered)"),
        (D2, "AXIS P3265-LV"),
        (D3, "IPC-HDW2431T (covered: lorex)"),
        (D4, "camera (offline)"),
        (D5, "DS-2CD2046G2-IU (gone: no longer in the recorder's list)"),
        (A1, "analogue (no address)"),
        (row(9, "D9", channel_state="unknown", ip="1.2.3.4", model="X"), "X (state not reported)"),
        (row(9, "D9", ip="1.2.3.4", model="X", status="replaced"), "X (replaced)"),
    ],
)
def test_camera_words(device: dict[str, Any], words: str) -> None:
    assert camera_words(device) == words


def test_recorder_lines_and_places() -> None:
    assert recorder_title(NVR, [D1, D2]) == "NVR DS-7608NXI-K2 at 10.0.0.5"
    assert recorder_title(NVR | {"model": None, "ip": None}, [A1]) == "DVR 1"
    line = recorder_line(NVR, [D1, D2, D4], {12: "swap in this visit"})
    assert line == (
        "NVR DS-7608NXI-K2 at 10.0.0.5: ch 1 DS-2CD2386G2-IU (covered), ch 2 AXIS P3265-LV (swap in this visit), "
        "ch 4 camera (offline)"
    )
    hybrid = recorder_line(NVR, [D1, A1])  # both kinds: the letters stay
    assert "ch D1 DS-2CD2386G2" in hybrid and "ch A1 analogue (no address)" in hybrid
    assert hybrid.startswith("recorder DS-7608NXI-K2")
    assert "DS-2CE16D0T (covered, no address) on a channel not known" in recorder_line(NVR, [LINKED])
    assert place_words(D3, NVR, [D1, D3]) == "ch 3 of NVR DS-7608NXI-K2 at 10.0.0.5"
    assert place_words(LINKED, NVR, [LINKED]).startswith("behind recorder DS-7608NXI-K2")
    long = recorder_line(NVR, [row(100 + i, f"D{i}", ip="x") for i in range(1, 71)])
    assert long.endswith("... and 6 more")
    assert recorder_line(NVR, []).endswith("no cameras known behind it (scan it with --credentials)")


def _tree() -> dict[str, Any]:
    children = [D1, D2, D3, D4]
    return {
        "devices": {d["id"]: d for d in (NVR, *children)},
        "recorders": {1: NVR | {"children": children}},
    }


def test_places_of_marks_the_swaps_and_the_recorder_itself() -> None:
    where, lines = places_of(_tree(), [11, 13])
    assert where == {11: "ch 1 of NVR DS-7608NXI-K2 at 10.0.0.5", 13: "ch 3 of NVR DS-7608NXI-K2 at 10.0.0.5"}
    assert len(lines) == 1 and "ch 1 DS-2CD2386G2-IU (covered, swap in this visit)" in lines[0]
    assert "ch 2 AXIS P3265-LV," in lines[0]  # untouched channels are listed too, unmarked
    _where, lines = places_of(_tree(), [1], "in this order")
    assert lines[0].endswith("[the recorder itself: in this order]")
    assert places_of({}, [11]) == ({}, [])


def test_runbook_names_each_swaps_channel() -> None:
    swaps = [
        SwapLine(11, "camera", "hikvision DS-2CD2386G2-IU", "192.168.254.1", "AX-CAM"),
        SwapLine(13, "camera", "dahua (lorex) IPC-HDW2431T", "192.168.254.3", "AX-CAM"),
        SwapLine(50, "camera", "hikvision DS-2CD1023G0", "10.0.0.50", "AX-CAM"),  # on the LAN, behind no recorder
    ]
    steps = runbook({"S1#1": swaps}, {"S1#1": "2027-Q1"}, 12, 0.25, _tree())
    assert steps[0].action.startswith("before starting, note the recorder's channels: NVR DS-7608NXI-K2")
    by_device = {s.device: s for s in steps if s.device is not None}
    assert by_device[11].where == "ch 1 of NVR DS-7608NXI-K2 at 10.0.0.5" and by_device[50].where == ""
    assert by_device[13].as_dict()["where"] == "ch 3 of NVR DS-7608NXI-K2 at 10.0.0.5"
    assert any("a channel left dark fails verification" in s.action for s in steps)
    plain = runbook({"S1#1": swaps}, {"S1#1": "2027-Q1"}, 12, 0.25)  # no tree: as before
    assert all(s.where == "" for s in plain) and len(plain) == len(steps) - 2
