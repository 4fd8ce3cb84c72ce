"""The :class:`Store` object: an engine plus the read queries every front end needs.

Writes that must be atomic over many rows (imports) live in :mod:`phaseout.app.imports`
and take the store's engine; everything here is a short read or a single-row write.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, and_, func, or_, select
from sqlalchemy.exc import SQLAlchemyError

from phaseout.errors import StoreError, UsageError
from phaseout.store import migrate
from phaseout.store.engine import check_connection, create_store_engine, resolve_url
from phaseout.store.schema import assessments, devices, evidence, import_batches, observations, sites


@dataclass(slots=True)
class DeviceFilter:
    """What ``phaseout devices`` (and the API, later) can filter on.  Text filters are
    case-insensitive; ``maker`` and ``brand`` match the reported values exactly, ignoring case."""

    site: str | None = None
    maker: str | None = None
    brand: str | None = None
    device_type: str | None = None
    status: str | None = None
    text: str | None = None
    vendor: str | None = None  # identified maker (hikvision, dahua, axis..., unknown)


#: Columns ``phaseout devices --sort`` accepts, mapped to SQL expressions.
SORTABLE = {
    "id": devices.c.id,
    "site": sites.c.code,
    "ip": devices.c.ip,
    "mac": devices.c.mac,
    "maker": devices.c.manufacturer,
    "brand": devices.c.brand,
    "model": devices.c.model,
    "type": devices.c.device_type,
    "status": devices.c.status,
    "last_seen": devices.c.last_seen,
    "vendor": devices.c.vendor,
    "confidence": devices.c.confidence,
}

DEVICE_COLUMNS = (
    devices.c.id,
    sites.c.code.label("site"),
    devices.c.ip,
    devices.c.mac,
    devices.c.hostname,
    devices.c.serial,
    devices.c.manufacturer,
    devices.c.brand,
    devices.c.model,
    devices.c.firmware,
    devices.c.description,
    devices.c.device_type,
    devices.c.status,
    devices.c.first_seen,
    devices.c.last_seen,
    devices.c.vendor,
    devices.c.label,
    devices.c.relation,
    devices.c.id_model,
    devices.c.id_type,
    devices.c.form_factor,
    devices.c.megapixels,
    devices.c.confidence,
)


class Store:
    """A migrated database.  Use :meth:`open`; close with :meth:`close` or ``with``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, db: str | None = None, *, upgrade: bool = True) -> Store:
        """Open (creating if needed) the database named by ``db`` / ``$PHASEOUT_DB`` / the
        default path, and bring its schema up to date."""
        url = resolve_url(db)
        engine = create_store_engine(url)
        check_connection(engine)
        if upgrade:
            try:
                migrate.upgrade(engine)
            except SQLAlchemyError as exc:
                engine.dispose()
                raise StoreError(
                    f"cannot bring the database schema up to date: {exc}",
                    hint="is this a phaseout database? Check --db / PHASEOUT_DB",
                ) from exc
        return cls(engine)

    @property
    def url_for_display(self) -> str:
        """A file path for SQLite (what ``--db`` takes), the URL without password otherwise."""
        url = self.engine.url
        if url.get_backend_name() == "sqlite" and url.database:
            return url.database
        return url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- reads -----------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Row counts of every table: a quick health view and a test oracle."""
        with self.engine.connect() as conn:
            return {
                t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in (sites, devices, observations, import_batches, evidence, assessments)
            }

    def _device_conditions(self, flt: DeviceFilter) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = []
        if flt.site:
            conds.append(func.lower(sites.c.code) == flt.site.lower())
        if flt.maker:
            conds.append(func.lower(devices.c.manufacturer) == flt.maker.lower())
        if flt.brand:
            conds.append(func.lower(devices.c.brand) == flt.brand.lower())
        if flt.device_type:
            conds.append(devices.c.device_type == flt.device_type.lower())
        if flt.status:
            conds.append(devices.c.status == flt.status.lower())
        if flt.vendor:
            conds.append(devices.c.vendor == flt.vendor.lower())
        if flt.text:
            pattern = f"%{_escape_like(flt.text.lower())}%"
            searchable = (
                devices.c.model,
                devices.c.serial,
                devices.c.mac,
                devices.c.ip,
                devices.c.hostname,
                devices.c.description,
                devices.c.manufacturer,
                devices.c.brand,
            )
            conds.append(or_(*(func.lower(c).like(pattern, escape="\\") for c in searchable)))
        return conds

    def _device_select(self, flt: DeviceFilter) -> Select[Any]:
        query = select(*DEVICE_COLUMNS).select_from(devices.outerjoin(sites, devices.c.site_id == sites.c.id))
        conds = self._device_conditions(flt)
        return query.where(and_(*conds)) if conds else query

    def count_devices(self, flt: DeviceFilter | None = None) -> int:
        flt = flt or DeviceFilter()
        query = select(func.count()).select_from(devices.outerjoin(sites, devices.c.site_id == sites.c.id))
        conds = self._device_conditions(flt)
        if conds:
            query = query.where(and_(*conds))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def iter_devices(
        self,
        flt: DeviceFilter | None = None,
        *,
        sort: str = "id",
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> Iterator[dict[str, Any]]:
        """Devices matching ``flt`` as plain dicts, streamed (exports of 150,000 rows must not
        build one big list)."""
        if sort not in SORTABLE:
            raise UsageError(f"cannot sort by {sort!r}", hint=f"choose one of: {', '.join(SORTABLE)}")
        key = SORTABLE[sort]
        query = self._device_select(flt or DeviceFilter()).order_by(
            key.desc() if descending else key.asc(), devices.c.id
        )
        if limit is not None:
            query = query.limit(limit)
        if offset:
            query = query.offset(offset)
        with self.engine.connect() as conn:
            result = conn.execute(query.execution_options(yield_per=5000))
            for row in result.mappings():
                yield dict(row)

    def vendor_counts(self) -> dict[str, int]:
        """Devices per identified vendor (``None`` = not identified yet)."""
        query = select(devices.c.vendor, func.count()).group_by(devices.c.vendor)
        with self.engine.connect() as conn:
            return {v or "(not identified)": int(n) for v, n in conn.execute(query)}

    def device_evidence(self, device_id: int) -> list[dict[str, Any]]:
        """The evidence behind a device's identification."""
        from phaseout.store.identification import evidence_of

        with self.engine.connect() as conn:
            key = conn.execute(select(devices.c.evidence_key).where(devices.c.id == device_id)).scalar()
            return evidence_of(conn, key)

    def device_observations(self, device_id: int) -> list[dict[str, Any]]:
        query = select(observations).where(observations.c.device_id == device_id).order_by(observations.c.id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def list_sites(self) -> list[dict[str, Any]]:
        count = (
            select(func.count())
            .select_from(devices)
            .where(devices.c.site_id == sites.c.id)
            .scalar_subquery()
            .label("devices")
        )
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(sites, count).order_by(sites.c.code)).mappings()]

    def list_batches(self, limit: int = 50) -> list[dict[str, Any]]:
        query = select(import_batches).order_by(import_batches.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def table_rows(self, names: Sequence[str] | None = None) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the named tables, ordered by id: lets tests prove that a failed or
        killed import changed nothing at all."""
        tables = {t.name: t for t in (sites, devices, observations, import_batches, evidence)}
        with self.engine.connect() as conn:
            return {
                name: [tuple(r) for r in conn.execute(select(tables[name]).order_by(*tables[name].primary_key))]
                for name in (names or tables)
            }


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
