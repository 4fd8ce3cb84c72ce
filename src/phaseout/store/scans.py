"""Store a scan: the ``scans`` row (targets, ports, vantage, complete or interrupted), one
``scan_hosts`` row per probed host with its outcome, and each answering host's observations
merged into the device table.

The matching rule and the identification engine come from the caller (``Matcher``,
``Identifies``): this module only writes.  Two rules of evidence are kept here because they
decide what is deleted:

* a device's earlier answers from the same vantage are replaced by its new ones, so exposure is
  judged on what it answers now;
* a device that answered an earlier scan from this vantage and is ``silent`` now loses those
  earlier answers only when this scan was **complete**, probed its address to the end, and
  probed every port it answered on before.  An interrupted scan, a host cut by its deadline, or
  a scan of other ports deletes nothing (issue 13: such scans used to "prove" removals).
Everything happens in one transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, Engine, String, and_, bindparam, delete, exists, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from phaseout.domain import Identifies, Matcher, MatchKeys, ScannedHost, ScanRun
from phaseout.normalize import mac_key
from phaseout.store.audit import record_event
from phaseout.store.channels import facts_of, record_channels
from phaseout.store.device_writer import SiteResolver
from phaseout.store.engine import writing
from phaseout.store.generation import bump
from phaseout.store.identification import (
    IdentificationCodec,
    fields_of,
    identify_device,
    identify_rows,
)
from phaseout.store.match_candidates import candidate_rows, index_only, restore_plans
from phaseout.store.scan_writer import ScanWriter, copy_rows, take_device_ids
from phaseout.store.schema import devices, import_batches, observations, scan_hosts, scans

#: Builds the matching rule's index from ``candidate_rows`` (rows as ``match_keys_rows`` gives them).
IndexFactory = Callable[[Iterable[Any]], Matcher]


@dataclass(frozen=True, slots=True)
class ScanRecord:
    batch_id: int
    scan_id: int
    hosts: int
    created: int
    updated: int
    observations: int
    folded: int = 0
    forgotten: int = 0


def from_earlier_scans(vantage: str | None, batch_id: int) -> ColumnElement[bool]:
    """An answer stored by an earlier scan from the same vantage (``None`` matches ``None``)
    than the scan writing ``batch_id``.  A condition on each answer's own batch (one lookup by
    ``uq_scans_batch_id``), not a list of those scans' batches: with a collector per store every
    night, one vantage holds tens of thousands of scans within weeks, and PostgreSQL refuses a
    statement of more than 65,535 parameters (every merge would then have failed)."""
    same = scans.c.vantage.is_(None) if vantage is None else scans.c.vantage == vantage
    return and_(
        observations.c.batch_id != batch_id,
        exists().where(scans.c.batch_id == observations.c.batch_id, same),
    )


def record_scan(
    engine: Engine,
    run: ScanRun,
    hosts: list[ScannedHost],
    *,
    index: IndexFactory,
    identifier: Identifies,
    actor: str,
    within: Callable[[Connection, int], None] | None = None,
) -> ScanRecord:
    """Write one scan; returns what changed.  ``within(conn, scan_id)`` runs inside the same
    transaction (a collector upload's receipt: if it fails, nothing of the scan is kept)."""
    now = run.finished
    answered = [h for h in hosts if h.state == "answered" or h.observations]
    label = "scan " + " ".join(run.targets)
    with writing(engine) as conn:
        batch_id = int(
            conn.execute(
                import_batches.insert()
                .values(
                    kind="scan",
                    file_name=label[:500],
                    checksum=hashlib.sha256(label.encode()).hexdigest(),
                    sheet=run.site,
                    status="ok" if run.complete else "partial",
                    started_at=run.started,
                    finished_at=run.finished,
                    rows_total=run.probed,
                    rows_imported=len(answered),
                    rows_bad=sum(1 for h in hosts if h.errors),
                    errors=orjson.dumps(
                        [{"host": h.ip, "errors": h.errors[:5]} for h in hosts if h.errors][:200]
                    ).decode(),
                )
                .returning(import_batches.c.id)
            ).scalar_one()
        )
        earlier = from_earlier_scans(run.vantage, batch_id)
        scan_id = int(
            conn.execute(
                scans.insert()
                .values(
                    batch_id=batch_id,
                    vantage=run.vantage,
                    site_code=run.site,
                    targets=orjson.dumps(run.targets[:1000]).decode(),
                    ports=orjson.dumps(sorted(run.ports)).decode(),
                    status="complete" if run.complete else "interrupted",
                    hosts_probed=run.probed,
                    hosts_answered=len(answered),
                    started_at=run.started,
                    finished_at=run.finished,
                )
                .returning(scans.c.id)
            ).scalar_one()
        )
        site_id = SiteResolver(conn, now).resolve(run.site) if run.site else None
        host_keys = [
            MatchKeys(mac=mac_key(host.mac), serial=_serial_key(host.serial), site_id=site_id, ip=host.ip)
            for host in answered
        ]
        # only the stored devices these hosts could be (store/match_candidates.py), not all of them
        matcher = index(candidate_rows(conn, host_keys))
        # 1. match every host in memory (the rule sees the hosts before it, as it always did);
        #    a new device gets a provisional id (-1, -2...) until the ids are taken in one go
        plan: list[tuple[ScannedHost, int, tuple[int, ...]]] = []
        new = 0
        fold: tuple[int, ...]
        for host, keys in zip(answered, host_keys, strict=True):
            found = matcher.find(keys, bare_ip=site_id is None)
            if found is None:
                new += 1
                did, fold = -new, ()
            else:
                did, fold = found.device_id, found.fold
            matcher.add(did, keys)
            plan.append((host, did, fold))
        fresh = take_device_ids(conn, new)

        def real(did: int) -> int:
            return fresh[-did - 1] if did < 0 else did

        # 2. write in host order, buffered; flushed before each step that reads devices back
        writer = ScanWriter(conn, batch_id=batch_id, earlier=earlier, now=now, vantage=run.vantage)
        codec = IdentificationCodec(conn, identifier.version, deferred=True)
        hosts_of = Counter(did for _host, did, _fold in plan)
        created = updated = written = folded = 0
        touched: list[int] = []
        host_rows: list[tuple[Any, ...]] = []
        made: set[int] = set()
        identified: set[int] = set()  # new devices written with their identification
        behind_recorders: set[int] = set()  # devices a recorder's channels changed
        for host, provisional, fold in plan:
            did = real(provisional)
            payloads = None
            if provisional < 0 and did not in made:  # (a later host matching it refreshes it)
                made.add(did)
                columns = None
                if hosts_of[provisional] == 1 and not (host.channels or host.channel_kinds):
                    # only this host's answers describe it: identified now, as identify_rows
                    # would read it back (the row as written, its answers as stored)
                    payloads = writer.payloads(host)
                    columns = codec.values(_identify_new(identifier, host, payloads))
                    identified.add(did)
                writer.create(did, site_id, host, columns)
                created += 1
            else:
                for other in fold:
                    writer.flush()
                    _fold(conn, real(other), did)
                    folded += 1
                writer.refresh(did, site_id, host)
                updated += 1
            touched.append(did)
            host_rows.append(_host_row(scan_id, host, did))
            if host.channels or host.channel_kinds:  # the cameras behind a recorder (store/channels.py)
                writer.flush()
                behind = facts_of(host.channels)
                changed_here = record_channels(conn, did, behind, host.channel_kinds, now=now, batch_id=batch_id)
                behind_recorders.update(changed_here)
                touched += changed_here
                if conn.dialect.name != "postgresql":  # SQLite gave the new cameras max(id) + 1...
                    _retake(conn, fresh, made)  # ...which the hosts still to come may hold: move them on
            written += writer.answer(did, host, payloads)
        writer.flush()
        codec.flush()
        quiet = [h for h in hosts if not (h.state == "answered" or h.observations)]
        forgotten: list[int] = []
        silent_devices = dict(forgotten_pairs(conn, quiet, site_id))
        if run.complete:
            silent = [(h.ip, silent_devices[h.ip]) for h in quiet if h.state == "silent" and h.ip in silent_devices]
            forgotten = _forget_silent(conn, earlier, silent, set(run.ports), set(touched))
        host_rows += [_host_row(scan_id, h, silent_devices.get(h.ip)) for h in quiet]
        copy_rows(conn, "scan_hosts", HOST_COLUMNS, host_rows)
        conn.execute(
            update(import_batches)
            .where(import_batches.c.id == batch_id)
            .values(
                created=created,
                updated=updated,
                message=f"{len(answered)} of {run.probed} hosts answered"
                + ("" if run.complete else f"; interrupted after {run.probed} of {run.planned} hosts"),
            )
        )
        record_event(
            conn,
            actor,
            "scan.record",
            "scan",
            scan_id,
            None,
            {
                "targets": run.targets[:20],
                "ports": sorted(run.ports),
                "vantage": run.vantage,
                "complete": run.complete,
                "probed": run.probed,
                "planned": run.planned,
                "answered": len(answered),
                "created": created,
                "updated": updated,
                "forgotten": len(forgotten),
            },
        )
        changed = sorted((set(touched) - (identified - behind_recorders)) | set(forgotten))
        if changed:
            identify_rows(conn, identifier, changed)
        if within is not None:
            within(conn, scan_id)
        bump(conn)
    return ScanRecord(batch_id, scan_id, len(answered), created, updated, written, folded, len(forgotten))


def _identify_new(identifier: Identifies, host: ScannedHost, payloads: list[tuple[str, int, bool]]) -> Any:
    """A device this scan creates for ``host`` alone, identified from what ``identify_rows``
    would read back: the row as ``ScanWriter.create`` writes it (``device_type`` takes its
    default) and its answers other than inventory rows, as stored, in order.  When every answer
    is stored whole and none is an inventory row, the answers read back are the host's own, so
    what the scan already read from them (``host.facts``) stands for reading them again."""
    row = SimpleNamespace(
        manufacturer=None,
        brand=None,
        model=None,
        firmware=host.firmware,
        mac=host.mac,
        serial=host.serial,
        device_type="unknown",
    )
    whole = all(not cut for _payload, _size, cut in payloads)
    if host.facts is not None and whole and all(str(o.get("kind", "banner")) != "inventory" for o in host.observations):
        if not host.observations:
            return identify_device(identifier, row, [])
        inventory = {"kind": "inventory", "fields": {k: v for k, v in fields_of(row).items() if v is not None}}
        return identifier.identify_read([inventory], host.facts)
    seen = [
        orjson.loads(payload)
        for obs, (payload, _size, _cut) in zip(host.observations, payloads, strict=True)
        if str(obs.get("kind", "banner")) != "inventory"
    ]
    return identify_device(identifier, row, seen)


def _retake(conn: Connection, fresh: list[int], made: set[int]) -> None:
    """Give the new devices not written yet fresh ids past everything in the table."""
    waiting = [i for i, did in enumerate(fresh) if did not in made]
    for i, did in zip(waiting, take_device_ids(conn, len(waiting)), strict=True):
        fresh[i] = did


def _serial_key(serial: str | None) -> str | None:
    if not serial:
        return None
    key = "".join(serial.split()).upper()
    return key or None


HOST_COLUMNS = ("scan_id", "ip", "state", "ports_open", "device_id")


def _host_row(scan_id: int, host: ScannedHost, device_id: int | None) -> tuple[Any, ...]:
    """A ``scan_hosts`` row (``HOST_COLUMNS``)."""
    state = host.state if host.state in ("answered", "silent", "incomplete") else "incomplete"
    return (scan_id, host.ip, state, orjson.dumps(sorted(host.ports_open)).decode(), device_id)


def forgotten_pairs(conn: Connection, quiet: list[ScannedHost], site_id: int | None) -> list[tuple[str, int]]:
    """(ip, device id) for quiet hosts whose address exactly one active device holds (within the
    site when one was named): lets verification find the scans that probed an old device."""
    ips = [h.ip for h in quiet]
    if not ips:  # (a scan in which every host answered: no setting to change and put back)
        return []
    out: dict[str, list[int]] = {}
    before = index_only(conn)  # (the planner read every device for a sweep's silent addresses)
    for start in range(0, len(ips), 5000):
        part = ips[start : start + 5000]
        if conn.dialect.name == "postgresql":  # one array parameter, not 5,000
            where = devices.c.ip == func.any(bindparam(None, part, type_=ARRAY(String)))
        else:
            where = devices.c.ip.in_(part)
        query = select(devices.c.ip, devices.c.id).where(where, devices.c.status != "retired")
        if site_id is not None:
            query = query.where(devices.c.site_id == site_id)
        for ip, did in conn.execute(query):
            out.setdefault(ip, []).append(int(did))
    restore_plans(conn, before)
    return [(ip, ids[0]) for ip, ids in out.items() if len(ids) == 1]


def _answered_ports(payloads: Iterable[str]) -> set[int]:
    ports: set[int] = set()
    for payload in payloads:
        try:
            port = orjson.loads(payload).get("port")
        except (orjson.JSONDecodeError, AttributeError):
            continue
        if isinstance(port, int):
            ports.add(port)
    return ports


def _forget_silent(
    conn: Connection,
    earlier: ColumnElement[bool],
    silent: list[tuple[str, int]],
    ports: set[int],
    answered: set[int],
) -> list[int]:
    """Devices that answered an earlier scan from this vantage and whose address this complete
    scan probed to the end (``silent``: (ip, the one device holding it)) on every port they
    answered on: their earlier answers from this vantage are dropped (they no longer answer from
    here).  Returns the devices.  One read and one delete per 5,000 devices."""
    candidates = sorted({did for _ip, did in silent if did not in answered})
    gone: list[int] = []
    for start in range(0, len(candidates), 5000):
        chunk = candidates[start : start + 5000]
        old: dict[int, list[str]] = {}
        query = select(observations.c.device_id, observations.c.payload).where(
            observations.c.device_id.in_(chunk),
            observations.c.kind != "inventory",
            earlier,
        )
        for did, payload in conn.execute(query):
            old.setdefault(int(did), []).append(payload)
        # it answered on ports this scan did not try: its silence says nothing
        drop = [did for did in chunk if (before := _answered_ports(old.get(did, []))) and before <= ports]
        if drop:
            conn.execute(
                delete(observations).where(
                    observations.c.device_id.in_(drop),
                    observations.c.kind != "inventory",
                    earlier,
                )
            )
        gone += drop
    return gone


def _fold(conn: Connection, source: int, target: int) -> None:
    """Move a site-less scanned device's answers into the site's own device and remove it."""
    conn.execute(update(observations).where(observations.c.device_id == source).values(device_id=target))
    conn.execute(update(scan_hosts).where(scan_hosts.c.device_id == source).values(device_id=target))
    row = conn.execute(
        select(devices.c.mac, devices.c.serial, devices.c.firmware).where(devices.c.id == source)
    ).first()
    conn.execute(delete(devices).where(devices.c.id == source))
    if row is not None:
        for column, value in (("mac", row.mac), ("serial", row.serial), ("firmware", row.firmware)):
            if value:
                col = devices.c[column]
                conn.execute(update(devices).where(devices.c.id == target, col.is_(None)).values({column: value}))


def scan_coverage(conn: Connection) -> list[tuple[str | None, list[str]]]:
    """(vantage, targets) of every complete scan: which networks were looked at from where."""
    out = []
    for vantage, targets in conn.execute(
        select(scans.c.vantage, scans.c.targets).where(scans.c.status != "interrupted")
    ):
        try:
            data = orjson.loads(targets or "[]")
        except orjson.JSONDecodeError:
            continue
        if isinstance(data, list):
            out.append((vantage, [str(t) for t in data]))
    return out


def scans_since(conn: Connection, since: dt.datetime) -> list[dict[str, Any]]:
    """Every scan started at or after ``since``, oldest first, as plain dicts (ports parsed)."""
    rows = conn.execute(select(scans).where(scans.c.started_at >= since).order_by(scans.c.id)).mappings().all()
    out = []
    for row in rows:
        item = dict(row)
        item["ports"] = orjson.loads(row["ports"] or "[]")
        item["targets"] = orjson.loads(row["targets"] or "[]")
        out.append(item)
    return out


def host_outcomes(conn: Connection, scan_ids: list[int], ips: list[str]) -> dict[tuple[int, str], dict[str, Any]]:
    """(scan id, ip) -> {state, ports_open} for the given scans and addresses."""
    if not scan_ids or not ips:
        return {}
    out: dict[tuple[int, str], dict[str, Any]] = {}
    query = select(scan_hosts.c.scan_id, scan_hosts.c.ip, scan_hosts.c.state, scan_hosts.c.ports_open).where(
        scan_hosts.c.scan_id.in_(scan_ids), scan_hosts.c.ip.in_(ips)
    )
    for sid, ip, state, ports in conn.execute(query):
        out[(int(sid), ip)] = {"state": state, "ports_open": orjson.loads(ports or "[]")}
    return out
