"""The scan use case: probe the hosts (``discover``), turn each host's answers into a
:class:`~phaseout.domain.ScannedHost` (what it said of its MAC, serial and firmware), and store
the scan with the one matching rule (``estate.match``).

What the scan proves is decided by what it did: the ports it probed, the vantage, which hosts
finished their probe, and whether the whole scan ran to the end (Ctrl-C makes it
``interrupted``: stored, but never evidence that a device is gone)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from phaseout.app import gc_pause
from phaseout.app.alerts import after_batch
from phaseout.discover.scanner import HostResult, ScanSettings, scan
from phaseout.domain import Identifies, ScannedHost, ScanRun
from phaseout.estate.match import index_rows
from phaseout.identify.engine import Identifier
from phaseout.identify.facts import AnswerFacts, Facts, ScanAnswers, gather_cached
from phaseout.normalize import mac_key
from phaseout.store.scans import ScanRecord, record_scan
from phaseout.store.store import Store


@dataclass(slots=True)
class ScanOutcome:
    results: list[HostResult]
    finished: dict[str, HostResult] = field(default_factory=dict)
    interrupted: bool = False
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    ended: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


def run_probes(
    hosts: list[str], settings: ScanSettings, progress: Callable[[HostResult], None] | None = None
) -> ScanOutcome:
    """Probe ``hosts`` (already checked against the scope).  Ctrl-C stops the scan and keeps
    what finished; the outcome says it was interrupted."""
    outcome = ScanOutcome([])

    def done(result: HostResult) -> None:
        outcome.finished[result.ip] = result
        if progress:
            progress(result)

    try:
        asyncio.run(scan(hosts, settings, done, found=outcome.results))
    except KeyboardInterrupt:
        outcome.interrupted = True
    outcome.ended = dt.datetime.now(dt.UTC)
    return outcome


def _first(pairs: list[tuple[str, str]]) -> str | None:
    return pairs[0][1] if pairs else None


def _mac_of(hx: str) -> str:
    return ":".join(hx[i : i + 2] for i in range(0, 12, 2)).upper()


def _host_mac(macs: list[tuple[str, str]]) -> str | None:
    """The host's MAC: the first its answers gave that can name one device (firmware that has
    not read its MAC answers all zeros or broadcast, sometimes beside the real one); else the
    first, kept as the device said it but matched on nothing (``normalize.mac_key``)."""
    shown = [_mac_of(hx) for _kind, hx in macs[:32]]
    return next((m for m in shown if mac_key(m)), shown[0] if shown else None)


def scanned_host(result: HostResult, finished: bool, answers: AnswerFacts | None = None) -> ScannedHost:
    """One probed host as the store records it."""
    # (cached by answer: the identification of the stored device reads the same answers again)
    facts = gather_cached(result.observations, answers) if result.observations else None
    mac = _host_mac(facts.macs) if facts else None
    if result.ports or result.observations or result.channels:
        state = "answered"
    elif finished and result.complete:
        state = "silent"
    else:
        state = "incomplete"
    return ScannedHost(
        ip=result.ip,
        state=state,
        ports_open=list(result.ports),
        observations=list(result.observations),
        errors=list(result.errors),
        mac=mac,
        serial=_first(facts.serials) if facts else None,
        firmware=_first(facts.firmware) if facts else None,
        channels=list(result.channels),
        channel_kinds=set(result.channel_kinds),
        facts=facts,
    )


def store_scan(
    store: Store,
    outcome: ScanOutcome,
    *,
    targets: list[str],
    planned: int,
    ports: tuple[int, ...],
    site: str | None,
    vantage: str | None,
    identifier: Identifies,
    actor: str,
    extra: dict[str, list[dict[str, Any]]] | None = None,
    within: Callable[[Any, int], None] | None = None,
    answers: dict[bytes, Facts] | None = None,
) -> ScanRecord:
    """Store what the probes found.  ``extra``: answers heard on the link (discovery) by address,
    put first in each host's observations.  ``within(conn, scan_id)`` runs in the scan's own
    transaction (a collector upload's receipt and its job's end).  Each answer is parsed at most
    once for the scan's matching and its identification together (``ScanAnswers``), and not at
    all when its collector sent its facts (``answers``, by ``facts.answer_key``)."""
    read = ScanAnswers(answers)
    if isinstance(identifier, Identifier):
        identifier = identifier.with_answers(read)
    by_ip = {r.ip: r for r in outcome.results}
    for ip, seen in (extra or {}).items():
        host = by_ip.get(ip)
        if host is None:
            host = by_ip[ip] = HostResult(ip)
            outcome.results.append(host)
        host.observations[:0] = seen
    with gc_pause.paused():  # (app/gc_pause.py)
        record = _store(outcome, by_ip, read, targets, planned, ports, site, vantage, identifier, actor, store, within)
    after_batch(store)  # the alert rules look at what the scan found (queued in the outbox)
    return record


def _store(
    outcome: ScanOutcome,
    by_ip: dict[str, HostResult],
    read: AnswerFacts,
    targets: list[str],
    planned: int,
    ports: tuple[int, ...],
    site: str | None,
    vantage: str | None,
    identifier: Identifies,
    actor: str,
    store: Store,
    within: Callable[[Any, int], None] | None,
) -> ScanRecord:
    """The body of :func:`store_scan`: the hosts as the store records them, written."""
    hosts = [scanned_host(r, r.ip in outcome.finished, read) for r in by_ip.values()]
    hosts += [scanned_host(r, True, read) for ip, r in outcome.finished.items() if ip not in by_ip]
    hosts.sort(key=lambda h: tuple(int(x) for x in h.ip.split(".")) if "." in h.ip else (0,))
    run = ScanRun(
        targets=list(targets),
        ports=list(ports),
        vantage=vantage,
        site=site,
        complete=not outcome.interrupted,
        probed=len(outcome.finished),
        planned=planned,
        started=outcome.started,
        finished=outcome.ended,
    )
    return record_scan(store.engine, run, hosts, index=index_rows, identifier=identifier, actor=actor, within=within)
