"""Assess every stored device (the rules: :func:`phaseout.assess.device.assess_device`) and store
the results in ``assessments`` (one row per device, replaced whole in one transaction each run)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select, text

from phaseout.assess.batch import AssessmentMemo
from phaseout.assess.device import DeviceAssessment, StoredDevice
from phaseout.assess.store_feeds import load_saved_kev
from phaseout.assess.verify import parse_coverage, scanned_from
from phaseout.policy.evaluate import SiteFacts
from phaseout.policy.packs import PolicyPack
from phaseout.policy.status import policy_status, removal_deadline
from phaseout.store.bulk import bulk_settings
from phaseout.store.copy import insert_rows
from phaseout.store.generation import bump
from phaseout.store.identification import network_observations
from phaseout.store.ids import BULK_ROWS, SuspendedIndexes
from phaseout.store.scans import scan_coverage
from phaseout.store.schema import assessments, devices, sites

BATCH = 5_000


def assess_devices(conn: Connection, packs: list[PolicyPack], today: dt.date) -> Iterator[DeviceAssessment]:
    """Every active device's assessment: the store's facts in, :func:`assess_device` per
    distinct input (:class:`phaseout.assess.batch.AssessmentMemo`: same results, each shared
    input assessed once)."""
    cameras: dict[Any, Any] = dict(
        conn.execute(
            select(devices.c.parent_id, func.count())
            .where(devices.c.parent_id.is_not(None))
            .group_by(devices.c.parent_id)
        ).all()
    )
    scans = network_observations(conn)
    coverage = parse_coverage(scan_coverage(conn))
    memo = AssessmentMemo(packs, load_saved_kev(), today)
    query = (
        select(
            devices.c.id,
            devices.c.ip,
            devices.c.firmware,
            devices.c.vendor,
            devices.c.label,
            devices.c.relation,
            devices.c.id_model,
            devices.c.id_type,
            devices.c.confidence,
            sites.c.code,
            sites.c.sensitivity,
            sites.c.next_maintenance,
        )
        .select_from(devices.outerjoin(sites, devices.c.site_id == sites.c.id))  # scans find siteless devices
        .where(devices.c.status == "active")
        .order_by(devices.c.id)
    )
    site_facts: dict[tuple[str, Any], SiteFacts] = {}
    for row in conn.execute(query.execution_options(yield_per=BATCH)):
        sensitivity = row.sensitivity or "standard"
        site = site_facts.setdefault((sensitivity, row.next_maintenance), SiteFacts(sensitivity, row.next_maintenance))
        device = StoredDevice(
            row.id,
            row.code or "",
            row.ip,
            row.firmware,
            row.vendor or "unknown",
            row.label,
            row.relation,
            row.id_model,
            row.id_type or "unknown",
            row.confidence or 0.0,
            int(cameras.get(row.id, 0)),
        )
        yield memo.assess(device, site, scans.get(row.id, []), scanned_from(row.ip, coverage))


def _stored_rows(
    results: list[DeviceAssessment], pack_ids: str, now: dt.datetime, today: dt.date
) -> Iterator[tuple[Any, ...]]:
    """The ``assessments`` rows.  Devices that share a memoised result share its lists, so each
    shared result is encoded to JSON once, keyed by the lists' identities (the cached value
    holds the lists, so no identity is reused while the cache lives)."""
    encoded: dict[tuple[int, int, int], tuple[Any, str, str, str, dt.date | None, str | None]] = {}
    for a in results:
        key = (id(a.findings), id(a.risk_parts), id(a.mitigations))
        done = encoded.get(key)
        if done is None:
            done = encoded[key] = (
                (a.findings, a.risk_parts, a.mitigations),
                json.dumps(a.findings),
                json.dumps(a.risk_parts),
                json.dumps(a.mitigations),
                removal_deadline(a.findings, today),
                policy_status(a.findings),
            )
        _, findings, parts, mitigations, deadline, status = done
        yield (a.device_id, a.risk, findings, parts, mitigations, pack_ids, now, deadline, status)


def run_assessment(engine: Engine, packs: list[PolicyPack], today: dt.date) -> list[DeviceAssessment]:
    """Assess every active device and replace the stored assessments in one transaction.

    A large estate (``BULK_ROWS`` devices or more) is written as a bulk load: on PostgreSQL the
    old rows are truncated (no million dead rows left behind) and the ``risk`` and ``deadline``
    indexes built again once at the end; readers of ``assessments`` wait for the write to
    commit instead of reading the old rows meanwhile.  The key to ``devices`` stays: pages that
    read only devices are not held up."""
    now = dt.datetime.now(dt.UTC)
    pack_ids = json.dumps([p.id for p in packs])
    with engine.begin() as conn:
        results = list(assess_devices(conn, packs, today))
        bulk = len(results) >= BULK_ROWS
        if bulk and conn.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE assessments"))
        else:
            conn.execute(delete(assessments))
        bulk_settings(conn)
        indexes = SuspendedIndexes(conn, assessments, keys=False)
        if bulk:
            indexes.drop()
        columns = ("device_id", "risk", "findings", "risk_parts", "mitigations", "packs", "assessed_at", "deadline")
        insert_rows(conn, assessments, (*columns, "policy_status"), _stored_rows(results, pack_ids, now, today))
        if indexes.dropped:
            indexes.restore()  # and ANALYZE on PostgreSQL
        elif conn.dialect.name == "postgresql":  # every row replaced: fresh statistics for the planner
            conn.execute(text("ANALYZE assessments"))
        bump(conn)
    return results
