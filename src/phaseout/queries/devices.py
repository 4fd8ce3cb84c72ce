"""The one device listing: ``phaseout devices``, the dashboard's device table, the API's
``/devices``, exports and reports all read devices here, with the same filters.

Filters are named for what they read (issue 12: the CLI's ``--brand`` read the spreadsheet's
value while the API's ``brand`` read the identified label, so the same question got two answers):

* ``vendor``, ``label``, ``type`` — what identification concluded (a Lorex unit: vendor
  ``dahua``, label ``lorex``; a row typed "Dome": type ``camera``);
* ``reported_maker``, ``reported_brand``, ``reported_type`` — what the source (a spreadsheet
  row, an export) wrote, compared case-insensitively.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, func, or_, select
from sqlalchemy.sql.selectable import FromClause

from phaseout.errors import UsageError
from phaseout.store.schema import assessments, devices, sites


@dataclass(slots=True)
class DeviceQuery:
    site: str | None = None
    vendor: str | None = None
    label: str | None = None
    type: str | None = None
    reported_maker: str | None = None
    reported_brand: str | None = None
    reported_type: str | None = None
    status: str | None = None
    policy_status: str | None = None
    text: str | None = None
    parent: int | None = None  # devices behind this recorder


#: Sort keys, the same for every front end.
SORT: dict[str, Any] = {
    "id": devices.c.id,
    "site": sites.c.code,
    "ip": devices.c.ip,
    "mac": devices.c.mac,
    "vendor": devices.c.vendor,
    "label": devices.c.label,
    "brand": devices.c.label,  # the API's older name for the label
    "model": devices.c.model,
    "type": devices.c.id_type,
    "maker": devices.c.manufacturer,
    "status": devices.c.status,
    "confidence": devices.c.confidence,
    "risk": assessments.c.risk,
    "last_seen": devices.c.last_seen,
}

COLUMNS = (
    devices.c.id,
    sites.c.code.label("site"),
    devices.c.ip,
    devices.c.mac,
    devices.c.hostname,
    devices.c.serial,
    devices.c.asset_id,
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
    devices.c.parent_id,
    assessments.c.risk,
    assessments.c.deadline,
    assessments.c.policy_status,
)

_SEARCHED = (
    devices.c.model,
    devices.c.serial,
    devices.c.mac,
    devices.c.ip,
    devices.c.hostname,
    devices.c.description,
    devices.c.manufacturer,
    devices.c.brand,
    devices.c.asset_id,
    devices.c.id_model,
    devices.c.label,
)


def like_pattern(text: str) -> str:
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def conditions(q: DeviceQuery) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if q.site:
        conds.append(func.lower(sites.c.code) == q.site.lower())
    if q.vendor:
        conds.append(devices.c.vendor == q.vendor.lower())
    if q.label:
        conds.append(func.lower(devices.c.label) == q.label.lower())
    if q.type:
        conds.append(devices.c.id_type == q.type.lower())
    if q.reported_maker:
        conds.append(func.lower(devices.c.manufacturer) == q.reported_maker.lower())
    if q.reported_brand:
        conds.append(func.lower(devices.c.brand) == q.reported_brand.lower())
    if q.reported_type:
        conds.append(devices.c.device_type == q.reported_type.lower())
    if q.status:
        conds.append(devices.c.status == q.status.lower())
    if q.policy_status:
        conds.append(assessments.c.policy_status == q.policy_status.lower())
    if q.parent is not None:
        conds.append(devices.c.parent_id == q.parent)
    if q.text:
        pattern = like_pattern(q.text)
        conds.append(or_(*(func.lower(c).like(pattern, escape="\\") for c in (*_SEARCHED, sites.c.code))))
    return conds


def _from(q: DeviceQuery, *, counting: bool) -> FromClause:
    """The join, reduced to what the filters read when counting (outer joins over 150,000 rows
    cost ~100 ms)."""
    joined: FromClause = devices
    if not counting or q.site or q.text:
        joined = joined.outerjoin(sites, sites.c.id == devices.c.site_id)
    if not counting or q.policy_status:
        joined = joined.outerjoin(assessments, assessments.c.device_id == devices.c.id)
    return joined


def count(conn: Connection, q: DeviceQuery) -> int:
    query = select(func.count()).select_from(_from(q, counting=True))
    conds = conditions(q)
    if conds:
        query = query.where(and_(*conds))
    return int(conn.execute(query).scalar() or 0)


def _select(q: DeviceQuery, sort: str, descending: bool) -> Any:
    if sort not in SORT:
        raise UsageError(f"cannot sort devices by {sort!r}", hint=f"choose one of: {', '.join(SORT)}")
    key = SORT[sort]
    query = select(*COLUMNS).select_from(_from(q, counting=False))
    conds = conditions(q)
    if conds:
        query = query.where(and_(*conds))
    return query.order_by(key.desc() if descending else key.asc(), devices.c.id)


def page(
    conn: Connection, q: DeviceQuery, *, sort: str = "id", descending: bool = False, size: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    """One page of devices, dates as ISO strings (for pages and JSON)."""
    query = _select(q, sort, descending).limit(size).offset(offset)
    return [plain(dict(r)) for r in conn.execute(query).mappings()]


def iter_devices(
    engine: Engine,
    q: DeviceQuery | None = None,
    *,
    sort: str = "id",
    descending: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> Iterator[dict[str, Any]]:
    """Devices as plain dicts, streamed (exports of 150,000 rows never build one list)."""
    query = _select(q or DeviceQuery(), sort, descending)
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    with engine.connect() as conn:
        for row in conn.execute(query.execution_options(yield_per=5000)).mappings():
            yield dict(row)


def count_devices(engine: Engine, q: DeviceQuery | None = None) -> int:
    with engine.connect() as conn:
        return count(conn, q or DeviceQuery())


def plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.date | dt.datetime) else v) for k, v in row.items()}
