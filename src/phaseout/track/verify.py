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
3. **coverage is kept** (checked per order by :func:`coverage_kept`).

Every verdict names the scans it relied on, so the work order and the audit trail show them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

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
) -> LineVerdict:
    """The verdict on one device line of a done work order."""
    if done_on is None:
        return LineVerdict("pending", "the installer's return for this device is not recorded yet")
    problems: list[str] = []
    waiting: list[str] = []
    relied: list[int] = []
    answered_new = new is not None and new.last_answer is not None and new.last_answer.date() >= done_on
    if new is None or new.last_answer is None:
        waiting.append("the new device has not answered a scan yet (phaseout scan --site ...)")
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
    assert new is not None
    proof = f"scan {', '.join(map(str, relied))}" if relied else "the new device now answers at its address"
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
