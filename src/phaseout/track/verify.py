"""Verification of a done work order, from evidence only (pure).

For each device line of a done work order (an old covered device and the installer's note of the
new one):

1. **the new device answers**: a known device with the returned MAC or serial has answered a
   scan, and no pack in use covers its maker under any label (a relabelled Hikvision is an
   exception, not a pass);
2. **the old device is gone**, proved by either
   - a *complete* scan started on or after the done date, from a vantage the old device answered
     from before, that probed the old address to the end (``silent``) on every port the old
     device answered on (for a device never seen on the network, on at least
     :data:`PROOF_PORTS`), or
   - the new device answering at the old device's address since the done date (the address now
     belongs to the replacement);
   an interrupted scan, a host cut by its deadline, a scan of other ports or from a network that
   never reached the device proves nothing (issue 13);
   an old device that answered any scan since the done date is an exception;
3. **coverage is kept**: the site has as many cameras as before (:func:`coverage_kept`), and
   every channel of a recorder the order touches that had a camera before has one after
   (:func:`check_channels`): a compliant camera, the same camera moved to a new recorder, or
   the order says the channel is decommissioned.  A swap that leaves a channel dark is an
   exception, not a pass; an old camera its recorder still lists online is not removed.

A camera behind a recorder often has no address a scan can reach (a PoE port, an analogue
input), so its recorder's channel list is its evidence: read since the done date, a list that
no longer names the old camera proves it gone, and a camera the list names online answers.

Every verdict names the scans it relied on, so the work order and the audit trail show them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from phaseout.estate.recorders import channel_name, channel_number

#: Ports a scan must have probed to prove the absence of a device never seen on the network
#: (HTTP, HTTPS, RTSP: what every IP camera and recorder of both makers serves).
PROOF_PORTS = frozenset({80, 443, 554})


@dataclass(frozen=True, slots=True)
class OldDevice:
    device_id: int
    ip: str | None
    last_answer: dt.datetime | None  # newest network answer (any scan)
    answered_ports: frozenset[int]  # ports it answered on before the work
    vantages: frozenset[str | None]  # vantages it answered from before the work


@dataclass(frozen=True, slots=True)
class NewDevice:
    device_id: int
    vendor: str | None
    label: str | None
    ip: str | None
    last_answer: dt.datetime | None


@dataclass(frozen=True, slots=True)
class ScanSeen:
    """One stored scan, and what it saw at the old device's address."""

    scan_id: int
    status: str  # complete | interrupted | legacy
    vantage: str | None
    ports: frozenset[int]
    started: dt.datetime
    host_state: str | None  # answered | silent | incomplete | None (address not probed)


@dataclass(slots=True)
class LineVerdict:
    state: str  # passed | pending | exception
    detail: str
    scans: list[int] = field(default_factory=list)
    new_device: int | None = None


def proves_gone(scan: ScanSeen, old: OldDevice, done_on: dt.date) -> bool:
    """This scan shows the old device gone (see the module's docstring)."""
    if scan.status != "complete" or scan.started.date() < done_on or scan.host_state != "silent":
        return False
    if old.vantages and scan.vantage not in old.vantages:
        return False
    needed = old.answered_ports or PROOF_PORTS
    return needed <= scan.ports


def verify_line(
    done_on: dt.date | None,
    old: OldDevice,
    new: NewDevice | None,
    scans: list[ScanSeen],
    covered: set[str],
    *,
    decommissioned: bool = False,
    channel_gone: str | None = None,
    channel_problems: Sequence[str] = (),
    channel_waiting: Sequence[str] = (),
) -> LineVerdict:
    """The verdict on one device line of a done work order.  ``decommissioned``: the installer's
    return says the device was removed for good (no new device to check); ``channel_gone``: its
    recorder's channel list, read since the done date, no longer names it (a proof, in words);
    ``channel_problems`` / ``channel_waiting``: what :func:`check_channels` found for this line
    (the old camera still listed online, a channel left dark; a channel list not read yet)."""
    if done_on is None:
        return LineVerdict("pending", "the installer's return for this device is not recorded yet")
    problems: list[str] = []
    waiting: list[str] = []
    relied: list[int] = []
    if decommissioned:
        new = None
    answered_new = new is not None and new.last_answer is not None and new.last_answer.date() >= done_on
    if not decommissioned and (new is None or new.last_answer is None):
        waiting.append("the new device has not answered a scan yet (phaseout scan --site ...)")
    problems += channel_problems
    waiting += channel_waiting
    if new is not None and new.vendor in covered:
        problems.append(
            f"the new device {new.device_id} is made by {new.vendor}"
            + (f" (sold as {new.label})" if new.label else "")
            + ", covered by a policy pack in use"
        )
    if old.last_answer is not None and old.last_answer.date() >= done_on:
        problems.append(f"the old device still answered a scan on {old.last_answer.date()}")
    else:
        proofs = [s.scan_id for s in scans if proves_gone(s, old, done_on)]
        took_address = answered_new and new is not None and old.ip is not None and new.ip == old.ip
        if proofs:
            relied += proofs
        elif channel_gone:
            pass
        elif not took_address:
            ports = ",".join(str(p) for p in sorted(old.answered_ports or PROOF_PORTS))
            where = " from " + "/".join(sorted(v or "the same network" for v in old.vantages)) if old.vantages else ""
            waiting.append(
                f"no complete scan{where} since {done_on} found {old.ip or 'its address'} silent on ports {ports}"
            )
    if problems:
        return LineVerdict("exception", "; ".join(problems), relied, new.device_id if new else None)
    if waiting:
        return LineVerdict("pending", "; ".join(waiting), relied, new.device_id if new else None)
    if relied:
        proof = f"scan {', '.join(map(str, relied))}"
    elif channel_gone:
        proof = channel_gone
    else:
        proof = "the new device now answers at its address"
    if decommissioned:
        return LineVerdict("passed", f"decommissioned; the old device is gone ({proof})", relied)
    assert new is not None
    return LineVerdict(
        "passed", f"new device {new.device_id} answers; the old one is gone ({proof})", relied, new.device_id
    )


def coverage_kept(cameras_before: int, cameras_now: int) -> str | None:
    """``None`` when the site has at least as many cameras as before the work, else why not."""
    if cameras_now < cameras_before:
        return f"coverage: the site has {cameras_now} cameras after the swap, {cameras_before} before"
    return None


def came_back(replaced_at: dt.datetime | None, last_answer: dt.datetime | None) -> bool:
    """A device verified as replaced that answered a scan after its verification."""
    return replaced_at is not None and last_answer is not None and last_answer > replaced_at


# -- coverage per recorder and channel ---------------------------------------------------------

#: states in which a recorder reports a camera on the channel (``unknown``: listed, but the
#: recorder reports no status for it, as Dahua's remote-device list does)
LIVE_STATES = frozenset({"online", "unknown"})


@dataclass(frozen=True, slots=True)
class ChannelSeen:
    """One device behind a recorder, as the store holds it after the latest channel-list read."""

    device_id: int
    channel: str | None  # D3 / A3; None: linked to the recorder by a spreadsheet, no channel known
    state: str | None  # online | offline | unknown | missing
    vendor: str | None
    label: str | None
    model: str | None
    serial: str | None
    mac: str | None
    last_seen: dt.datetime | None  # the newest channel-list read that named it

    def listed_since(self, day: dt.date) -> bool:
        return self.state != "missing" and self.last_seen is not None and self.last_seen.date() >= day

    def live_since(self, day: dt.date) -> bool:
        return self.state in LIVE_STATES and self.listed_since(day)

    def same_camera(self, other: ChannelSeen) -> bool:
        """The same physical camera under two records (moved to a new recorder): serial or MAC."""
        serial = (self.serial or "").upper()
        return bool(
            (serial and len(serial) >= 6 and serial == (other.serial or "").upper())
            or (self.mac and self.mac == other.mac)
        )


@dataclass(frozen=True, slots=True)
class RecorderSide:
    recorder_id: int
    title: str  # NVR DS-7608NXI at 10.0.0.5
    channels: tuple[ChannelSeen, ...]

    def read_since(self, day: dt.date) -> bool:
        """Its channel list was read since ``day`` (some channel was listed by a read since)."""
        return any(c.channel and c.listed_since(day) for c in self.channels)


@dataclass(frozen=True, slots=True)
class RecorderWork:
    """One recorder a work order touches: the cameras behind it the order swaps or decommissions,
    or the recorder itself (then ``new_recorder`` is its replacement, when known)."""

    recorder: RecorderSide
    swapped: frozenset[int] = frozenset()  # old cameras behind it the order replaces
    decommissioned: frozenset[int] = frozenset()  # old cameras (or the recorder) removed for good
    replacements: tuple[tuple[int, int], ...] = ()  # (old camera, new device the return names)
    recorder_swapped: bool = False
    new_recorder: RecorderSide | None = None


@dataclass(slots=True)
class ChannelVerdict:
    state: str  # passed | pending | exception
    problems: list[tuple[int, str]] = field(default_factory=list)  # (order line's device, why)
    waiting: list[tuple[int, str]] = field(default_factory=list)  # (order line's device, what is missing)
    channels: list[tuple[int, str, str]] = field(default_factory=list)  # (line's device, channel, outcome)
    gone: dict[int, str] = field(default_factory=dict)  # old camera -> proof its recorder no longer lists it

    def for_line(self, device_id: int) -> tuple[list[str], list[str]]:
        """(problems, waiting) that belong to one line of the order."""
        return (
            [m for d, m in self.problems if d == device_id],
            [m for d, m in self.waiting if d == device_id],
        )

    def summary(self, device_id: int) -> str:
        """What became of the channels that belong to one line, in a few words."""
        mine = [(ch, outcome) for d, ch, outcome in self.channels if d == device_id]
        if len(mine) == 1:
            return f"{mine[0][0]}: {mine[0][1]}"
        counts: dict[str, int] = {}
        for _ch, outcome in mine:
            word = outcome.split(":", 1)[0]
            counts[word] = counts.get(word, 0) + 1
        return ", ".join(f"{n} channel(s) {word}" for word, n in counts.items())


def _who(c: ChannelSeen) -> str:
    made = f" made by {c.vendor}" if c.vendor and c.vendor != "unknown" else ""
    sold = f" (sold as {c.label})" if c.label and c.label != c.vendor else ""
    return f"device {c.device_id}{' ' + c.model if c.model else ''}{made}{sold}"


def _verdict(out: ChannelVerdict) -> ChannelVerdict:
    out.state = "exception" if out.problems else "pending" if out.waiting else "passed"
    return out


def check_channels(done_on: dt.date, work: RecorderWork, covered: set[str]) -> ChannelVerdict:
    """Every channel of the recorder that the order touches and that had a camera before has a
    camera after (see the module's docstring); the verdict lists each channel's outcome."""
    rec = work.recorder
    out = ChannelVerdict("passed")
    if rec.recorder_id in work.decommissioned:
        out.channels.append((rec.recorder_id, "all", f"{rec.title} decommissioned: its channels are not required"))
        return out
    if work.recorder_swapped:
        return _verdict(_recorder_swap(done_on, work, covered, out))
    return _verdict(_camera_swaps(done_on, work, covered, out))


def _camera_swaps(done_on: dt.date, work: RecorderWork, covered: set[str], out: ChannelVerdict) -> ChannelVerdict:
    rec = work.recorder
    both = {str(c.channel)[:1] for c in rec.channels if channel_number(c.channel) is not None} >= {"A", "D"}
    touched = [c for c in rec.channels if c.device_id in work.swapped | work.decommissioned]
    replacements: Mapping[int, int] = dict(work.replacements)
    if any(c.channel for c in touched) and not rec.read_since(done_on):
        for old in (c for c in touched if c.channel):
            out.waiting.append(
                (
                    old.device_id,
                    f"{rec.title}: its channel list has not been read since {done_on} "
                    "(re-scan it with phaseout scan ... --credentials FILE)",
                )
            )
        return out  # (a camera linked by a spreadsheet, on no known channel, waits on nothing here)
    for old in touched:
        if old.channel is None:
            out.channels.append((old.device_id, "no channel", "on no known channel: counted by the site total"))
            continue
        ch = channel_name(old.channel, both_kinds=both)
        where = f"{ch} of {rec.title}"
        if old.live_since(done_on):
            msg = f"the old camera {old.device_id} still answers on {where} (listed {old.state} since {done_on})"
            out.problems.append((old.device_id, msg))
            out.channels.append((old.device_id, ch, "old camera still there"))
            continue
        if old.state == "missing":
            out.gone[old.device_id] = f"{rec.title}'s channel list no longer names it"
        if old.device_id in work.decommissioned:
            out.channels.append((old.device_id, ch, "decommissioned by the order"))
            continue
        new_id = replacements.get(old.device_id)
        here = [
            c
            for c in rec.channels
            if c.device_id != old.device_id
            and c.live_since(done_on)
            and (c.channel == old.channel or (new_id is not None and c.device_id == new_id))
        ]
        good = [c for c in here if c.vendor not in covered]
        if good:
            pick = next((c for c in good if c.channel == old.channel), good[0])
            moved = "" if pick.channel == old.channel else f" (moved to {channel_name(pick.channel, both_kinds=both)})"
            out.channels.append((old.device_id, ch, f"kept: {_who(pick)}{moved}"))
        elif here:
            out.problems.append((old.device_id, f"{where} now holds {_who(here[0])}, covered by a policy pack in use"))
            out.channels.append((old.device_id, ch, "covered camera"))
        else:
            now = "lists the old camera offline" if old.listed_since(done_on) else "lists no camera there"
            out.problems.append(
                (
                    old.device_id,
                    f"{where} is dark after the swap: camera {old.device_id} was there before and the recorder "
                    f"now {now} (connect the new camera, or return the channel as decommissioned)",
                )
            )
            out.channels.append((old.device_id, ch, "dark"))
    return out


def _recorder_swap(done_on: dt.date, work: RecorderWork, covered: set[str], out: ChannelVerdict) -> ChannelVerdict:
    rec = work.recorder
    before = [c for c in rec.channels if channel_number(c.channel) is not None and c.state != "missing"]
    if not before:
        return out  # no channel list was ever read from the old recorder: the site total counts
    new = work.new_recorder
    if new is None:
        out.waiting.append(
            (rec.recorder_id, f"the new recorder replacing {rec.title} is not known yet: channels not counted")
        )
        return out
    if not new.read_since(done_on):
        out.waiting.append(
            (
                rec.recorder_id,
                f"the new recorder {new.title}: its channel list has not been read since {done_on} "
                "(scan it with phaseout scan ... --credentials FILE)",
            )
        )
        return out
    both = {str(c.channel)[:1] for c in before} >= {"A", "D"}
    free = [c for c in new.channels if channel_number(c.channel) is not None and c.live_since(done_on)]
    rid = rec.recorder_id
    for old in before:
        ch = channel_name(old.channel, both_kinds=both)
        if old.device_id in work.swapped:  # a camera swapped with its recorder: gone unless the new one lists it
            still = next((c for c in new.channels if c.same_camera(old) and c.live_since(done_on)), None)
            if still is not None:
                msg = f"the old camera {old.device_id} still answers on the new recorder {new.title}"
                out.problems.append((old.device_id, msg))
            else:
                out.gone[old.device_id] = f"its recorder is replaced and the new recorder {new.title} does not list it"
        if old.device_id in work.decommissioned:
            out.channels.append((rid, ch, "decommissioned by the order"))
            continue
        if old.state not in LIVE_STATES:
            out.channels.append((rid, ch, f"already {old.state} on the old recorder before the work"))
            continue
        match = next((c for c in free if c.channel == old.channel), None) or next(
            (c for c in free if channel_number(c.channel) == channel_number(old.channel)), None
        )
        if match is None:
            out.problems.append(
                (
                    rid,
                    f"{ch} had a camera on {rec.title} ({_who(old)}) and has no live camera on the new recorder "
                    f"{new.title}: the swap left it dark (connect it, or return the channel as decommissioned)",
                )
            )
            out.channels.append((rid, ch, "dark"))
            continue
        free.remove(match)
        if match.vendor in covered and not match.same_camera(old):
            out.problems.append(
                (rid, f"{ch} on the new recorder {new.title} holds {_who(match)}, covered by a policy pack in use")
            )
            out.channels.append((rid, ch, "covered camera"))
        elif match.vendor in covered:
            out.channels.append((rid, ch, f"kept: the same camera {_who(match)}, its own swap not in this order"))
        else:
            out.channels.append((rid, ch, f"kept: {_who(match)}"))
    return out
