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
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from phaseout.domain import SITE_FIELDS, Identifies, InventoryRecord, Site
from phaseout.errors import DataError, RowError, UsageError
from phaseout.estate.match import index_rows, record_keys
from phaseout.ingest.columns import ColumnMapping
from phaseout.ingest.inventory import parse_inventory
from phaseout.ingest.prepare import MappedTable, open_mapped
from phaseout.ingest.sites import parse_sites
from phaseout.normalize import site_key
from phaseout.store.batches import earlier_batch, finish_batch, site_exists, start_batch
from phaseout.store.device_writer import DeviceWriter, SiteResolver
from phaseout.store.engine import writing
from phaseout.store.identification import match_keys_rows, reidentify
from phaseout.store.ids import SuspendedIndexes, lock_for_import
from phaseout.store.schema import devices, observations, sites
from phaseout.store.store import Store

log = logging.getLogger(__name__)

CHUNK_ROWS = 20_000
#: SQLite page cache for an import (negative = KiB): 32 MiB.  On a 45 MB, 600,000-row CSV (one run
#: each, alternated, loaded machine): 64 MiB peaked at 390 MB, 32 MiB at 358 MB, in the same time
#: (80.6 s against 81.6 s on average); 256 MiB had peaked at 730 MB and was no faster.
IMPORT_CACHE_KIB = -32768
#: Row errors kept in the batch record and shown; all are counted, and ``--errors`` gets all.
MAX_ERRORS_STORED = 1000
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
    same_file_as: int | None = None  # an earlier batch that imported a file with the same checksum
    merged_by: Counter[str] = field(default_factory=Counter)  # rows merged, by the key that matched
    keyless: int = 0  # rows with no MAC, serial, asset ID or IP (matched by their values on re-import)
    errors: list[RowError] = field(default_factory=list)
    preview: list[dict[str, Any]] = field(default_factory=list)
    alerts: int = 0  # alert occurrences queued in the outbox by this import (app.alerts)


class _Abort(Exception):
    """Raised inside the transaction to roll it back when bad rows are not to be skipped."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _finish(conn: Connection, result: ImportResult, actor: str, message: str = "") -> None:
    finish_batch(
        conn,
        result.batch_id,
        actor=actor,
        kind=result.kind,
        values={
            "status": result.status,
            "rows_total": result.rows_total,
            "rows_imported": result.rows_imported,
            "rows_bad": result.rows_bad,
            "created": result.created,
            "updated": result.updated,
            "sites_created": len(result.sites_created),
            "mapping": json.dumps(result.mapping.as_json()),
            "errors": json.dumps([e.as_dict() for e in result.errors[:MAX_ERRORS_STORED]]),
            "message": message,
        },
        summary={
            "file": result.file_name,
            "status": result.status,
            "created": result.created,
            "updated": result.updated,
            "merged_by": dict(result.merged_by),
            "rows_bad": result.rows_bad,
        },
    )


def _record_failure(store: Store, result: ImportResult, kind: str, sheet: str | None, actor: str) -> None:
    """Keep a trace of a refused import (for the history page) in its own small transaction."""
    with writing(store.engine) as conn:
        result.batch_id = start_batch(conn, kind, result.file_name, result.checksum, sheet)
        result.status = "failed"
        _finish(conn, result, actor, f"{result.rows_bad} bad rows; nothing imported")
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
    store: Store,
    path: Path | str,
    options: ImportOptions | None = None,
    progress: Progress | None = None,
    *,
    identifier: Identifies,
    actor: str,
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
            if conn.dialect.name == "sqlite":  # room for the batch's index pages: fewer spills to the WAL
                conn.exec_driver_sql(f"PRAGMA cache_size={IMPORT_CACHE_KIB}")
                conn.info["cache_raised"] = True  # the engine puts it back when the connection is returned
            result.same_file_as = earlier_batch(conn, "devices", mapped.table.checksum)
            result.batch_id = start_batch(conn, "devices", mapped.table.name, mapped.table.checksum, mapped.table.sheet)
            indexes = SuspendedIndexes(conn, devices, observations)
            if SuspendedIndexes.worth_it(conn, devices, mapped.table.total_rows):
                indexes.drop()
            resolver = SiteResolver(conn, now)
            with DeviceWriter(
                conn,
                result.batch_id,
                f"import:{mapped.table.name}",
                now,
                matcher=index_rows(match_keys_rows(conn)),
                identifier=identifier,
                track_parents="parent" in mapped.mapping.fields,
                background=True,  # nothing below reads devices back before the block ends
            ) as writer:
                _write_devices(
                    result,
                    records,
                    resolver,
                    writer,
                    _ticker(progress, mapped.table.total_rows),
                    options.skip_bad,
                )
            indexes.restore()
            writer.identify_updated()
            result.parents_unresolved = writer.link_parents()
            writer.finish()
            result.created, result.updated = writer.created, writer.updated
            result.sites_created = resolver.created
            result.status = "partial" if result.rows_bad else "ok"
            _finish(conn, result, actor)
    except _Abort:
        _record_failure(store, result, "devices", mapped.table.sheet, actor)
        raise _refuse(result) from None
    reidentify(store.engine, identifier)  # devices identified by older knowledge, if any
    _alerts(store, result)
    return result, mapped


def _alerts(store: Store, result: ImportResult) -> None:
    """The alert rules look at what landed (``app.alerts``: queued, delivered by ``alert deliver``)."""
    from phaseout.app.alerts import after_batch

    found = after_batch(store)
    result.alerts = found.occurrences if found else 0


def _write_devices(
    result: ImportResult,
    records: Iterable[InventoryRecord | RowError],
    resolver: SiteResolver,
    writer: DeviceWriter,
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
                keys = record_keys(
                    site_id, item.site, item.mac, item.serial, item.asset_id, item.ip, item.observation_fields()
                )
                if keys.fingerprint is not None:
                    result.keyless += 1
                by = writer.add(item, site_id, keys)
                if by is not None:
                    result.merged_by[by] += 1
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
    with store.engine.connect() as conn:
        if site_exists(conn, code):
            return
    raise UsageError(
        f"no site {code!r} in the database",
        hint="import sites first (phaseout sites import FILE), or check the code with phaseout sites list",
    )


_SITE_FIELDS = tuple(f for f in SITE_FIELDS if f != "code")  # matched on code; the rest is updated


def import_sites(
    store: Store,
    path: Path | str,
    options: ImportOptions | None = None,
    progress: Progress | None = None,
    *,
    actor: str,
) -> tuple[ImportResult, MappedTable]:
    """Create or update sites by code (``Store 012`` and ``12`` are the same site)."""
    options = options or ImportOptions()
    mapped = open_mapped(path, "sites", sheet=options.sheet, overrides=options.overrides, header_row=options.header_row)
    if "code" not in mapped.mapping.fields:
        raise UsageError(f"{mapped.table.name} has no site code column", hint="name it with --map COLUMN=code")
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
        _record_failure(store, result, "sites", mapped.table.sheet, actor)
        raise _refuse(result)
    now = _now()
    with store.engine.connect() as conn, conn.execution_options(sqlite_begin="IMMEDIATE").begin():
        lock_for_import(conn, sites)
        result.same_file_as = earlier_batch(conn, "sites", mapped.table.checksum)
        result.batch_id = start_batch(conn, "sites", mapped.table.name, mapped.table.checksum, mapped.table.sheet)
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
                new = {"code": site.code, "name": site.code, "created_at": now, "updated_at": now}
                pending[key] = new | values
                result.created += 1
        inserts = list(pending.values())
        for chunk_start in range(0, len(inserts), CHUNK_ROWS):
            chunk = inserts[chunk_start : chunk_start + CHUNK_ROWS]
            _insert_uniform(conn, chunk)
            if progress:
                progress(len(chunk), len(inserts))
        result.rows_imported = len(good)
        result.status = "partial" if result.rows_bad else "ok"
        _finish(conn, result, actor)
    return result, mapped


def _insert_uniform(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """executemany needs the same keys in every row: group rows by their key sets."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    for group in groups.values():
        conn.execute(sites.insert(), group)
