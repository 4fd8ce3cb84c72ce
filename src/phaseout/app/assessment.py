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
from phaseout.store import device_risk
from phaseout.store.bulk import bulk_settings
from phaseout.store.copy import copy_field, copy_lines, insert_rows
from phaseout.store.engine import writing
from phaseout.store.generation import bump, current
from phaseout.store.identification import network_observations
from phaseout.store.ids import BULK_ROWS, SuspendedIndexes
from phaseout.store.scans import scan_coverage
from phaseout.store.schema import assessments, devices, sites

BATCH = 5_000
ASSESSMENT_COLUMNS = (
    "device_id",
    "risk",
    "findings",
    "risk_parts",
    "mitigations",
    "packs",
    "assessed_at",
    "deadline",
    "policy_status",
)


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


class StoredFields:
    """Each result's ``assessments`` fields after ``device_id``.  Devices that share a memoised
    result share its lists, so each shared result is encoded (JSON, and on PostgreSQL the
    ``COPY`` text) once, keyed by the lists' identities and the risk (the cached value holds the
    lists, so no identity is reused while the cache lives)."""

    def __init__(self, pack_ids: str, now: dt.datetime, today: dt.date) -> None:
        self.pack_ids = pack_ids
        self.now = now
        self.today = today
        self.cache: dict[tuple[int, int, int, float], list[Any]] = {}

    def _entry(self, a: DeviceAssessment) -> list[Any]:
        key = (id(a.findings), id(a.risk_parts), id(a.mitigations), a.risk)
        entry = self.cache.get(key)
        if entry is None:
            fields = (
                a.risk,
                json.dumps(a.findings),
                json.dumps(a.risk_parts),
                json.dumps(a.mitigations),
                self.pack_ids,
                self.now,
                removal_deadline(a.findings, self.today),
                policy_status(a.findings),
            )
            entry = self.cache[key] = [(a.findings, a.risk_parts, a.mitigations), fields, None]
        return entry

    def row(self, a: DeviceAssessment) -> tuple[Any, ...]:
        return (a.device_id, *self._entry(a)[1])

    def line(self, a: DeviceAssessment) -> str:
        entry = self._entry(a)
        if entry[2] is None:
            entry[2] = "\t" + "\t".join(copy_field(v) for v in entry[1]) + "\n"
        tail: str = entry[2]
        return str(a.device_id) + tail


def write_assessments(conn: Connection, results: list[DeviceAssessment], stored: StoredFields) -> None:
    """Insert the results' rows: ``COPY`` text lines on PostgreSQL, tuples elsewhere."""
    if conn.dialect.name == "postgresql":
        copy_lines(conn, assessments, ASSESSMENT_COLUMNS, (stored.line(a) for a in results))
    else:
        insert_rows(conn, assessments, ASSESSMENT_COLUMNS, (stored.row(a) for a in results))


def run_assessment(engine: Engine, packs: list[PolicyPack], today: dt.date) -> list[DeviceAssessment]:
    """Assess every active device and replace the stored assessments in one transaction.

    A large estate (``BULK_ROWS`` devices or more) is written as a bulk load: on PostgreSQL the
    old rows are truncated (no million dead rows left behind) and the ``risk`` and ``deadline``
    indexes built again once at the end; readers of ``assessments`` wait for the write to
    commit instead of reading the old rows meanwhile.  The key to ``devices`` stays: pages that
    read only devices are not held up.  Each device's copy of its risk and policy status
    (``store.device_risk``) is brought in step in the same transaction.

    On SQLite the estate is read and assessed before the write lock is taken (a write
    transaction takes it at ``BEGIN``: ``store.engine.writing``), so logins and collector
    uploads are not held up for the reading too; if anything was written meanwhile (the
    store's generation changed), it is read and assessed again under the lock."""
    now = dt.datetime.now(dt.UTC)
    pack_ids = json.dumps([p.id for p in packs])
    read: tuple[str, list[DeviceAssessment]] | None = None
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:  # one read transaction: one snapshot of the estate
            seen = current(conn)
            read = (seen, list(assess_devices(conn, packs, today)))
    with writing(engine) as conn:
        unchanged = read is not None and current(conn) == read[0]
        results = read[1] if read is not None and unchanged else list(assess_devices(conn, packs, today))
        bulk = len(results) >= BULK_ROWS
        if bulk and conn.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE assessments"))
        else:
            conn.execute(delete(assessments))
        bulk_settings(conn)
        indexes = SuspendedIndexes(conn, assessments, keys=False)
        if bulk:
            indexes.drop()
        write_assessments(conn, results, StoredFields(pack_ids, now, today))
        if indexes.dropped:
            indexes.restore()  # and ANALYZE on PostgreSQL
        elif conn.dialect.name == "postgresql":  # every row replaced: fresh statistics for the planner
            conn.execute(text("ANALYZE assessments"))
        device_risk.sync(conn)
        bump(conn)
    return results
