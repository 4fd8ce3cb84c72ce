"""Atomic imports: a whole file lands in one transaction, or nothing does.

Rows are parsed as they stream in and written in chunks *inside* one transaction, so memory
stays flat on a million-row file while a crash, Ctrl-C or ``kill -9`` leaves the database
exactly as it was (SQLite's WAL and PostgreSQL both discard an uncommitted transaction).
Devices are merged with what the store already holds by MAC, then serial, then (site, IP);
every row also becomes an ``inventory`` observation, so no evidence is ever lost.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, bindparam, func, select

from phaseout.domain import OBSERVATION_MAX_BYTES, InventoryRecord, Site
from phaseout.errors import DataError, RowError, UsageError
from phaseout.ingest.columns import ColumnMapping
from phaseout.ingest.inventory import parse_inventory
from phaseout.ingest.prepare import MappedTable, open_mapped
from phaseout.ingest.sites import parse_sites
from phaseout.normalize import site_key
from phaseout.store.ids import IdAllocator, lock_for_import
from phaseout.store.schema import devices, import_batches, observations, sites
from phaseout.store.store import Store

log = logging.getLogger(__name__)

CHUNK_ROWS = 20_000
#: Row errors kept in the batch record and shown; all are counted, and ``--errors`` gets all.
MAX_ERRORS_STORED = 1000
_DEVICE_TEXT = (
    "ip",
    "mac",
    "hostname",
    "serial",
    "manufacturer",
    "brand",
    "model",
    "firmware",
    "description",
)
_LIMITS = {name: devices.c[name].type.length for name in _DEVICE_TEXT}  # type: ignore[attr-defined]

#: Called as ``progress(rows_just_done, rows_in_file_estimate)``.
Progress = Callable[[int, int], None]
_Tick = Callable[[int], None]


def _ticker(progress: Progress | None, total: int) -> _Tick | None:
    return None if progress is None else (lambda n: progress(n, total))


@dataclass(slots=True)
class ImportOptions:
    site: str | None = None  # every row belongs to this site (devices only)
    sheet: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)  # --map COLUMN=FIELD
    header_row: int | None = None
    skip_bad: bool = False
    dry_run: bool = False


@dataclass(slots=True)
class ImportResult:
    kind: str
    file_name: str
    checksum: str
    mapping: ColumnMapping
    status: str = "ok"  # ok | partial | failed | dry-run
    batch_id: int | None = None
    rows_total: int = 0
    rows_imported: int = 0
    rows_bad: int = 0
    created: int = 0
    updated: int = 0
    sites_created: list[str] = field(default_factory=list)
    parents_unresolved: int = 0
    errors: list[RowError] = field(default_factory=list)
    preview: list[dict[str, Any]] = field(default_factory=list)


class _Abort(Exception):
    """Raised inside the transaction to roll it back when bad rows are not to be skipped."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _cap(value: str | None, name: str) -> str | None:
    limit = _LIMITS[name]
    return value if value is None or len(value) <= limit else value[:limit]


def _payload(rec: InventoryRecord) -> tuple[str, int, bool]:
    """The observation body as JSON, its full size, and whether it had to be cut.

    A body over ``OBSERVATION_MAX_BYTES`` keeps every key with its value cut to 256
    characters, and if that is still too big, only the device fields: always valid JSON."""
    fields = rec.observation_fields()
    text = json.dumps({"kind": "inventory", "fields": fields}, ensure_ascii=False, separators=(",", ":"))
    size = len(text) if text.isascii() else len(text.encode("utf-8"))
    if size <= OBSERVATION_MAX_BYTES:
        return text, size, False
    cut = {k: (v[:256] if isinstance(v, str) else v) for k, v in fields.items()}
    text = json.dumps({"kind": "inventory", "fields": cut}, ensure_ascii=False, separators=(",", ":"))
    if len(text.encode("utf-8")) > OBSERVATION_MAX_BYTES:
        core = {k: v for k, v in cut.items() if k not in rec.extra}
        text = json.dumps({"kind": "inventory", "fields": core}, ensure_ascii=False, separators=(",", ":"))
    return text, size, True


class _SiteResolver:
    """Site references in rows -> site ids, creating sites that do not exist yet."""

    def __init__(self, conn: Connection, now: dt.datetime) -> None:
        self.conn = conn
        self.now = now
        self.by_key: dict[str, int] = {}
        self.ambiguous: set[str] = set()
        self.created: list[str] = []
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
        self.cache: dict[str, int] = {}

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
                .values(code=ref[:64], name=ref[:200], created_at=self.now, updated_at=self.now)
                .returning(sites.c.id)
            ).scalar_one()
            self.by_key[key] = sid
            self.created.append(ref)
        self.cache[ref] = sid
        return sid


class _DeviceIndex:
    """The merge keys of every device already stored: MAC, then serial, then (site, IP)."""

    def __init__(self, conn: Connection) -> None:
        self.by_mac: dict[str, int] = {}
        self.by_serial: dict[str, int] = {}
        self.by_site_ip: dict[tuple[int, str], int] = {}
        query = select(devices.c.id, devices.c.mac, devices.c.serial, devices.c.site_id, devices.c.ip)
        for did, mac, serial, site_id, ip in conn.execution_options(yield_per=50_000).execute(query):
            self.add(did, mac, serial, site_id, ip)

    def add(self, did: int, mac: str | None, serial: str | None, site_id: int | None, ip: str | None) -> None:
        if mac:
            self.by_mac.setdefault(mac, did)
        if serial:
            self.by_serial.setdefault(serial.upper(), did)
        if ip and site_id is not None:
            self.by_site_ip.setdefault((site_id, ip), did)

    def find(self, mac: str | None, serial: str | None, site_id: int, ip: str | None) -> int | None:
        if mac and (did := self.by_mac.get(mac)) is not None:
            return did
        if serial and (did := self.by_serial.get(serial.upper())) is not None:
            return did
        if ip:
            return self.by_site_ip.get((site_id, ip))
        return None


_UPDATE_DEVICE = (
    devices.update()
    .where(devices.c.id == bindparam("_id"))
    .values(
        {name: func.coalesce(bindparam(f"_{name}"), devices.c[name]) for name in _DEVICE_TEXT}
        | {
            "site_id": bindparam("_site_id"),
            "device_type": func.coalesce(bindparam("_device_type"), devices.c.device_type),
            "last_seen": bindparam("_last_seen"),
        }
    )
)


class _DeviceWriter:
    """Buffers one chunk of new and changed devices plus their observations, then writes each
    list with a single ``executemany``."""

    def __init__(self, conn: Connection, batch_id: int, source: str, now: dt.datetime) -> None:
        self.conn = conn
        self.batch_id = batch_id
        self.source = source
        self.now = now
        self.index = _DeviceIndex(conn)
        self.device_ids = IdAllocator(conn, devices)
        self.observation_ids = IdAllocator(conn, observations)
        self.inserts: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []
        self.observations: list[dict[str, Any]] = []
        self.created = 0
        self.updated = 0
        self.parent_refs: list[tuple[int, int, str]] = []
        self.site_lookup: dict[tuple[int, str], int] = {}

    def add(self, rec: InventoryRecord, site_id: int) -> None:
        existing = self.index.find(rec.mac, rec.serial, site_id, rec.ip)
        values = {name: _cap(getattr(rec, name), name) for name in _DEVICE_TEXT}
        if existing is None:
            did = self.device_ids.take()
            self.inserts.append(
                values
                | {
                    "id": did,
                    "site_id": site_id,
                    "device_type": rec.device_type,
                    "status": "active",
                    "first_seen": self.now,
                    "last_seen": self.now,
                    "batch_id": self.batch_id,
                }
            )
            self.created += 1
        else:
            did = existing
            params: dict[str, Any] = {f"_{k}": v for k, v in values.items()}
            params |= {
                "_id": did,
                "_site_id": site_id,
                "_device_type": None if rec.device_type == "unknown" else rec.device_type,
                "_last_seen": self.now,
            }
            self.updates.append(params)
            self.updated += 1
        self.index.add(did, rec.mac, rec.serial, site_id, rec.ip)
        for ref in (rec.ip, rec.hostname, rec.serial, rec.description, rec.mac):
            if ref:
                self.site_lookup.setdefault((site_id, ref.lower()), did)
        if rec.parent:
            self.parent_refs.append((did, site_id, rec.parent))
        payload, size, truncated = _payload(rec)
        self.observations.append(
            {
                "id": self.observation_ids.take(),
                "device_id": did,
                "batch_id": self.batch_id,
                "kind": "inventory",
                "source": f"{self.source}#row={rec.row}",
                "observed_at": self.now,
                "payload": payload,
                "size_bytes": size,
                "truncated": truncated,
            }
        )

    def flush(self) -> None:
        if self.inserts:
            self.conn.execute(devices.insert(), self.inserts)
        if self.updates:
            self.conn.execute(_UPDATE_DEVICE, self.updates)
        if self.observations:
            self.conn.execute(observations.insert(), self.observations)
        self.inserts, self.updates, self.observations = [], [], []

    def link_parents(self) -> int:
        """Point devices at their recorder when the row named one (by IP, name, serial or MAC
        within the same site).  Returns how many references found no device."""
        links = []
        missing = 0
        for did, site_id, ref in self.parent_refs:
            parent = self.site_lookup.get((site_id, ref.lower()))
            if parent is None or parent == did:
                missing += 1
            else:
                links.append({"_id": did, "_parent": parent})
        if links:
            stmt = (
                devices.update()
                .where(devices.c.id == bindparam("_id"))
                .values(parent_id=bindparam("_parent"))
            )
            self.conn.execute(stmt, links)
        return missing

    def finish(self) -> None:
        self.device_ids.finish()
        self.observation_ids.finish()


def _start_batch(conn: Connection, kind: str, table_name: str, checksum: str, sheet: str | None) -> int:
    return int(
        conn.execute(
            import_batches.insert()
            .values(
                kind=kind,
                file_name=table_name,
                checksum=checksum,
                sheet=sheet,
                status="running",
                started_at=_now(),
            )
            .returning(import_batches.c.id)
        ).scalar_one()
    )


def _finish_batch(conn: Connection, result: ImportResult, message: str = "") -> None:
    conn.execute(
        import_batches.update()
        .where(import_batches.c.id == result.batch_id)
        .values(
            status=result.status,
            finished_at=_now(),
            rows_total=result.rows_total,
            rows_imported=result.rows_imported,
            rows_bad=result.rows_bad,
            created=result.created,
            updated=result.updated,
            sites_created=len(result.sites_created),
            mapping=json.dumps(result.mapping.as_json()),
            errors=json.dumps([e.as_dict() for e in result.errors[:MAX_ERRORS_STORED]]),
            message=message,
        )
    )


def _record_failure(store: Store, result: ImportResult, kind: str, sheet: str | None) -> None:
    """Keep a trace of a refused import (for the history page) in its own small transaction."""
    with store.engine.begin() as conn:
        result.batch_id = _start_batch(conn, kind, result.file_name, result.checksum, sheet)
        result.status = "failed"
        _finish_batch(conn, result, f"{result.rows_bad} bad rows; nothing imported")
    result.batch_id = None


def _collect_error(result: ImportResult, err: RowError) -> None:
    result.rows_bad += 1
    if len(result.errors) < 100_000:
        result.errors.append(err)


def _refuse(result: ImportResult) -> DataError:
    first = result.errors[0]
    return DataError(
        f"{result.rows_bad} of {result.rows_total} rows are bad (first: row {first.row}: {first.reason}); "
        "nothing was imported",
        hint="fix the rows, map columns with --map COLUMN=FIELD, or import the good rows with --skip-bad "
        "(--errors FILE saves the list)",
        row_errors=result.errors,
    )


def import_devices(
    store: Store, path: Path | str, options: ImportOptions | None = None, progress: Progress | None = None
) -> tuple[ImportResult, MappedTable]:
    """Import an inventory spreadsheet.  Raises :class:`DataError` (nothing imported) when
    rows are bad and ``skip_bad`` is off."""
    options = options or ImportOptions()
    mapped = open_mapped(
        path, "devices", sheet=options.sheet, overrides=options.overrides, header_row=options.header_row
    )
    if options.site is None and "site" not in mapped.mapping.fields:
        raise UsageError(
            f"{mapped.table.name} has no site column",
            hint="give --site CODE for a single-site file, or --map COLUMN=site",
        )
    result = ImportResult("devices", mapped.table.name, mapped.table.checksum, mapped.mapping)
    records = parse_inventory(mapped.data_rows, mapped.mapping, options.site)
    if options.dry_run:
        _dry_run(result, records, _ticker(progress, mapped.table.total_rows))
        return result, mapped
    if options.site is not None:
        _require_site(store, options.site)
    now = _now()
    try:
        with store.engine.connect() as conn, conn.execution_options(sqlite_begin="IMMEDIATE").begin():
            lock_for_import(conn, devices, observations)
            result.batch_id = _start_batch(
                conn, "devices", mapped.table.name, mapped.table.checksum, mapped.table.sheet
            )
            resolver = _SiteResolver(conn, now)
            writer = _DeviceWriter(conn, result.batch_id, f"import:{mapped.table.name}", now)
            _write_devices(
                result,
                records,
                resolver,
                writer,
                _ticker(progress, mapped.table.total_rows),
                options.skip_bad,
            )
            result.parents_unresolved = writer.link_parents()
            writer.finish()
            result.created, result.updated = writer.created, writer.updated
            result.sites_created = resolver.created
            result.status = "partial" if result.rows_bad else "ok"
            _finish_batch(conn, result)
    except _Abort:
        _record_failure(store, result, "devices", mapped.table.sheet)
        raise _refuse(result) from None
    return result, mapped


def _write_devices(
    result: ImportResult,
    records: Iterable[InventoryRecord | RowError],
    resolver: _SiteResolver,
    writer: _DeviceWriter,
    progress: _Tick | None,
    skip_bad: bool,
) -> None:
    pending = 0
    for item in records:
        result.rows_total += 1
        pending += 1
        if isinstance(item, RowError):
            _collect_error(result, item)
        elif result.rows_bad == 0 or skip_bad:  # once a row is bad, only parse (to list all errors)
            assert item.site is not None
            try:
                site_id = resolver.resolve(item.site)
            except ValueError as exc:
                _collect_error(result, RowError(item.row, str(exc), "site", {"site": item.site}))
            else:
                writer.add(item, site_id)
                result.rows_imported += 1
        if pending >= CHUNK_ROWS:
            if result.rows_bad == 0 or skip_bad:
                writer.flush()
                log.debug("chunk written: %d rows so far (uncommitted)", result.rows_total)
            if progress:
                progress(pending)
            pending = 0
    writer.flush()
    if progress and pending:
        progress(pending)
    if result.rows_bad and not skip_bad:
        raise _Abort


def _dry_run(
    result: ImportResult, records: Iterable[InventoryRecord | RowError | Site], progress: _Tick | None
) -> None:
    result.status = "dry-run"
    for item in records:
        result.rows_total += 1
        if isinstance(item, RowError):
            _collect_error(result, item)
        else:
            result.rows_imported += 1
            if len(result.preview) < 10:
                if isinstance(item, InventoryRecord):
                    result.preview.append({"row": item.row} | item.observation_fields())
                else:
                    result.preview.append({k: getattr(item, k) for k in item.__slots__})
        if progress and result.rows_total % CHUNK_ROWS == 0:
            progress(CHUNK_ROWS)


def _require_site(store: Store, code: str) -> None:
    key = site_key(code)
    with store.engine.connect() as conn:
        for found_code, name in conn.execute(select(sites.c.code, sites.c.name)):
            if site_key(found_code) == key or (name and site_key(name) == key):
                return
    raise UsageError(
        f"no site {code!r} in the database",
        hint="import sites first (phaseout sites import FILE), or check the code with phaseout sites list",
    )


_SITE_FIELDS = (
    "name",
    "region",
    "address",
    "latitude",
    "longitude",
    "sensitivity",
    "next_maintenance",
    "maintenance_cycle_months",
    "site_type",
)


def import_sites(
    store: Store, path: Path | str, options: ImportOptions | None = None, progress: Progress | None = None
) -> tuple[ImportResult, MappedTable]:
    """Create or update sites by code (``Store 012`` and ``12`` are the same site)."""
    options = options or ImportOptions()
    mapped = open_mapped(
        path, "sites", sheet=options.sheet, overrides=options.overrides, header_row=options.header_row
    )
    if "code" not in mapped.mapping.fields:
        raise UsageError(
            f"{mapped.table.name} has no site code column", hint="name it with --map COLUMN=code"
        )
    result = ImportResult("sites", mapped.table.name, mapped.table.checksum, mapped.mapping)
    parsed = parse_sites(mapped.data_rows, mapped.mapping)
    if options.dry_run:
        _dry_run(result, parsed, _ticker(progress, mapped.table.total_rows))
        return result, mapped
    good: list[Site] = []
    for item in parsed:
        result.rows_total += 1
        if isinstance(item, RowError):
            _collect_error(result, item)
        else:
            good.append(item)
    if result.rows_bad and not options.skip_bad:
        _record_failure(store, result, "sites", mapped.table.sheet)
        raise _refuse(result)
    now = _now()
    with store.engine.connect() as conn, conn.execution_options(sqlite_begin="IMMEDIATE").begin():
        lock_for_import(conn, sites)
        result.batch_id = _start_batch(
            conn, "sites", mapped.table.name, mapped.table.checksum, mapped.table.sheet
        )
        existing = {site_key(code): sid for sid, code in conn.execute(select(sites.c.id, sites.c.code))}
        pending: dict[str, dict[str, Any]] = {}  # new sites by key; a later row for the same code adds to it
        for site in good:
            values = {f: getattr(site, f) for f in _SITE_FIELDS if getattr(site, f) not in (None, "")}
            if "sensitivity" in values:
                values["sensitivity"] = str(values["sensitivity"])
            key = site_key(site.code)
            sid = existing.get(key)
            if sid is not None:
                conn.execute(sites.update().where(sites.c.id == sid).values(updated_at=now, **values))
                result.updated += 1
            elif key in pending:
                pending[key].update(values)
            else:
                pending[key] = {"code": site.code[:64], "created_at": now, "updated_at": now} | values
                result.created += 1
        inserts = list(pending.values())
        for chunk_start in range(0, len(inserts), CHUNK_ROWS):
            chunk = inserts[chunk_start : chunk_start + CHUNK_ROWS]
            _insert_uniform(conn, chunk)
            if progress:
                progress(len(chunk), len(inserts))
        result.rows_imported = len(good)
        result.status = "partial" if result.rows_bad else "ok"
        _finish_batch(conn, result)
    return result, mapped


def _insert_uniform(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """executemany needs the same keys in every row: group rows by their key sets."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    for group in groups.values():
        conn.execute(sites.insert(), group)
