"""Store a scan: each answering host's observations, merged into the device table.

A host is matched to a stored device the way imports match rows: by the MAC or serial number
its answers gave, then by (site, IP) when the user named the site the scanned network belongs
to, and without a site by IP only where exactly one stored device holds that address (estates
reuse one address plan in every store, so a bare IP is only trusted when it is unambiguous).
An unmatched host becomes a new device.  Each scan is an ``import_batches`` row of kind
``scan``; a device's earlier network observations are replaced by the new ones, so exposure is
judged on what the device answers now.  Everything happens in one transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, delete, or_, select, update

from phaseout.discover.scanner import HostResult
from phaseout.domain import OBSERVATION_MAX_BYTES
from phaseout.identify import Identifier
from phaseout.identify.facts import gather
from phaseout.store.channels import facts_of, record_channels
from phaseout.store.device_writer import SiteResolver
from phaseout.store.identification import identify_rows
from phaseout.store.schema import devices, import_batches, observations


@dataclass(frozen=True, slots=True)
class ScanRecord:
    batch_id: int
    hosts: int
    created: int
    updated: int
    observations: int


def _mac_of(hx: str) -> str:
    return ":".join(hx[i : i + 2] for i in range(0, 12, 2)).upper()


def _payload(obs: dict[str, Any]) -> tuple[str, int, bool]:
    data = orjson.dumps(obs)
    if len(data) <= OBSERVATION_MAX_BYTES:
        return data.decode(), len(data), False
    cut = {**obs, "raw": str(obs.get("raw", ""))[: OBSERVATION_MAX_BYTES // 2]}
    return orjson.dumps(cut).decode(), len(data), True


def _first(pairs: list[tuple[str, str]]) -> str | None:
    return pairs[0][1] if pairs else None


def record_scan(
    engine: Engine,
    results: list[HostResult],
    *,
    targets: list[str],
    probed: int,
    site: str | None = None,
    identifier: Identifier | None = None,
    vantage: str | None = None,
) -> ScanRecord:
    """Write the answering hosts of one scan (``probed`` hosts were tried); returns what changed.

    ``vantage`` names the network the scan ran from (core, camera, guest, internet): each answer
    records it, so exposure can say from where a device is reachable, and a re-scan replaces only
    the earlier answers seen from the same network (a scan from the camera VLAN does not erase
    what a scan from the core network found)."""
    now = dt.datetime.now(dt.UTC)
    answered = [r for r in results if r.observations or r.ports]
    label = "scan " + " ".join(targets)
    with engine.begin() as conn:
        batch_id = int(
            conn.execute(
                import_batches.insert()
                .values(
                    kind="scan",
                    file_name=label[:500],
                    checksum=hashlib.sha256(label.encode()).hexdigest(),
                    sheet=site,
                    status="ok",
                    started_at=now,
                    finished_at=now,
                    rows_total=probed,
                    rows_imported=len(answered),
                    mapping=json.dumps({"vantage": vantage, "targets": targets[:1000]}),
                    rows_bad=sum(1 for r in results if r.errors),
                    # per-host errors (first 200 hosts with any), for the imports and scans page
                    errors=json.dumps([{"host": r.ip, "errors": r.errors[:5]} for r in results if r.errors][:200]),
                )
                .returning(import_batches.c.id)
            ).scalar_one()
        )
        site_id = SiteResolver(conn, now).resolve(site) if site else None
        same_vantage = [
            bid
            for bid, mapping in conn.execute(
                select(import_batches.c.id, import_batches.c.mapping).where(import_batches.c.kind == "scan")
            )
            if _vantage_of(mapping) == vantage
        ]
        by_mac: dict[str, int] = {}
        by_serial: dict[str, int] = {}
        by_ip: dict[str, list[tuple[int, int | None]]] = defaultdict(list)
        for did, mac, serial, sid, ip in conn.execute(
            select(devices.c.id, devices.c.mac, devices.c.serial, devices.c.site_id, devices.c.ip)
        ):
            if mac:
                by_mac.setdefault(mac, did)
            if serial:
                by_serial.setdefault(serial.upper(), did)
            if ip:
                by_ip[ip].append((did, sid))

        created = updated = written = 0
        touched: list[int] = []
        for host in answered:
            facts = gather(host.observations) if host.observations else None
            mac = _mac_of(hx) if facts and (hx := _first(facts.macs)) else None
            serial = _first(facts.serials) if facts else None
            firmware = _first(facts.firmware) if facts else None
            did = by_mac.get(mac) if mac else None
            if did is None and serial:
                did = by_serial.get(serial.upper())
            if did is None:
                holders = [d for d, s in by_ip.get(host.ip, []) if site_id is None or s == site_id]
                did = holders[0] if len(holders) == 1 else None
                if did is not None and _other_device(conn, did, mac, serial):
                    did = None  # same address, another device: a replacement took the old one's IP
            if did is None:
                did = int(
                    conn.execute(
                        devices.insert()
                        .values(
                            site_id=site_id,
                            ip=host.ip,
                            mac=mac,
                            serial=serial,
                            firmware=firmware,
                            first_seen=now,
                            last_seen=now,
                            batch_id=batch_id,
                        )
                        .returning(devices.c.id)
                    ).scalar_one()
                )
                by_ip[host.ip].append((did, site_id))
                created += 1
            else:
                conn.execute(
                    delete(observations).where(
                        observations.c.device_id == did,
                        observations.c.kind != "inventory",
                        or_(observations.c.batch_id.in_(same_vantage), observations.c.batch_id.is_(None)),
                    )
                )
                conn.execute(update(devices).where(devices.c.id == did).values(last_seen=now))
                if mac:
                    conn.execute(update(devices).where(devices.c.id == did, devices.c.mac.is_(None)).values(mac=mac))
                for column, value in (("serial", serial), ("firmware", firmware)):
                    if value:  # what the device says fills what the spreadsheet left empty, never overwrites
                        col = devices.c[column]
                        conn.execute(update(devices).where(devices.c.id == did, col.is_(None)).values({column: value}))
                updated += 1
            touched.append(did)
            if host.channels or host.channel_kinds:  # the cameras behind a recorder (store/channels.py)
                found = facts_of(host.channels)
                touched += record_channels(conn, did, found, host.channel_kinds, now=now, batch_id=batch_id)
            rows = []
            for obs in host.observations:
                payload, size, truncated = _payload({**obs, "vantage": vantage} if vantage else obs)
                where = f"{host.ip}:{obs.get('port', '')}{obs.get('path', '')}"
                rows.append(
                    {
                        "device_id": did,
                        "batch_id": batch_id,
                        "kind": str(obs.get("kind", "banner")),
                        "source": f"scan:{where}",
                        "observed_at": now,
                        "payload": payload,
                        "size_bytes": size,
                        "truncated": truncated,
                    }
                )
            if rows:
                conn.execute(observations.insert(), rows)
                written += len(rows)
        touched += _forget_silent(conn, [b for b in same_vantage if b != batch_id], targets, site_id, touched, by_ip)
        conn.execute(
            update(import_batches)
            .where(import_batches.c.id == batch_id)
            .values(created=created, updated=updated, message=f"{len(answered)} of {probed} hosts answered")
        )
        from phaseout.store.audit import cli_actor, record_event

        record_event(
            conn,
            cli_actor(),
            "scan.record",
            "import",
            batch_id,
            None,
            {
                "targets": targets[:20],
                "vantage": vantage,
                "answered": len(answered),
                "created": created,
                "updated": updated,
            },
        )
        if touched:
            identify_rows(conn, identifier or Identifier(), sorted(set(touched)))
    return ScanRecord(batch_id, len(answered), created, updated, written)


def _other_device(conn: Connection, device_id: int, mac: str | None, serial: str | None) -> bool:
    """True when the answers name a MAC or serial that contradicts the stored device's."""
    row = conn.execute(select(devices.c.mac, devices.c.serial).where(devices.c.id == device_id)).first()
    if row is None:
        return False
    if mac and row.mac and mac != row.mac:
        return True
    if not (serial and row.serial):
        return False
    a, b = serial.upper(), row.serial.upper()
    return a not in b and b not in a  # Hikvision serials are written with or without the model in front


def _vantage_of(mapping: str | None) -> str | None:
    try:
        value = json.loads(mapping or "{}").get("vantage")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def scan_coverage(conn: Connection) -> list[tuple[str | None, list[str]]]:
    """(vantage, targets) of every stored scan: which networks were looked at from where."""
    out = []
    for (mapping,) in conn.execute(select(import_batches.c.mapping).where(import_batches.c.kind == "scan")):
        try:
            data = json.loads(mapping or "{}")
        except ValueError:
            continue
        targets = data.get("targets") if isinstance(data, dict) else None
        if isinstance(targets, list):
            out.append((_vantage_of(mapping), [str(t) for t in targets]))
    return out


def _forget_silent(
    conn: Connection,
    earlier: list[int],
    targets: list[str],
    site_id: int | None,
    answered: list[int],
    by_ip: dict[str, list[tuple[int, int | None]]],
) -> list[int]:
    """Devices that answered an earlier scan from this network but not this one, although their
    address was among its targets, no longer answer from here: their earlier answers from this
    network are dropped (so an isolation shows as done).  Returns the devices changed.

    Candidates come from the stored addresses (``by_ip``, already in memory), and their answers
    are found through the observations' device index: no pass over every observation."""
    from phaseout.assess.verify import in_spans, parse_target

    if not earlier:
        return []
    done = set(answered)
    spans = [parse_target(t) for t in targets]
    candidates = [
        did
        for ip, holders in by_ip.items()
        if in_spans(ip, spans)
        for did, sid in holders
        if did not in done and (site_id is None or sid == site_id)
    ]
    gone = []
    for did in candidates:
        removed = conn.execute(
            delete(observations).where(
                observations.c.device_id == did,
                observations.c.kind != "inventory",
                observations.c.batch_id.in_(earlier),
            )
        )
        if removed.rowcount:
            gone.append(did)
    return gone
