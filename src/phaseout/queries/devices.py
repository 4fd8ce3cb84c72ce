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

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Engine,
    Integer,
    and_,
    cast,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
)
from sqlalchemy.sql.selectable import FromClause

from phaseout.errors import UsageError
from phaseout.store import search
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
    "risk": devices.c.risk,  # the assessment's, kept beside the device (store.device_risk)
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
    devices.c.risk,
    assessments.c.deadline,
    devices.c.policy_status,
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


def conditions(q: DeviceQuery, conn: Connection | None = None, *, indexed: bool = True) -> list[ColumnElement[bool]]:
    """The filters as SQL; ``conn`` lets the free-text filter use the search index."""
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
        conds.append(devices.c.policy_status == q.policy_status.lower())
    if q.parent is not None:
        conds.append(devices.c.parent_id == q.parent)
    if q.text:
        conds.append(text_condition(q.text, conn=conn, indexed=indexed))
    return conds


def text_condition(query: str, *, conn: Connection | None = None, indexed: bool = True) -> ColumnElement[bool]:
    """``query`` as a substring of any searched column or the site code, case-insensitively.

    The answer is always the plain ``LIKE`` over each column (what this filter has always meant).
    When the database holds the search index (``store.search``) and the text has a trigram, an
    indexed condition that keeps every matching row, and few others, is put in front of it so
    the database reads candidates from the index instead of every row.
    """
    pattern = like_pattern(query)
    exact = or_(*(func.lower(c).like(pattern, escape="\\") for c in (*_SEARCHED, sites.c.code)))
    if not indexed or conn is None or len(query) < search.MIN_CHARS or not search.has_index(conn):
        return exact
    if conn.dialect.name == "sqlite":
        by_site = devices.c.site_id.in_(select(sites.c.id).where(func.lower(sites.c.code).like(pattern, escape="\\")))
        fts = table(search.FTS_TABLE, column("rowid"))
        matches = select(fts.c.rowid).where(literal_column(search.FTS_TABLE).op("MATCH")(search.fts_phrase(query)))
        candidates = or_(devices.c.id.in_(matches), by_site)
    else:  # one candidate set: rows from the trigram index, plus rows of sites whose code matches
        # two conditions the planner can combine as a BitmapOr over devices: the trigram index,
        # and the matching sites' ids as one array (an InitPlan: a parameter for the site_id index)
        site_ids = (
            select(func.array_agg(sites.c.id))
            .where(func.lower(sites.c.code).like(pattern, escape="\\"))
            .scalar_subquery()
        )
        in_text: ColumnElement[bool] = literal_column(search.SEARCH_EXPR).like(pattern, escape="\\")
        squeezed = search.squeeze(query)
        if len(squeezed) >= search.MIN_CHARS:
            # the index holds the text without ':-.' (0013): ask it for the squeezed query (a
            # MAC fragment is then one word of its own), then check the real text on its rows.
            # The check is written strpos(...) <> 0, not LIKE: the planner has no statistics for
            # the text and guessed a LIKE kept 0.5 % of the index's rows (470 of 143,033 for
            # "DS-2CD"), then read all 143,033 to sort them; "<> 0" it takes as keeping nearly all.
            # The check comes first: where the planner walks ids in order (a deep page of many
            # matches), every row walked is tested, and strpos fails most rows without the
            # index text's translate(); the planner still reads the index for the LIKE.
            in_index = literal_column(search.PG_INDEX_EXPR).like(like_pattern(squeezed), escape="\\")
            in_text = and_(func.strpos(literal_column(search.SEARCH_EXPR), query.lower()) != 0, in_index)
        candidates = or_(
            in_text,
            devices.c.site_id == func.any(cast(site_ids, ARRAY(Integer))),  # an array, not ANY (subquery)
        )
        if "\x1f" not in query:
            # exact already: a match inside the joined text cannot span the separator that the
            # text lacks, and lower() of the joined text is the columns' lower() joined (the
            # separator is not a cased character).  Skipping the per-column recheck halves a
            # search's work over 100,000 matches.
            return candidates
    return and_(candidates, exact)


def _from(q: DeviceQuery, *, counting: bool, sort_key: Any = None) -> FromClause:
    """The join, reduced to what the filters (and ``sort_key``) read when counting or choosing
    a page's ids (outer joins over 150,000 rows cost ~100 ms)."""
    joined: FromClause = devices
    if not counting or q.site or q.text or (sort_key is not None and sort_key.table is sites):
        joined = joined.outerjoin(sites, sites.c.id == devices.c.site_id)
    if not counting:  # the deadline; risk and policy status are on devices (store.device_risk)
        joined = joined.outerjoin(assessments, assessments.c.device_id == devices.c.id)
    return joined


def count(conn: Connection, q: DeviceQuery, *, indexed: bool = True) -> int:
    query = select(func.count()).select_from(_from(q, counting=True))
    conds = conditions(q, conn, indexed=indexed)
    if conds:
        query = query.where(and_(*conds))
    return int(conn.execute(query).scalar() or 0)


def _select(
    q: DeviceQuery,
    sort: str,
    descending: bool,
    conn: Connection | None,
    indexed: bool = True,
    page: tuple[int, int] | None = None,
    reverse: bool = False,
    few: bool = False,
) -> Any:
    """The listing's query; with ``page`` (size, offset), one page chosen in two steps: the ids
    over the narrow join the filters and the sort key need, then every column for those ids only.
    A deep page (offset 950,000 of 1,000,000) then walks ids, not 950,000 joined wide rows.

    The order is (key, id) ascending, or descending its exact reverse (ties newest first), so
    one index on (key, id) serves both directions and any page from either end (0013).
    ``reverse`` orders by the exact reverse of that: both columns flipped, which also flips
    where NULLs go on both dialects, so a page counted from the end is the same rows reversed."""
    order = _order(sort, descending != reverse)
    conds = conditions(q, conn, indexed=indexed)
    query = select(*COLUMNS).select_from(_from(q, counting=False))
    if page is None:
        return query.where(and_(*conds)).order_by(*order) if conds else query.order_by(*order)
    chosen = page_ids(q, sort, descending, conn, indexed, page, reverse, few=few)
    return query.where(devices.c.id.in_(chosen)).order_by(*order)


def _order(sort: str, flip: bool, *, unindexed: bool = False) -> tuple[Any, Any]:
    """(key, id) or its exact reverse: one (key, id) index serves both.  ``unindexed`` writes
    the same order as expressions no index holds (``coalesce(x, x)`` is ``x``, NULLs included),
    so the database cannot choose to walk an index in that order."""
    if sort not in SORT:
        raise UsageError(f"cannot sort devices by {sort!r}", hint=f"choose one of: {', '.join(SORT)}")
    key: Any = SORT[sort]
    tie: Any = devices.c.id
    if unindexed:
        key, tie = func.coalesce(key, key), func.coalesce(tie, tie)
    return (key.desc(), tie.desc()) if flip else (key.asc(), tie.asc())


#: At most this many matches: read them by the filters' indexes and sort them, never walk a
#: sort index.  PostgreSQL walked all 1,000,000 ids for one match of ``sn000424242`` (8.5 s),
#: and 550,000 for the 9,301 of ``28:57:be:0a``, which sit together in one range of ids
#: (7.7 s; read by the index and sorted: 0.3 s).
FEW = 20_000


def page_ids(
    q: DeviceQuery,
    sort: str,
    descending: bool,
    conn: Connection | None,
    indexed: bool,
    page: tuple[int, int],
    reverse: bool = False,
    few: bool = False,
) -> Any:
    """The first step of a page: its ids, over only the tables the filters and the sort read.

    ``few`` (the known total is at most ``FEW``): sort the matches the filters' indexes find,
    in an order no index holds; otherwise the planner chooses."""
    order = _order(sort, descending != reverse, unindexed=few)
    ids = select(devices.c.id).select_from(_from(q, counting=True, sort_key=SORT[sort]))
    conds = conditions(q, conn, indexed=indexed)
    if conds:
        ids = ids.where(and_(*conds))
    return ids.order_by(*order).limit(page[0]).offset(page[1])


def page(
    conn: Connection,
    q: DeviceQuery,
    *,
    sort: str = "id",
    descending: bool = False,
    size: int = 50,
    offset: int = 0,
    indexed: bool = True,
    total: int | None = None,
) -> list[dict[str, Any]]:
    """One page of devices, dates as ISO strings (for pages and JSON).  ``indexed=False`` reads
    the free-text filter without the search index (benchmarks' baseline, tests' reference).

    ``total``, the exact number of rows the filters match (the caller shows it anyway), lets a
    page past the middle be read from the end: ``OFFSET`` walks every row before the page, so
    page 19,000 of 20,000 walked 950,000 ids; read in the reverse order it walks 50,000, and the
    rows are the same, put back in order.  Without ``total`` pages are read from the start.  A
    write between the count and this read shifts such a page by the rows written, as a delete
    shifts any ``OFFSET`` page; the next request counts again under the new generation."""
    if total is not None and offset >= total:
        return []
    # a few matches are read by the filters' indexes and sorted: PostgreSQL, guessing 100
    # matches of a text that had one, walked all 1,000,000 ids in order to find it (8.5 s)
    few = total is not None and total <= FEW
    if total is not None and not few and offset > total - offset - size:
        from_end = max(total - offset - size, 0)
        shown = min(size, total - offset)
        query = _select(q, sort, descending, conn, indexed, page=(shown, from_end), reverse=True)
        return [plain(dict(r)) for r in reversed(conn.execute(query).mappings().all())]
    query = _select(q, sort, descending, conn, indexed, page=(size, offset), few=few)
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
    with engine.connect() as conn:
        query = _select(q or DeviceQuery(), sort, descending, conn)
        if limit is not None:
            query = query.limit(limit)
        if offset:
            query = query.offset(offset)
        for row in conn.execute(query.execution_options(yield_per=5000)).mappings():
            yield dict(row)


def count_devices(engine: Engine, q: DeviceQuery | None = None) -> int:
    with engine.connect() as conn:
        return count(conn, q or DeviceQuery())


def plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.date | dt.datetime) else v) for k, v in row.items()}
