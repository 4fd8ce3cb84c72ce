"""Store identifications on devices, and recompute them when the knowledge changes.

The identification columns of ``devices`` hold the result for the device's reported fields
(its merged inventory view) together with what the network said about it (observations of
other kinds than ``inventory``, written by ``phaseout scan``).  The evidence is JSON in the
``evidence`` table, keyed by its digest: a million cameras of a few hundred models share a few
hundred evidence rows instead of carrying 300 bytes each.  ``knowledge`` records which version
of the knowledge files made the identification, and the ``meta`` row ``knowledge`` the version
every device was last brought up to, so ``reidentify`` knows without a table scan when nothing
can be stale.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, or_, select

from phaseout.domain import Identified, Identifies
from phaseout.store.engine import writing
from phaseout.store.schema import devices, evidence, meta, observations

COLUMNS = (
    "vendor",
    "label",
    "relation",
    "id_model",
    "id_type",
    "form_factor",
    "megapixels",
    "confidence",
    "evidence_key",
    "knowledge",
)
BATCH = 20_000


class IdentificationCodec:
    """An identification -> column values, writing each distinct evidence list once.  Identical
    identifications (the engine shares one object for rows that agree on make, model, firmware
    and MAC block) are encoded once."""

    def __init__(self, conn: Connection, knowledge_version: str, *, deferred: bool = False) -> None:
        """``deferred``: new evidence rows wait for :meth:`flush` and go in one statement (a scan
        of cameras with their own serials makes one evidence list per camera); the caller must
        flush before it commits."""
        self.conn = conn
        self.version = knowledge_version
        self.deferred = deferred
        self._pending: list[tuple[str, str]] = []
        self._encoded: dict[int, tuple[Identified, tuple[Any, ...]]] = {}
        self._stored: set[str] = set()
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        self._insert = f"INSERT INTO evidence (key, body) VALUES ({mark}, {mark}) ON CONFLICT (key) DO NOTHING"

    def values(self, ident: Identified) -> tuple[Any, ...]:
        hit = self._encoded.get(id(ident))
        if hit is not None and hit[0] is ident:
            return hit[1]
        body = orjson.dumps([e.as_dict() for e in ident.evidence])
        key = hashlib.sha256(body).hexdigest()[:16]
        if key not in self._stored:
            if self.deferred:
                self._pending.append((key, body.decode()))
            else:
                self.conn.exec_driver_sql(self._insert, (key, body.decode()))
            self._stored.add(key)
        row = (
            ident.vendor,
            ident.brand,
            ident.relation,
            ident.model,
            ident.device_type,
            ident.form_factor,
            ident.megapixels,
            ident.confidence,
            key,
            self.version,
        )
        if len(self._encoded) < 100_000:
            self._encoded[id(ident)] = (ident, row)  # holding ident keeps its id() unique while cached
        return row

    def flush(self) -> None:
        """Write the evidence rows :meth:`values` deferred, in one ``executemany``."""
        if self._pending:
            self.conn.exec_driver_sql(self._insert, self._pending)
            self._pending = []


def evidence_of(conn: Connection, key: str | None) -> list[dict[str, Any]]:
    if not key:
        return []
    body = conn.execute(select(evidence.c.body).where(evidence.c.key == key)).scalar()
    return list(orjson.loads(body)) if body else []


def fields_of(row: Any) -> dict[str, Any]:
    """A stored device's reported fields, as an inventory observation's fields."""
    return {
        "manufacturer": row.manufacturer,
        "brand": row.brand,
        "model": row.model,
        "firmware": row.firmware,
        "mac": row.mac,
        "serial": row.serial,
        "device_type": row.device_type,
    }


def network_observations(conn: Connection, ids: list[int] | None = None) -> dict[int, list[dict[str, Any]]]:
    """Observations other than the inventory row (scan answers), by device; all devices, or
    the given ones."""
    query = select(observations.c.device_id, observations.c.payload).where(observations.c.kind != "inventory")
    out: dict[int, list[dict[str, Any]]] = {}
    chunks = [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)] if ids is not None else [None]
    for chunk in chunks:
        q = query if chunk is None else query.where(observations.c.device_id.in_(chunk))
        for device_id, payload in conn.execute(q.order_by(observations.c.id)):
            try:
                out.setdefault(device_id, []).append(orjson.loads(payload))
            except orjson.JSONDecodeError:
                continue
    return out


def identify_device(identifier: Identifies, row: Any, seen: list[dict[str, Any]] | None) -> Identified:
    """One stored device: its reported fields, plus its network observations when it has any."""
    fields = fields_of(row)
    if not seen:
        found: Identified = identifier.identify_inventory(fields)
        return found
    inventory = {"kind": "inventory", "fields": {k: v for k, v in fields.items() if v is not None}}
    merged: Identified = identifier.identify([inventory, *seen])
    return merged


def update_sql(conn: Connection) -> str:
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return f"UPDATE devices SET {', '.join(f'{c} = {mark}' for c in COLUMNS)} WHERE id = {mark}"


#: Above this many named devices, identify_rows reads the set of devices with network answers
#: once instead of looking up each named device's answers.
WHOLE_SET_ABOVE = 20_000


def identify_rows(
    conn: Connection, identifier: Identifies, ids: list[int] | None = None, *, only_stale: bool = False
) -> int:
    """(Re)identify devices from their stored fields: the given ids, or every device whose
    identification is missing or was made by other knowledge.  Returns how many were
    identified.

    Only rows whose stored identification differs from the new one are written: a re-import of
    the same 200,000-row file re-identified every merged device and rewrote each row with the
    values it had (74 s of a 132 s re-import on PostgreSQL, every write a new row version
    and index entries)."""
    codec = IdentificationCodec(conn, identifier.version, deferred=True)
    query = select(
        devices.c.id,
        devices.c.manufacturer,
        devices.c.brand,
        devices.c.model,
        devices.c.firmware,
        devices.c.mac,
        devices.c.serial,
        devices.c.device_type,
        *(devices.c[c] for c in COLUMNS),
    )
    if only_stale:
        query = query.where(or_(devices.c.knowledge.is_(None), devices.c.knowledge != codec.version))
    chunks = [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)] if ids is not None else [None]
    sql = update_sql(conn)
    # every device with answers from the network (one query), so only those
    # devices' observations are read: a lookup per named device read each one's inventory rows
    # too (a re-import of 200,000 rows names every device).  A few named devices (a scan's, an
    # upload's) are looked up directly: the whole set costs a read of every scanned device.
    scanned: set[int] | None = (
        set(
            conn.execute(
                select(observations.c.device_id).where(observations.c.kind != "inventory").distinct()
            ).scalars()
        )
        if ids is None or len(ids) > WHOLE_SET_ABOVE
        else None
    )
    done = 0
    for chunk in chunks:
        q = query if chunk is None else query.where(devices.c.id.in_(chunk))
        rows = conn.execute(q.order_by(devices.c.id)).all()
        for start in range(0, len(rows), BATCH):
            wanted = [r.id for r in rows[start : start + BATCH] if scanned is None or r.id in scanned]
            seen = network_observations(conn, wanted) if wanted else {}
            params = []
            for r in rows[start : start + BATCH]:
                values = codec.values(identify_device(identifier, r, seen.get(r.id)))
                if values != tuple(r[-len(COLUMNS) :]):
                    params.append((*values, r.id))
                done += 1
            codec.flush()
            if params:
                conn.exec_driver_sql(sql, params)
    return done


def store_version(conn: Connection) -> str | None:
    """The knowledge version every device was last brought up to, if recorded."""
    return conn.execute(select(meta.c.value).where(meta.c.key == "knowledge")).scalar()


def record_version(conn: Connection, version: str) -> None:
    if conn.execute(select(meta.c.key).where(meta.c.key == "knowledge")).first() is None:
        conn.execute(meta.insert().values(key="knowledge", value=version))
    else:
        conn.execute(meta.update().where(meta.c.key == "knowledge").values(value=version))


def reidentify(engine: Engine, identifier: Identifies, *, only_stale: bool = True) -> int:
    """Bring every stored identification up to date with the knowledge, in one transaction.
    With ``only_stale``, nothing is read when the store was already brought up to this version
    (every write path identifies with the current knowledge).  That check is made first without
    SQLite's write lock: every import ends here, and one that finished while another write held
    the lock would otherwise wait for it, then report the database busy for an import it stored."""
    version = identifier.version
    if only_stale:
        with engine.connect() as conn:
            if store_version(conn) == version:
                return 0
    with writing(engine) as conn:
        if only_stale and store_version(conn) == version:
            return 0
        done = identify_rows(conn, identifier, only_stale=only_stale)
        record_version(conn, version)
        return done


#: What the matching rule indexes of each device, in ``estate.match.index_rows``'s order.
MATCH_KEY_COLUMNS = (
    devices.c.id,
    devices.c.mac,
    devices.c.serial,
    devices.c.asset_id,
    devices.c.site_id,
    devices.c.ip,
    devices.c.fingerprint,
)


def match_keys_rows(conn: Connection) -> Any:
    """(id, mac, serial, asset_id, site_id, ip, fingerprint) of every device, streamed: what the
    matching rule indexes before an import (a scan reads ``store.match_candidates``)."""
    query = select(*MATCH_KEY_COLUMNS).order_by(devices.c.id)
    return conn.execute(query.execution_options(yield_per=50_000))
