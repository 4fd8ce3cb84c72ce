"""The recorder tree in words (pure): how a recorder and the cameras on its channels are named for
installers, work orders, the terminal and the dashboard.

Rows are plain mappings as :mod:`phaseout.queries.recorders` returns them (``id``, ``channel``,
``channel_state``, ``ip``, ``model``, ``id_model``, ``vendor``, ``label``, ``covered``, ...).  A
channel key is the recorder's own name for the input: ``D3`` is IP channel 3, ``A3`` analogue
input 3 (an analogue camera has no address).  Channel numbers are shown as the recorder shows
them (``ch 3``); on a hybrid recorder, with both kinds, the letter stays (``ch A3``, ``ch D3``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: channels named in one line before "... and N more"
LINE_CHANNELS = 64

#: what each stored channel state means to a person
STATE_WORDS = {
    "online": "online",
    "offline": "offline",
    "unknown": "state not reported",
    "missing": "gone: no longer in the recorder's list",
}


def channel_number(key: str | None) -> int | None:
    if key and key[:1] in ("A", "D") and key[1:].isdigit():
        return int(key[1:])
    return None


def is_analogue(row: Mapping[str, Any]) -> bool:
    return str(row.get("channel") or "").startswith("A")


def hybrid(children: Sequence[Mapping[str, Any]]) -> bool:
    kinds = {str(c.get("channel") or "")[:1] for c in children if channel_number(c.get("channel")) is not None}
    return kinds >= {"A", "D"}


def channel_name(key: str | None, *, both_kinds: bool = False) -> str:
    """``ch 3`` (``ch A3`` on a hybrid recorder); ``not on a channel`` for a linked device."""
    number = channel_number(key)
    if number is None or key is None:
        return "not on a channel"
    return f"ch {key}" if both_kinds else f"ch {number}"


def model_of(row: Mapping[str, Any]) -> str:
    return str(row.get("model") or row.get("id_model") or "")


def recorder_kind(row: Mapping[str, Any], children: Sequence[Mapping[str, Any]]) -> str:
    """NVR when its channels are IP channels, DVR when analogue inputs, else recorder."""
    kinds = {str(c.get("channel") or "")[:1] for c in children if channel_number(c.get("channel")) is not None}
    if kinds == {"D"}:
        return "NVR"
    if kinds == {"A"}:
        return "DVR"
    return "recorder"


def recorder_title(row: Mapping[str, Any], children: Sequence[Mapping[str, Any]] = ()) -> str:
    """``NVR DS-7608NXI at 10.0.0.5`` (device id when nothing else names it)."""
    model = model_of(row)
    where = f" at {row['ip']}" if row.get("ip") else ""
    name = f" {model}" if model else f" {row.get('id')}"
    return f"{recorder_kind(row, children)}{name}{where}"


def camera_words(row: Mapping[str, Any], extra: str = "") -> str:
    """``DS-2CD2386G2 (covered)``, ``analogue (no address)``, ``IPC-HDW2431T (covered, offline)``."""
    model = model_of(row)
    what = model or ("analogue" if is_analogue(row) else str(row.get("id_type") or "camera"))
    notes: list[str] = []
    if row.get("covered"):
        label = row.get("label") or row.get("vendor")
        same = not label or str(label).lower() == str(row.get("vendor") or "").lower()
        notes.append("covered" if same else f"covered: {label}")
    if not row.get("ip"):
        notes.append("no address")
    state = row.get("channel_state")
    if state and state != "online":
        notes.append(STATE_WORDS.get(str(state), str(state)))
    if row.get("status") and row.get("status") != "active":
        notes.append(str(row["status"]))
    if extra:
        notes.append(extra)
    return f"{what} ({', '.join(notes)})" if notes else what


def recorder_line(
    recorder: Mapping[str, Any],
    children: Sequence[Mapping[str, Any]],
    marks: Mapping[int, str] | None = None,
    *,
    limit: int = LINE_CHANNELS,
) -> str:
    """``NVR DS-7608NXI at 10.0.0.5: ch 1 DS-2CD2386G2 (covered), ch 2 analogue (no address), ...``.
    ``marks``: words added to some devices (``swapped in this visit``)."""
    marks = marks or {}
    both = hybrid(children)
    parts = [
        f"{channel_name(c.get('channel'), both_kinds=both)} {camera_words(c, marks.get(int(c['id']), ''))}"
        if channel_number(c.get("channel")) is not None
        else f"{camera_words(c, marks.get(int(c['id']), ''))} on a channel not known"
        for c in children[:limit]
    ]
    if len(children) > limit:
        parts.append(f"... and {len(children) - limit} more")
    body = ", ".join(parts) if parts else "no cameras known behind it (scan it with --credentials)"
    return f"{recorder_title(recorder, children)}: {body}"


def place_words(
    device: Mapping[str, Any], recorder: Mapping[str, Any] | None, children: Sequence[Mapping[str, Any]]
) -> str:
    """Where a device sits: ``ch 3 of NVR DS-7608NXI at 10.0.0.5`` (empty when behind no recorder)."""
    if recorder is None:
        return ""
    if channel_number(device.get("channel")) is None:
        return f"behind {recorder_title(recorder, children)} (channel not known: scan it with --credentials)"
    return f"{channel_name(device.get('channel'), both_kinds=hybrid(children))} of {recorder_title(recorder, children)}"


def places_of(
    tree: Mapping[str, Any], device_ids: Sequence[int], mark: str = "swap in this visit"
) -> tuple[dict[int, str], list[str]]:
    """For a set of devices (a visit's swaps, a work order's lines) and a tree read by
    ``queries.recorders.places``: where each device sits (``ch 3 of NVR ... at ...``), and one line
    per recorder they touch listing all its channels, these devices marked."""
    devices: Mapping[int, Mapping[str, Any]] = tree.get("devices") or {}
    recorders: Mapping[int, Mapping[str, Any]] = tree.get("recorders") or {}
    wanted = set(device_ids)
    where: dict[int, str] = {}
    touched: list[int] = []
    for did in device_ids:
        row = devices.get(did)
        if row is None:
            continue
        parent = row.get("parent_id")
        if parent is not None and parent in recorders:
            rec = recorders[parent]
            where[did] = place_words(row, rec, rec.get("children") or ())
            touched.append(parent)
        elif did in recorders:
            touched.append(did)
    lines = []
    for rid in dict.fromkeys(touched):
        rec = recorders[rid]
        children = rec.get("children") or ()
        marks = {int(c["id"]): mark for c in children if int(c["id"]) in wanted}
        line = recorder_line(rec, children, marks)
        lines.append(f"{line} [the recorder itself: {mark}]" if rid in wanted else line)
    return where, lines


def with_words(node: Mapping[str, Any]) -> dict[str, Any]:
    """A recorder row with its ``children`` (``queries.recorders``), plus what the pages and the
    terminal show: the recorder's ``title`` and each child's ``ch`` (channel name) and
    ``state_words``."""
    children = list(node.get("children") or ())
    both = hybrid(children)
    return {
        **node,
        "title": recorder_title(node, children),
        "children": [
            {
                **c,
                "ch": channel_name(c.get("channel"), both_kinds=both),
                "state_words": STATE_WORDS.get(str(c.get("channel_state")), "") if c.get("channel_state") else "",
            }
            for c in children
        ],
    }
