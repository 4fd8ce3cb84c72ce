"""Write a scan's answering hosts into the device table in a few statements, not a few per host.

A scan upload of 4,096 answering hosts used to cost about 8 statements per host (insert or
update the device, fill each empty column, delete its earlier answers, insert its answers):
tens of thousands of round trips, most of the time of an ingest (issue 17).  This writer keeps
the same rules and the same order of effects, but buffers them the way imports do
(:class:`phaseout.store.device_writer.DeviceWriter`):

* new devices get their ids up front (:func:`take_device_ids`), so a host matched later in the
  same scan can point at a device not written yet, and are written in one ``COPY`` (PostgreSQL)
  or ``executemany`` (SQLite);
* matched devices are refreshed with one ``executemany`` of an ``UPDATE`` whose ``COALESCE``\\ s
  fill only empty columns (what a device says never overwrites the register);
* their earlier answers from this vantage are deleted with one ``DELETE ... IN`` per 5,000
  devices;
* answers (observations) go in one ``COPY`` / ``executemany``;
* a new device that only its own host's answers describe is written with its identification
  (:meth:`ScanWriter.create`'s ``identified``): identifying it afterwards rewrote every row it
  had just written, and every index of the table with it (the search index's trigrams most).

:meth:`ScanWriter.flush` writes everything buffered, in that order; the caller flushes before
any step that reads the devices back (folding a site-less device into its site's one, storing a
recorder's channels), so those steps see exactly what they saw when every host was written at
once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, delete, func, select, text

from phaseout.domain import OBSERVATION_MAX_BYTES, ScannedHost
from phaseout.store.copy import copy_plain, placeholders
from phaseout.store.identification import COLUMNS as IDENTIFICATION
from phaseout.store.schema import devices, observations

#: Devices per ``IN (...)`` list.
CHUNK = 5000

_INSERT_COLUMNS = (
    "id",
    "site_id",
    "ip",
    "mac",
    "serial",
    "firmware",
    "first_seen",
    "last_seen",
    "batch_id",
    *IDENTIFICATION,
)
_NOT_IDENTIFIED = (None,) * len(IDENTIFICATION)
_OBSERVATION_COLUMNS = ("device_id", "batch_id", "kind", "source", "observed_at", "payload", "size_bytes", "truncated")


def observation_payload(obs: dict[str, Any]) -> tuple[str, int, bool]:
    """An answer as stored JSON, its full size, and whether its raw text had to be cut."""
    data = orjson.dumps(obs)
    if len(data) <= OBSERVATION_MAX_BYTES:
        return data.decode(), len(data), False
    cut = {**obs, "raw": str(obs.get("raw", ""))[: OBSERVATION_MAX_BYTES // 2]}
    return orjson.dumps(cut).decode(), len(data), True


def take_device_ids(conn: Connection, count: int) -> list[int]:
    """``count`` fresh device ids, ascending.  PostgreSQL: from the table's sequence in one
    query (safe with other writers running: two uploads merged at once never share an id).
    SQLite: after the largest id, which is safe because the scan's transaction already holds
    the database's only write lock (its ``import_batches`` row was written first)."""
    if count <= 0:
        return []
    if conn.dialect.name == "postgresql":
        rows = conn.execute(
            text("SELECT nextval(pg_get_serial_sequence('devices', 'id')) FROM generate_series(1, :n)"),
            {"n": count},
        ).scalars()
        return sorted(int(v) for v in rows)
    current = conn.execute(select(func.max(devices.c.id))).scalar_one()
    start = int(current or 0) + 1
    return list(range(start, start + count))


#: A stored MAC that names no device (``normalize.mac_key``: none, all zeros, or the I/G bit of the
#: first octet set, i.e. its second hex digit odd): a scan that sees the real one fills it in.
_PLACEHOLDER_MAC = (
    "(mac IS NULL OR mac = '00:00:00:00:00:00' "
    "OR substr(mac, 2, 1) IN ('1', '3', '5', '7', '9', 'B', 'D', 'F', 'b', 'd', 'f'))"
)


class ScanWriter:
    """Buffers one scan's device writes and answers; :meth:`flush` sends them."""

    def __init__(
        self,
        conn: Connection,
        *,
        batch_id: int,
        earlier: ColumnElement[bool],
        now: dt.datetime,
        vantage: str | None,
    ) -> None:
        self.conn = conn
        self.batch_id = batch_id
        self.earlier = earlier
        self.vantage = vantage
        dialect = conn.dialect
        stamp = devices.c.first_seen.type.dialect_impl(dialect).bind_processor(dialect)
        self.now: Any = stamp(now) if stamp else now
        flag = observations.c.truncated.type.dialect_impl(dialect).bind_processor(dialect)
        self.true: Any = flag(True) if flag else True
        self.false: Any = flag(False) if flag else False
        mark = placeholders(conn, 1)
        self.refresh_sql = (
            f"UPDATE devices SET last_seen = {mark}, site_id = COALESCE(site_id, {mark}), "
            f"mac = CASE WHEN {_PLACEHOLDER_MAC} THEN COALESCE({mark}, mac) ELSE mac END, "
            f"serial = COALESCE(serial, {mark}), "
            f"firmware = COALESCE(firmware, {mark}) WHERE id = {mark}"
        )
        self.inserts: list[tuple[Any, ...]] = []
        self.refreshes: list[tuple[Any, ...]] = []
        self.matched: list[int] = []
        self.answers: list[tuple[Any, ...]] = []

    def create(
        self, device_id: int, site_id: int | None, host: ScannedHost, identified: tuple[Any, ...] | None = None
    ) -> None:
        """A host no known device matched: a new device; ``identified``: its identification
        columns (``identification.COLUMNS``) when they are known already."""
        self.inserts.append(
            (
                device_id,
                site_id,
                host.ip,
                host.mac,
                host.serial,
                host.firmware,
                self.now,
                self.now,
                self.batch_id,
                *(identified or _NOT_IDENTIFIED),
            )
        )

    def refresh(self, device_id: int, site_id: int | None, host: ScannedHost) -> None:
        """A known device answered: seen now; it learns the site the user named if it had none;
        what it says fills the columns the register left empty (and a MAC that names no device, such
        as all zeros); its earlier answers from this
        vantage go (exposure is judged on what it answers now)."""
        self.refreshes.append(
            (self.now, site_id, host.mac or None, host.serial or None, host.firmware or None, device_id)
        )
        self.matched.append(device_id)

    def payloads(self, host: ScannedHost) -> list[tuple[str, int, bool]]:
        """The host's answers as they are stored (``observation_payload``, with the vantage)."""
        vantage = self.vantage
        return [observation_payload({**obs, "vantage": vantage} if vantage else obs) for obs in host.observations]

    def answer(self, device_id: int, host: ScannedHost, payloads: list[tuple[str, int, bool]] | None = None) -> int:
        """Buffer the host's answers as observations of the device; returns how many."""
        stored = self.payloads(host) if payloads is None else payloads
        for obs, (payload, size, truncated) in zip(host.observations, stored, strict=True):
            where = f"{host.ip}:{obs.get('port', '')}{obs.get('path', '')}"
            self.answers.append(
                (
                    device_id,
                    self.batch_id,
                    str(obs.get("kind", "banner")),
                    f"scan:{where}",
                    self.now,
                    payload,
                    size,
                    self.true if truncated else self.false,
                )
            )
        return len(host.observations)

    def flush(self) -> None:
        """Write what is buffered: new devices, refreshes, deletions of earlier answers, then
        the answers themselves (their batch is never among ``earlier``, so the deletion cannot
        take them)."""
        copy_rows(self.conn, "devices", _INSERT_COLUMNS, self.inserts)
        if self.refreshes:
            self.conn.exec_driver_sql(self.refresh_sql, self.refreshes)
        matched = sorted(set(self.matched))
        for start in range(0, len(matched), CHUNK):
            self.conn.execute(
                delete(observations).where(
                    observations.c.device_id.in_(matched[start : start + CHUNK]),
                    observations.c.kind != "inventory",
                    self.earlier | observations.c.batch_id.is_(None),
                )
            )
        copy_rows(self.conn, "observations", _OBSERVATION_COLUMNS, self.answers)
        self.inserts, self.refreshes, self.matched, self.answers = [], [], [], []


def copy_rows(conn: Connection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Insert plain rows: ``COPY`` on PostgreSQL, one ``executemany`` elsewhere."""
    copy_plain(conn, table, columns, rows)
