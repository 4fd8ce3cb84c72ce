"""Coverage per recorder and channel (track.verify.check_channels), table-driven: each case is a
recorder's channels as the store holds them after the latest list read, what the work order did,
and the verdict and reasons expected.  Then the line verdict with a channel proof, and the
installer's ``decommissioned`` column."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from phaseout.errors import DataError
from phaseout.track.returns import parse_return
from phaseout.track.verify import (
    ChannelSeen,
    NewDevice,
    OldDevice,
    RecorderSide,
    RecorderWork,
    check_channels,
    verify_line,
)

DONE = dt.date(2026, 11, 20)
BEFORE = dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC)
AFTER = dt.datetime(2026, 11, 25, 9, tzinfo=dt.UTC)
COVERED = {"hikvision", "dahua"}


def cam(
    did: int,
    channel: str | None,
    state: str | None = "online",
    vendor: str | None = "axis",
    seen: dt.datetime = AFTER,
    serial: str | None = None,
) -> ChannelSeen:
    return ChannelSeen(did, channel, state, vendor, None, f"M{did}", serial or f"SER{did:06d}", None, seen)


OLD_D3 = cam(13, "D3", "missing", "hikvision", BEFORE)
KEEP_D1 = cam(11, "D1", "online", "hikvision")  # a neighbour the order does not touch
NVR = "NVR DS-7608NXI at 10.0.0.5"


def side(*channels: ChannelSeen, rid: int = 1, title: str = NVR) -> RecorderSide:
    return RecorderSide(rid, title, tuple(channels))


CAMERA_SWAPS = [
    # (name, channels, swapped, decommissioned, replacements, state, words in the reasons)
    ("new camera on the channel", [KEEP_D1, OLD_D3, cam(20, "D3")], {13}, set(), {13: 20}, "passed", ["kept"]),
    ("dark: nothing on the channel", [KEEP_D1, OLD_D3], {13}, set(), {}, "exception", ["ch 3", "is dark", "no camera"]),
    (
        "old camera still listed online",
        [KEEP_D1, cam(13, "D3", "online", "hikvision")],
        {13},
        set(),
        {},
        "exception",
        ["still answers on ch 3"],
    ),
    (
        "old camera listed offline: dark, not a pass",
        [KEEP_D1, cam(13, "D3", "offline", "hikvision")],
        {13},
        set(),
        {},
        "exception",
        ["is dark", "offline"],
    ),
    (
        "covered camera put back",
        [KEEP_D1, OLD_D3, cam(20, "D3", vendor="dahua")],
        {13},
        set(),
        {13: 20},
        "exception",
        ["made by dahua", "covered"],
    ),
    ("new camera offline", [KEEP_D1, OLD_D3, cam(20, "D3", "offline")], {13}, set(), {13: 20}, "exception", ["dark"]),
    ("state not reported (Dahua)", [KEEP_D1, OLD_D3, cam(20, "D3", "unknown")], {13}, set(), {13: 20}, "passed", []),
    (
        "replacement on another channel",
        [KEEP_D1, OLD_D3, cam(20, "D9")],
        {13},
        set(),
        {13: 20},
        "passed",
        ["moved to ch 9"],
    ),
    ("decommissioned channel", [KEEP_D1, OLD_D3], set(), {13}, {}, "passed", ["decommissioned"]),
    (
        "list not read since the work",
        [cam(11, "D1", seen=BEFORE), OLD_D3, cam(20, "D3", seen=BEFORE)],
        {13},
        set(),
        {13: 20},
        "pending",
        ["not been read since 2026-11-20", "--credentials"],
    ),
    (
        "linked by a spreadsheet, no channel list ever read: the site total counts it",
        [cam(11, None, None, seen=BEFORE), cam(13, None, None, "hikvision", BEFORE)],
        {13},
        set(),
        {},
        "passed",
        ["no known channel"],
    ),
    (
        "hybrid recorder keeps the letter",
        [cam(11, "D1"), cam(13, "A3", "missing", "hikvision", BEFORE)],
        {13},
        set(),
        {},
        "exception",
        ["ch A3"],
    ),
]


@pytest.mark.parametrize(
    ("channels", "swapped", "decommissioned", "replacements", "state", "words"),
    [c[1:] for c in CAMERA_SWAPS],
    ids=[c[0] for c in CAMERA_SWAPS],
)
def test_camera_swaps_behind_a_recorder(
    channels: list[ChannelSeen],
    swapped: set[int],
    decommissioned: set[int],
    replacements: dict[int, int],
    state: str,
    words: list[str],
) -> None:
    work = RecorderWork(side(*channels), frozenset(swapped), frozenset(decommissioned), tuple(replacements.items()))
    verdict = check_channels(DONE, work, COVERED)
    said = " | ".join([m for _d, m in verdict.problems + verdict.waiting] + [o for _d, _c, o in verdict.channels])
    assert verdict.state == state, said
    for word in words:
        assert word in said, (word, said)
    problems, waiting = verdict.for_line(13)
    assert (state == "exception") == bool(problems) and (state == "pending") == bool(waiting)
    if state != "pending" and channels[1].state == "missing":  # (channels[1] is the old camera)
        assert "no longer names it" in verdict.gone[13]  # the list proves the old camera gone
    assert verdict.for_line(11) == ([], [])  # the untouched neighbour is nobody's line


OLD_NVR = side(
    cam(11, "D1", "online", "hikvision", BEFORE, "HIK000011"),
    cam(12, "D2", "online", "axis", BEFORE),
    cam(13, "D3", "offline", "hikvision", BEFORE),  # dark before the work
)
NEW = "NVR new at 10.0.0.6"

RECORDER_SWAPS = [
    # (name, new recorder's channels (None: not known), decommissioned, state, words)
    (
        "every live channel on the new recorder",
        [cam(31, "D1"), cam(32, "D2")],
        set(),
        "passed",
        ["kept", "already offline"],
    ),
    ("one channel left dark", [cam(31, "D1")], set(), "exception", ["ch 2 had a camera", "left it dark"]),
    ("that channel decommissioned", [cam(31, "D1")], {12}, "passed", ["decommissioned"]),
    (
        "same covered camera moved over",
        [cam(31, "D1", vendor="hikvision", serial="HIK000011"), cam(32, "D2")],
        set(),
        "passed",
        ["same camera", "not in this order"],
    ),
    (
        "another covered camera",
        [cam(31, "D1", vendor="hikvision", serial="HIK999999"), cam(32, "D2")],
        set(),
        "exception",
        ["covered"],
    ),
    ("DVR inputs onto NVR channels, by number", [cam(31, "A1"), cam(32, "A2")], set(), "passed", ["kept"]),
    ("new recorder not read since", [cam(31, "D1", seen=BEFORE)], set(), "pending", ["not been read since"]),
    ("new recorder not known", None, set(), "pending", ["not known yet"]),
    ("recorder decommissioned", [], {1}, "passed", ["decommissioned"]),
]


@pytest.mark.parametrize(
    ("after", "decommissioned", "state", "words"),
    [c[1:] for c in RECORDER_SWAPS],
    ids=[c[0] for c in RECORDER_SWAPS],
)
def test_recorder_swaps(
    after: list[ChannelSeen] | None, decommissioned: set[int], state: str, words: list[str]
) -> None:
    new = None if after is None else side(*after, rid=2, title=NEW)
    work = RecorderWork(OLD_NVR, decommissioned=frozenset(decommissioned), recorder_swapped=True, new_recorder=new)
    verdict = check_channels(DONE, work, COVERED)
    said = " | ".join([m for _d, m in verdict.problems + verdict.waiting] + [o for _d, _c, o in verdict.channels])
    assert verdict.state == state, said
    for word in words:
        assert word in said, (word, said)
    assert all(d == 1 for d, _m in verdict.problems + verdict.waiting)  # the recorder's line carries them


def test_cameras_swapped_with_their_recorder_are_gone_unless_the_new_one_lists_them() -> None:
    new = side(cam(31, "D1"), cam(32, "D2"), rid=2, title=NEW)
    work = RecorderWork(OLD_NVR, swapped=frozenset({11}), recorder_swapped=True, new_recorder=new)
    verdict = check_channels(DONE, work, COVERED)
    assert verdict.state == "passed" and "does not list it" in verdict.gone[11]
    still = side(cam(31, "D1", vendor="hikvision", serial="HIK000011"), cam(32, "D2"), rid=2, title=NEW)
    verdict = check_channels(DONE, replace(work, new_recorder=still), COVERED)
    assert verdict.state == "exception" and "still answers on the new recorder" in verdict.for_line(11)[0][0]


OLD = OldDevice(13, None, None, frozenset(), frozenset())
NEW_CAM = NewDevice(20, "axis", None, None, AFTER)


@pytest.mark.parametrize(
    ("kwargs", "new", "state", "words"),
    [
        ({"channel_gone": "NVR's channel list no longer names it"}, NEW_CAM, "passed", ["no longer names it"]),
        ({}, NEW_CAM, "pending", ["no complete scan"]),  # no address, no list: nothing proves it gone
        ({"decommissioned": True, "channel_gone": "list"}, None, "passed", ["decommissioned"]),
        ({"decommissioned": True}, None, "pending", ["no complete scan"]),
        ({"channel_gone": "x", "channel_problems": ["ch 3 of NVR is dark"]}, NEW_CAM, "exception", ["dark"]),
        ({"channel_gone": "x", "channel_waiting": ["not been read"]}, NEW_CAM, "pending", ["not been read"]),
    ],
)
def test_line_verdict_with_channel_evidence(
    kwargs: dict[str, object], new: NewDevice | None, state: str, words: list[str]
) -> None:
    verdict = verify_line(DONE, OLD, new, [], COVERED, **kwargs)  # type: ignore[arg-type]
    assert verdict.state == state, verdict.detail
    for word in words:
        assert word in verdict.detail


HEADER = ["work_order", "device", "old_serial", "new_serial", "new_mac", "done_date", "decommissioned"]


@pytest.mark.parametrize(
    ("row", "ok", "why"),
    [
        (["1", "13", "", "", "", "2026-11-20", "yes"], True, ""),
        (["1", "13", "", "NEW1", "", "2026-11-20", "no"], True, ""),
        (["1", "13", "", "NEW1", "", "2026-11-20", "yes"], False, "leave new_serial and new_mac empty"),
        (["1", "13", "", "", "", "2026-11-20", "perhaps"], False, "write yes or no"),
        (["1", "13", "", "", "", "2026-11-20", ""], False, "or decommissioned = yes"),
    ],
)
def test_return_decommissioned_column(row: list[str], ok: bool, why: str) -> None:
    parsed, problems = parse_return("r.csv", [(1, HEADER), (2, row)])
    assert bool(parsed) == ok and bool(problems) == (not ok)
    if ok:
        assert parsed[0][1]["decommissioned"] == (row[6] == "yes")
    else:
        assert why in problems[0].reason


def test_return_without_the_column_still_reads() -> None:
    parsed, problems = parse_return("r.csv", [(1, HEADER[:6]), (2, ["1", "13", "", "N1", "", "2026-11-20"])])
    assert not problems and parsed[0][1]["decommissioned"] is False
    with pytest.raises(DataError):
        parse_return("r.csv", [(1, HEADER[:3])])
