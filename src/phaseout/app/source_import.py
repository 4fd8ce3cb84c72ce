"""Import another tool's export (nmap, Nessus, VMS camera lists, DHCP leases...) into the store.

The readers in ``phaseout.ingest.formats`` turn a file into :class:`SourceRecord` values; this
writes them the way a spreadsheet import writes rows, with the same machinery
(``DeviceWriter``: merge by MAC, then serial, then site + IP; ``identify_rows`` for merged
devices), in one transaction: all of the file lands, or none.  On top of the inventory
observation a spreadsheet row gets, each record's answers (``http``, ``rtsp``, ``tls``,
``banner``, ``mac``...) are stored as observations with their provenance, and a new device is
identified from all of them at once, exactly as ``phaseout identify`` would.  Re-importing the
same file replaces the answers it gave earlier instead of adding them again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, delete, select

from phaseout.app.imports import CHUNK_ROWS, ImportResult, Progress, _alerts, _finish, _now, _record_failure
from phaseout.domain import OBSERVATION_MAX_BYTES, DeviceType, InventoryRecord
from phaseout.errors import DataError, RowError, UsageError
from phaseout.estate.match import DeviceKeys, index_rows, record_keys
from phaseout.identify import Identification, Identifier
from phaseout.identify.facts import mac_hex
from phaseout.ingest.columns import ColumnMapping
from phaseout.ingest.formats.record import ModelFact, RecordError, SourceRecord
from phaseout.ingest.formats.registry import Format
from phaseout.ingest.values import parse_device_type
from phaseout.store.batches import earlier_batch, start_batch
from phaseout.store.device_writer import DeviceWriter, SiteResolver
from phaseout.store.identification import COLUMNS as ID_COLUMNS
from phaseout.store.identification import match_keys_rows, reidentify
from phaseout.store.ids import SuspendedIndexes, lock_for_import
from phaseout.store.schema import devices, observations
from phaseout.store.store import Store

_TYPES = {t.value for t in DeviceType}


def file_checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _device_type(rec: SourceRecord) -> str:
    text = rec.device_type or rec.extra.get("nmap_devicetype")
    if not text:
        return DeviceType.UNKNOWN.value
    if text in _TYPES:
        return text
    if text.lower() == "webcam":
        return DeviceType.CAMERA.value
    return parse_device_type(text).value


def to_inventory(rec: SourceRecord, number: int, site: str | None) -> InventoryRecord:
    """The device fields of a source record, as the spreadsheet path's record."""
    inv = InventoryRecord(
        row=number,
        site=site,
        ip=rec.ip,
        mac=rec.mac,
        hostname=rec.hostname,
        serial=rec.serial,
        manufacturer=rec.manufacturer,
        brand=rec.brand,
        model=rec.model,
        firmware=rec.firmware,
        description=rec.description,
        device_type=_device_type(rec),
        parent=rec.parent,
    )
    fields = {"site": site, "ip": rec.ip, "hostname": rec.hostname} | rec.inventory_fields()
    fields["device_type"] = inv.device_type
    inv.fields = {k: v for k, v in fields.items() if v is not None}
    return inv


def _payload(obs: dict[str, Any]) -> tuple[str, int, bool]:
    data = orjson.dumps(obs)
    if len(data) <= OBSERVATION_MAX_BYTES:
        return data.decode(), len(data), False
    cut = {**obs, "raw": str(obs.get("raw", ""))[: OBSERVATION_MAX_BYTES // 2]}
    return orjson.dumps(cut).decode(), len(data), True


class SourceWriter:
    """Adds source records through a :class:`DeviceWriter`, with their answers as observations."""

    def __init__(
        self, writer: DeviceWriter, matcher: DeviceKeys, identifier: Identifier, fmt: Format, file_name: str
    ) -> None:
        self.writer = writer
        self.matcher = matcher
        self.identifier = identifier
        self.prefix = f"{fmt.name}:{file_name}#"
        self.replaced: list[int] = []  # merged devices whose earlier answers from this file go
        self.site_of: dict[int, int | None] = {}  # device -> its site, for records that name none
        self.identified: dict[bytes, Identification] = {}
        self.payloads: dict[int, tuple[dict[str, Any], tuple[str, int, bool]]] = {}

    def add(self, rec: SourceRecord, number: int, site: str | None, site_id: int | None) -> None:
        w = self.writer
        created_before = w.created
        inv = to_inventory(rec, number, site)
        keys = record_keys(site_id, site, inv.mac, inv.serial, inv.asset_id, inv.ip, None)
        if site_id is None:  # a scan export names no site: a merged device keeps the one it has
            found = self.matcher.find(keys, bare_ip=True)  # a bare IP only when one device holds it
            if found is not None:
                site_id = self._site(found.device_id)
                keys = record_keys(site_id, site, inv.mac, inv.serial, inv.asset_id, inv.ip, None)
        w.add(inv, site_id, keys)  # type: ignore[arg-type]  # site-less sources (a scan export) keep site_id NULL
        obs_row = w.observations[-1]
        did = int(obs_row[1])
        w.observations[-1] = (*obs_row[:4], rec.provenance, *obs_row[5:])
        self.site_of.setdefault(did, site_id)
        if w.created > created_before:
            ident = self._identify(rec) if rec.observations else None
            if ident is not None:
                row = w.inserts[-1]
                w.inserts[-1] = (*row[: -len(ID_COLUMNS)], *w.codec.values(ident))
        else:
            self.replaced.append(did)
        for obs in rec.observations:
            payload, size, truncated = self._encoded(obs)
            oid = w.observation_ids.next_id
            w.observation_ids.next_id += 1
            kind = str(obs.get("kind", "banner"))
            w.observations.append(
                (oid, did, w.batch_id, kind, rec.provenance, w.now, payload, size, w.true if truncated else w.false)
            )

    def _encoded(self, obs: dict[str, Any]) -> tuple[str, int, bool]:
        """An observation's stored JSON; readers share one dict between hosts that answered
        alike (nmap ports of one camera model), so each shared dict is encoded once."""
        hit = self.payloads.get(id(obs))
        if hit is not None and hit[0] is obs:
            return hit[1]
        encoded = _payload(obs)
        if len(self.payloads) < 50_000:
            self.payloads[id(obs)] = (obs, encoded)  # holding obs keeps its id() unique
        return encoded

    def _identify(self, rec: SourceRecord) -> Identification:
        """Identify from every observation; records whose answers agree except for the MAC's
        last digits (inside one registry block) share one computation, as the spreadsheet
        path shares rows of one model (100,000 scanned cameras are a few hundred kinds)."""
        identifier = self.identifier
        observations = rec.all_observations()
        key_parts: list[object] = []
        for obs in observations:
            if obs.get("kind") == "mac":
                key_parts.append(("mac", identifier.k.oui.key(mac_hex(str(obs.get("value", ""))) or "")))
            elif obs.get("kind") == "inventory":
                fields = dict(obs.get("fields") or {})
                mac = fields.pop("mac", None)
                fields.pop("asset_id", None)
                key_parts.append(("inv", identifier.k.oui.key(mac_hex(str(mac)) or "") if mac else None, fields))
            else:
                key_parts.append(obs)
        try:
            key = orjson.dumps(key_parts, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            return identifier.identify(observations)
        hit = self.identified.get(key)
        if hit is None:
            hit = identifier.identify(observations)
            if len(self.identified) < 100_000:
                self.identified[key] = hit
        return hit

    def _site(self, did: int) -> int | None:
        known = self.matcher.known.get(did)
        if known is not None:
            return known.site_id
        if did not in self.site_of:
            row = self.writer.conn.execute(select(devices.c.site_id).where(devices.c.id == did)).first()
            self.site_of[did] = row[0] if row is not None else None
        return self.site_of[did]

    def drop_earlier_answers(self, conn: Connection, batch_id: int) -> None:
        """Answers an earlier import of the same file gave for merged devices are replaced by
        this import's (a re-import never doubles them)."""
        ids = sorted(set(self.replaced))
        for start in range(0, len(ids), 5000):
            conn.execute(
                delete(observations).where(
                    observations.c.device_id.in_(ids[start : start + 5000]),
                    observations.c.kind != "inventory",
                    observations.c.batch_id != batch_id,
                    observations.c.source.like(self.prefix.replace("%", r"\%").replace("_", r"\_") + "%", escape="\\"),
                )
            )


def import_source(
    store: Store,
    path: Path,
    fmt: Format,
    *,
    site: str | None = None,
    skip_bad: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
    identifier: Identifier,
    actor: str,
) -> ImportResult:
    """Read ``path`` as ``fmt`` and store its devices; raises :class:`DataError` (nothing
    stored) when records are bad and ``skip_bad`` is off."""
    assert fmt.read is not None, "spreadsheets go through import_devices"
    if fmt.name == "netbox-devicetype" and not dry_run:
        raise UsageError(
            f"{path.name} is NetBox device-type library YAML: model knowledge, not devices",
            hint="phaseout import FILE --dry-run lists the models it holds",
        )
    mapping = ColumnMapping(header_row=0, headers=[])
    result = ImportResult("devices", path.name, file_checksum(path), mapping)
    items = fmt.read(path)
    if dry_run:
        _dry_run(result, items, fmt)
        return result
    now = _now()
    try:
        with store.engine.connect() as conn, conn.execution_options(sqlite_begin="IMMEDIATE").begin():
            lock_for_import(conn, devices, observations)
            result.same_file_as = earlier_batch(conn, "devices", result.checksum)
            result.batch_id = start_batch(conn, "devices", path.name, result.checksum, f"format:{fmt.name}")
            indexes = SuspendedIndexes(conn, devices, observations)
            resolver = SiteResolver(conn, now)
            matcher = index_rows(match_keys_rows(conn))
            writer = DeviceWriter(
                conn,
                result.batch_id,
                f"{fmt.name}:{path.name}",
                now,
                matcher=matcher,
                identifier=identifier,
                track_parents=True,
            )
            if SuspendedIndexes.worth_it(conn, devices, 100_000 if path.stat().st_size > 50_000_000 else 0):
                indexes.drop()
            source = SourceWriter(writer, matcher, identifier, fmt, path.name)
            _write(result, items, resolver, source, site, skip_bad, progress)
            indexes.restore()
            source.drop_earlier_answers(conn, result.batch_id)
            writer.identify_updated()
            result.parents_unresolved = writer.link_parents()
            writer.finish()
            result.created, result.updated = writer.created, writer.updated
            result.sites_created = resolver.created
            result.status = "partial" if result.rows_bad else "ok"
            _finish(conn, result, actor, json.dumps({"format": fmt.name})[:200])
    except _Refused:
        _record_failure(store, result, "devices", f"format:{fmt.name}", actor)
        first = result.errors[0]
        raise DataError(
            f"{result.rows_bad} of {result.rows_total} records in {path.name} are bad "
            f"(first: {first.reason}); nothing was imported",
            hint="fix the file, or import the good records with --skip-bad (--errors FILE saves the list)",
            row_errors=result.errors,
        ) from None
    reidentify(store.engine, identifier)
    _alerts(store, result)
    return result


class _Refused(Exception):
    """Rolls the transaction back when bad records are not to be skipped."""


def _error(result: ImportResult, number: int, err: RecordError) -> None:
    result.rows_bad += 1
    if len(result.errors) < 100_000:
        result.errors.append(RowError(number, f"{err.position}: {err.reason}"))


def _write(
    result: ImportResult,
    items: Iterable[SourceRecord | RecordError | ModelFact],
    resolver: SiteResolver,
    source: SourceWriter,
    site: str | None,
    skip_bad: bool,
    progress: Progress | None,
) -> None:
    pending = 0
    for item in items:
        if isinstance(item, ModelFact):
            continue  # model knowledge, not a device (see read_device_types)
        result.rows_total += 1
        pending += 1
        if isinstance(item, RecordError):
            _error(result, result.rows_total, item)
        elif result.rows_bad == 0 or skip_bad:
            if not item.has_identity():
                _error(result, result.rows_total, RecordError(item.position, "no address, name, serial or model"))
                continue
            where = site or item.site
            try:
                site_id = resolver.resolve(where) if where else None
            except ValueError as exc:
                _error(result, result.rows_total, RecordError(item.position, str(exc)))
                continue
            source.add(item, result.rows_total, where, site_id)
            result.rows_imported += 1
        if pending >= CHUNK_ROWS:
            if result.rows_bad == 0 or skip_bad:
                source.writer.flush()
            if progress:
                progress(pending, 0)
            pending = 0
    source.writer.flush()
    if progress and pending:
        progress(pending, 0)
    if result.rows_bad and not skip_bad:
        raise _Refused


def _dry_run(result: ImportResult, items: Iterable[SourceRecord | RecordError | ModelFact], fmt: Format) -> None:
    result.status = "dry-run"
    for item in items:
        result.rows_total += 1
        if isinstance(item, RecordError):
            _error(result, result.rows_total, item)
            continue
        result.rows_imported += 1
        if len(result.preview) >= 10:
            continue
        if isinstance(item, ModelFact):
            result.preview.append({"manufacturer": item.manufacturer, "model": item.model, "source": item.source})
        else:
            shown = {"where": item.position, "ip": item.ip, "mac": item.mac, "hostname": item.hostname}
            shown |= item.inventory_fields()
            shown["answers"] = ", ".join(sorted({str(o.get("kind")) for o in item.observations}))
            result.preview.append({k: v for k, v in shown.items() if v})
    result.mapping.headers = [f"format: {fmt.name}"]
