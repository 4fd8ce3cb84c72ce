"""Write inventory records into the store, merging with the devices it already holds.

The hot path of every import (a million rows must land in under 30 s), so rows become
tuples and go to the driver through ``exec_driver_sql`` in one ``executemany`` per chunk,
skipping SQLAlchemy's per-row parameter processing; values that need converting (the
timestamp) are converted once per import by the column type's own bind processor.

Merging: the caller passes the matching rule (a :class:`phaseout.domain.Matcher`, implemented
by :mod:`phaseout.estate.match`) and the identification engine (a
:class:`phaseout.domain.Identifies`); the store only writes what they decide.
"""

from __future__ import annotations

import datetime as dt
from types import TracebackType
from typing import Any

import orjson
from sqlalchemy import Connection, select

from phaseout.domain import OBSERVATION_MAX_BYTES, Identifies, InventoryRecord, Matcher, MatchKeys
from phaseout.normalize import site_key
from phaseout.store.copy import copy_raw, placeholders
from phaseout.store.identification import COLUMNS as ID_COLUMNS
from phaseout.store.identification import IdentificationCodec, identify_rows
from phaseout.store.ids import IdAllocator
from phaseout.store.pipeline import BackgroundWriter
from phaseout.store.schema import devices, observations, sites

TEXT_FIELDS = (
    "ip",
    "mac",
    "hostname",
    "serial",
    "manufacturer",
    "brand",
    "model",
    "firmware",
    "description",
    "asset_id",
)
#: PostgreSQL: a chunk's merges are copied here and applied by one ``UPDATE ... FROM`` (an
#: ``UPDATE`` per merged row cost 15 s of a 200,000-row re-import); dropped at commit.
MERGE_TABLE = "phaseout_merge"
MERGE_COLUMNS = (*TEXT_FIELDS, "site_id", "device_type", "last_seen", "id")


def fold_updates(updates: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """One merge row per device, as applying ``updates`` one after another would leave it:
    a later row's value wins unless it is NULL (the ``COALESCE`` of the per-row ``UPDATE``);
    site and last seen are always the later row's.  A set-based ``UPDATE ... FROM`` applies
    one arbitrary source row per target, so repeated devices must be folded first."""
    merged: dict[Any, tuple[Any, ...]] = {}
    n = len(TEXT_FIELDS)
    for row in updates:
        did = row[-1]
        old = merged.get(did)
        if old is not None:
            texts = tuple(new if new is not None else prev for new, prev in zip(row[:n], old[:n], strict=True))
            dtype = row[n + 1] if row[n + 1] is not None else old[n + 1]
            row = (*texts, row[n], dtype, *row[n + 2 :])
        merged[did] = row
    return list(merged.values())


def _encode(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body)


def observation_payload(rec: InventoryRecord) -> tuple[str, int, bool]:
    """The observation body as JSON, its full size, and whether it had to be cut.

    A body over ``OBSERVATION_MAX_BYTES`` keeps every key with its value cut to 256
    characters, and if that is still too big, only the device fields: always valid JSON."""
    fields = rec.observation_fields()
    data = _encode({"kind": "inventory", "fields": fields})
    size = len(data)
    if size <= OBSERVATION_MAX_BYTES:
        return data.decode(), size, False
    cut = {k: (v[:256] if isinstance(v, str) else v) for k, v in fields.items()}
    data = _encode({"kind": "inventory", "fields": cut})
    if len(data) > OBSERVATION_MAX_BYTES:
        data = _encode({"kind": "inventory", "fields": {k: v for k, v in cut.items() if k not in rec.extra}})
    return data.decode(), size, True


class SiteResolver:
    """Site references in rows (code, ``Store 012``, or name) -> site ids; creates sites that
    do not exist yet and refuses names shared by several sites."""

    def __init__(self, conn: Connection, now: dt.datetime) -> None:
        self.conn = conn
        self.now = now
        self.by_key: dict[str, int] = {}
        self.ambiguous: set[str] = set()
        self.created: list[str] = []
        self.cache: dict[str, int] = {}
        rows = conn.execute(select(sites.c.id, sites.c.code, sites.c.name)).all()
        for sid, _code, name in rows:  # names first, so codes win on a clash
            if name:
                key = site_key(name)
                if key in self.by_key and self.by_key[key] != sid:
                    self.ambiguous.add(key)
                self.by_key.setdefault(key, sid)
        for sid, code, _name in rows:
            self.by_key[site_key(code)] = sid
            self.ambiguous.discard(site_key(code))

    def resolve(self, ref: str) -> int:
        """The site's id; raises ``ValueError`` when ``ref`` is a name shared by several sites."""
        sid = self.cache.get(ref)
        if sid is not None:
            return sid
        key = site_key(ref)
        if key in self.ambiguous:
            raise ValueError(f"site {ref!r} matches several sites by name; use the site code")
        sid = self.by_key.get(key)
        if sid is None:
            sid = self.conn.execute(
                sites.insert()
                .values(code=ref, name=ref, created_at=self.now, updated_at=self.now)
                .returning(sites.c.id)
            ).scalar_one()
            self.by_key[key] = sid
            self.created.append(ref)
        self.cache[ref] = sid
        return sid


class DeviceWriter:
    """Buffers one chunk of new and changed devices and their observations, then writes each
    list with a single ``executemany``."""

    def __init__(
        self,
        conn: Connection,
        batch_id: int,
        source: str,
        now: dt.datetime,
        *,
        matcher: Matcher,
        identifier: Identifies,
        track_parents: bool = False,
        background: bool = False,
    ) -> None:
        """``track_parents``: the file names each device's recorder, so remember every row's
        IP, name, serial and MAC to resolve those references at the end.  ``background``
        (PostgreSQL): chunks are written by a thread (:mod:`phaseout.store.pipeline`) while the
        next is prepared; only for a caller that reads no device back until the ``with`` block
        around this writer has ended."""
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        self.pipe = BackgroundWriter(conn.connection.dbapi_connection, threaded=background and self.postgres)
        self.merge_table_made = False
        self.matcher = matcher
        self.batch_id = batch_id
        self.source = source
        self.track_parents = track_parents
        dialect = conn.dialect
        stamp = devices.c.first_seen.type.dialect_impl(dialect).bind_processor(dialect)
        self.now = stamp(now) if stamp else now
        flag = observations.c.truncated.type.dialect_impl(dialect).bind_processor(dialect)
        self.true: Any = flag(True) if flag else True
        self.false: Any = flag(False) if flag else False
        self.device_ids = IdAllocator(conn, devices)
        self.observation_ids = IdAllocator(conn, observations)
        self.inserts: list[tuple[Any, ...]] = []
        self.updates: list[tuple[Any, ...]] = []
        self.observations: list[tuple[Any, ...]] = []
        self.created = 0
        self.updated = 0
        self.parent_refs: list[tuple[int, int, str]] = []
        self.site_lookup: dict[tuple[int, str], int] = {}
        mark = placeholders(conn, 1)
        self.identifier = identifier
        self.codec = IdentificationCodec(conn, identifier.version)
        self.updated_ids: list[int] = []
        self.insert_columns = (
            f"id, site_id, {', '.join(TEXT_FIELDS)}, fingerprint, device_type, status, first_seen, last_seen, "
            f"batch_id, {', '.join(ID_COLUMNS)}"
        )
        self.observation_columns = "id, device_id, batch_id, kind, source, observed_at, payload, size_bytes, truncated"
        self.insert_sql = (
            f"INSERT INTO devices ({self.insert_columns}) "
            f"VALUES ({placeholders(conn, len(TEXT_FIELDS) + 8 + len(ID_COLUMNS))})"
        )
        sets = ", ".join(f"{c} = COALESCE({mark}, {c})" for c in TEXT_FIELDS)
        self.update_sql = (
            f"UPDATE devices SET {sets}, site_id = {mark}, device_type = COALESCE({mark}, device_type), "
            f"last_seen = {mark} WHERE id = {mark}"
        )
        self.observation_sql = f"INSERT INTO observations ({self.observation_columns}) VALUES ({placeholders(conn, 9)})"

    def add(self, rec: InventoryRecord, site_id: int, keys: MatchKeys) -> str | None:
        """Write one record as a new device or into the device it matches; returns the key that
        matched (``None``: a new device)."""
        values = (
            rec.ip,
            rec.mac,
            rec.hostname,
            rec.serial,
            rec.manufacturer,
            rec.brand,
            rec.model,
            rec.firmware,
            rec.description,
            rec.asset_id,
        )
        found = self.matcher.find(keys)
        did = found.device_id if found is not None else None
        if did is None:
            did = self.device_ids.next_id
            self.device_ids.next_id += 1
            ident = self.identifier.identify_row(
                rec.manufacturer, rec.brand, rec.model, rec.firmware, rec.mac, rec.serial, rec.device_type
            )
            self.inserts.append(
                (
                    did,
                    site_id,
                    *values,
                    keys.fingerprint,
                    rec.device_type,
                    "active",
                    self.now,
                    self.now,
                    self.batch_id,
                    *self.codec.values(ident),
                )
            )
            self.created += 1
        else:
            dtype = None if rec.device_type == "unknown" else rec.device_type
            self.updates.append((*values, site_id, dtype, self.now, did))
            self.updated_ids.append(did)
            self.updated += 1
        self.matcher.add(did, keys)
        if self.track_parents:
            self._remember_for_parents(rec, did, site_id)
        payload, size, truncated = observation_payload(rec)
        obs_id = self.observation_ids.next_id
        self.observation_ids.next_id += 1
        self.observations.append(
            (
                obs_id,
                did,
                self.batch_id,
                "inventory",
                f"{self.source}#row={rec.row}",
                self.now,
                payload,
                size,
                self.true if truncated else self.false,
            )
        )
        return found.by if found is not None else None

    def _remember_for_parents(self, rec: InventoryRecord, did: int, site_id: int) -> None:
        for ref in (rec.ip, rec.hostname, rec.serial, rec.description, rec.mac):
            if ref:
                self.site_lookup.setdefault((site_id, ref.lower()), did)
        if rec.parent:
            self.parent_refs.append((did, site_id, rec.parent))

    def flush(self) -> None:
        """Write the chunk: new devices, then merges, then observations (a row may merge into a
        device created earlier in the same chunk)."""
        inserts, updates, found = self.inserts, self.updates, self.observations
        self.inserts, self.updates, self.observations = [], [], []
        if self.postgres:
            merges = fold_updates(updates)
            self.pipe.submit(lambda raw: self._write_postgres(raw, inserts, merges, found))
            return
        driver = self.conn.exec_driver_sql
        if inserts:
            driver(self.insert_sql, inserts)
        if updates:
            driver(self.update_sql, updates)
        if found:
            driver(self.observation_sql, found)

    def _write_postgres(
        self, raw: Any, inserts: list[tuple[Any, ...]], merges: list[tuple[Any, ...]], found: list[tuple[Any, ...]]
    ) -> None:
        """``COPY FROM STDIN`` on the import's own connection and transaction (several times
        faster than ``executemany``); merges through :data:`MERGE_TABLE`."""
        if inserts:
            copy_raw(raw, "devices", _names(self.insert_columns), inserts)
        if merges:
            self._merge_postgres(raw, merges)
        if found:
            copy_raw(raw, "observations", _names(self.observation_columns), found)

    def _merge_postgres(self, raw: Any, merges: list[tuple[Any, ...]]) -> None:
        with raw.cursor() as cur:
            if self.merge_table_made:
                cur.execute(f"TRUNCATE {MERGE_TABLE}")
            else:
                texts = ", ".join(f"{c} varchar" for c in TEXT_FIELDS)
                cur.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS {MERGE_TABLE} ({texts}, site_id integer, "
                    "device_type varchar, last_seen timestamptz, id integer) ON COMMIT DROP"
                )
                cur.execute(f"TRUNCATE {MERGE_TABLE}")
                self.merge_table_made = True
        copy_raw(raw, MERGE_TABLE, MERGE_COLUMNS, merges)
        sets = ", ".join(f"{c} = COALESCE(m.{c}, d.{c})" for c in TEXT_FIELDS)
        with raw.cursor() as cur:
            cur.execute(f"ANALYZE {MERGE_TABLE}")  # its size, so the join uses the key for a few rows
            cur.execute(
                f"UPDATE devices AS d SET {sets}, site_id = m.site_id, "
                "device_type = COALESCE(m.device_type, d.device_type), last_seen = m.last_seen "
                f"FROM {MERGE_TABLE} AS m WHERE d.id = m.id"
            )

    def __enter__(self) -> DeviceWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        """Every chunk written (or, on an error, the writer stopped and its error raised)."""
        self.pipe.__exit__(kind, exc, tb)

    def link_parents(self) -> int:
        """Point devices at their recorder when the row named one (by IP, name, serial or MAC
        within the same site).  Returns how many references found no device."""
        links: list[tuple[int, int]] = []
        missing = 0
        for did, site_id, ref in self.parent_refs:
            parent = self.site_lookup.get((site_id, ref.lower()))
            if parent is None or parent == did:
                missing += 1
            else:
                links.append((parent, did))
        if links:
            mark = placeholders(self.conn, 1)
            self.conn.exec_driver_sql(
                f"UPDATE devices SET parent_id = {mark} WHERE id = {mark}",
                links,
            )
        return missing

    def identify_updated(self) -> None:
        """Devices merged with an earlier import: identify them from their merged fields."""
        if self.updated_ids:
            identify_rows(self.conn, self.identifier, sorted(set(self.updated_ids)))

    def finish(self) -> None:
        self.device_ids.finish()
        self.observation_ids.finish()


def _names(columns: str) -> list[str]:
    return [c.strip() for c in columns.split(",")]
