"""What the dashboard and the REST API read: one function per view, plain dicts out.

Every list is paged in SQL (150,000 devices never leave the database at once) and sorted by a
whitelisted column.  Aggregates over the whole estate (overview, site table, findings) are
cached in-process against a generation key — the newest import batch, assessment and plan —
so they are computed once per change, not once per request.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from sqlalchemy import Connection, case, func, select, text

from phaseout.errors import UsageError
from phaseout.queries.devices import COLUMNS, SORT, DeviceQuery, count
from phaseout.queries.devices import page as device_page
from phaseout.queries.recorders import places
from phaseout.store import aggregates
from phaseout.store.generation import current
from phaseout.store.identification import evidence_of
from phaseout.store.policies import covered_makers_in_use, packs_in_use
from phaseout.store.schema import assessments, devices, import_batches, observations, plan_visits, plans, sites

T = TypeVar("T")
MAX_PAGE = 500
RAW_SHOWN = 16 * 1024  # characters of a raw observation shown; the rest is summarised


@dataclass(frozen=True, slots=True)
class Page:
    number: int = 1
    size: int = 50

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


def check_page(number: int, size: int) -> Page:
    if number < 1 or size < 1 or size > MAX_PAGE:
        raise UsageError(f"page must be >= 1 and size between 1 and {MAX_PAGE}")
    return Page(number, size)


# -- the generation cache ---------------------------------------------------------------------

_cache: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def generation(conn: Connection) -> str:
    """The store's generation: every writer changes it in its own transaction (store.generation)."""
    return current(conn)


_computing: dict[tuple[str, str], threading.Event] = {}


def peek(conn: Connection, name: str) -> Any:
    """``name``'s cached value for the current generation, or None; never computes it."""
    key = (name, generation(conn))
    with _lock:
        return _cache.get(key)


def cached(conn: Connection, name: str, compute: Callable[[], T], *, share: bool = True) -> T:
    """``compute()``'s value for the store's current generation, computed once per process,
    and once per generation across processes when the value is plain JSON (``store.aggregates``:
    the other web workers, and a restarted one, read it from the database).

    One computation at a time per key: a request arriving while the warmer (or another request)
    computes the same aggregate waits for that answer instead of starting a second scan of the
    estate beside it (at 1,000,000 devices the overview reads every assessment, and two or
    three copies at once on a cold worker made its first page take 38 s).

    ``share=False`` keeps the value in this process only: for values derived cheaply from a
    shared one (an order of the site table), where storing them would cost more than it saves."""
    key = (name, generation(conn))
    while True:
        with _lock:
            if key in _cache:
                return _cache[key]  # type: ignore[no-any-return]
            running = _computing.get(key)
            if running is None:
                running = _computing[key] = threading.Event()
                break
        running.wait()  # the other computation finished (or failed: then this one computes)
    try:
        value = aggregates.shared(conn.engine, name, key[1], compute) if share else compute()
        with _lock:
            for old in [k for k in _cache if k[0] == name]:
                del _cache[old]
            _cache[key] = value
        return value
    finally:
        with _lock:
            del _computing[key]
        running.set()


# -- overview ---------------------------------------------------------------------------------


def _covered_makers(conn: Connection) -> list[str]:
    """Makers the packs in use cover, as the application recorded them when they were chosen."""
    return covered_makers_in_use(conn)


def overview(conn: Connection) -> dict[str, Any]:
    return cached(conn, "overview", lambda: _overview(conn))


def vendors_in_use(conn: Connection) -> list[str]:
    """The vendors of active devices, most devices first: the overview's ``by_vendor`` keys, for
    the device table's filter.  Cached on its own, so a worker's first device page counts one
    column (~0.3 s at 1,000,000) rather than waiting for the whole overview (tens of seconds)."""
    if (ready := peek(conn, "overview")) is not None:
        return [r["key"] for r in ready["by_vendor"]]
    return cached(conn, "vendors", lambda: [r["key"] for r in _counts(conn, devices.c.vendor)])


def _counts(conn: Connection, column: Any, limit: int | None = None) -> list[dict[str, Any]]:
    query = (
        select(column, func.count().label("n"))
        .where(devices.c.status == "active")
        .group_by(column)
        .order_by(func.count().desc())
    )
    if limit:
        query = query.limit(limit)
    return [{"key": k if k is not None else "(unknown)", "devices": int(n)} for k, n in conn.execute(query)]


def _overview(conn: Connection) -> dict[str, Any]:
    covered = _covered_makers(conn)
    total = conn.execute(select(func.count()).select_from(devices)).scalar() or 0
    by_status = {s: int(n) for s, n in conn.execute(select(devices.c.status, func.count()).group_by(devices.c.status))}
    remaining = [
        {"sensitivity": s or "(no site)", "devices": int(n)}
        for s, n in conn.execute(
            select(sites.c.sensitivity, func.count())
            .select_from(devices.outerjoin(sites, sites.c.id == devices.c.site_id))
            .where(devices.c.status == "active", devices.c.vendor.in_(covered))
            .group_by(sites.c.sensitivity)
        )
    ]
    band = case(
        (assessments.c.risk >= 100, "critical (100+)"),
        (assessments.c.risk >= 50, "high (50-99)"),
        (assessments.c.risk >= 20, "medium (20-49)"),
        else_="low (<20)",
    )
    risk_bands = [
        {"band": b, "devices": int(n), "risk": float(r or 0)}
        for b, n, r in conn.execute(
            select(band, func.count(), func.sum(assessments.c.risk))
            .group_by(band)
            .order_by(func.min(assessments.c.risk).desc())
        )
    ]
    today = dt.date.today()
    soon = today + dt.timedelta(days=180)
    at_risk = [
        {
            "site": code,
            "sensitivity": sensitivity,
            "deadline": deadline.isoformat() if deadline else None,
            "devices": int(n),
            "risk": round(float(risk or 0), 1),
            "overdue": bool(deadline and deadline < today),
        }
        for code, sensitivity, deadline, n, risk in conn.execute(
            select(
                sites.c.code,
                sites.c.sensitivity,
                func.min(assessments.c.deadline),
                func.count(),
                func.sum(assessments.c.risk),
            )
            .select_from(
                assessments.join(devices, devices.c.id == assessments.c.device_id).join(
                    sites, sites.c.id == devices.c.site_id
                )
            )
            .where(devices.c.status == "active", assessments.c.deadline.is_not(None), assessments.c.deadline <= soon)
            .group_by(sites.c.code, sites.c.sensitivity)
            .order_by(func.min(assessments.c.deadline), func.sum(assessments.c.risk).desc())
            .limit(25)
        )
    ]
    return {
        "devices": int(total),
        "by_status": by_status,
        "by_vendor": _counts(conn, devices.c.vendor),
        "by_brand": _counts(conn, devices.c.label, 12),
        "by_type": _counts(conn, func.coalesce(devices.c.id_type, devices.c.device_type)),
        "covered_makers": covered,
        "packs_in_use": packs_in_use(conn),
        "covered_remaining": remaining,
        "risk_bands": risk_bands,
        "risk_total": round(sum(b["risk"] for b in risk_bands), 1),
        "deadlines_at_risk": at_risk,
        "sites": int(conn.execute(select(func.count()).select_from(sites)).scalar() or 0),
    }


# -- sites ------------------------------------------------------------------------------------

SITE_SORT = ("code", "name", "region", "sensitivity", "devices", "covered", "risk", "deadline", "period")


def _site_rows(conn: Connection) -> list[dict[str, Any]]:
    covered = _covered_makers(conn)
    agg = (
        select(
            devices.c.site_id,
            func.count().label("devices"),
            func.sum(case((devices.c.vendor.in_(covered), 1), else_=0)).label("covered"),
            func.coalesce(func.sum(assessments.c.risk), 0).label("risk"),
            func.min(assessments.c.deadline).label("deadline"),
        )
        .select_from(devices.outerjoin(assessments, assessments.c.device_id == devices.c.id))
        .where(devices.c.status == "active")
        .group_by(devices.c.site_id)
        .subquery()
    )
    periods = _planned_periods(conn)
    out = []
    for row in conn.execute(
        select(sites, agg.c.devices, agg.c.covered, agg.c.risk, agg.c.deadline).select_from(
            sites.outerjoin(agg, agg.c.site_id == sites.c.id)
        )
    ).mappings():
        out.append(
            {
                "code": row["code"],
                "name": row["name"],
                "region": row["region"],
                "sensitivity": row["sensitivity"],
                "latitude": row["latitude"],
                "longitude": row["longitude"],
                "next_maintenance": row["next_maintenance"].isoformat() if row["next_maintenance"] else None,
                "devices": int(row["devices"] or 0),
                "covered": int(row["covered"] or 0),
                "risk": round(float(row["risk"] or 0), 1),
                "deadline": row["deadline"].isoformat() if row["deadline"] else None,
                "period": periods.get(row["code"]),
            }
        )
    return out


def all_sites(conn: Connection) -> list[dict[str, Any]]:
    return cached(conn, "sites", lambda: _site_rows(conn))


def list_sites(
    conn: Connection,
    *,
    q: str | None = None,
    region: str | None = None,
    sensitivity: str | None = None,
    sort: str = "risk",
    descending: bool = True,
    page: Page | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    if sort not in SITE_SORT:
        raise UsageError(f"cannot sort sites by {sort!r}", hint=f"choose one of: {', '.join(SITE_SORT)}")
    rows = sites_in_order(conn, sort, descending)
    if q:
        needle = q.lower()
        rows = [r for r in rows if needle in r["code"].lower() or needle in (r["name"] or "").lower()]
    if region:
        rows = [r for r in rows if (r["region"] or "").lower() == region.lower()]
    if sensitivity:
        rows = [r for r in rows if r["sensitivity"] == sensitivity]
    page = page or Page()
    return len(rows), rows[page.offset : page.offset + page.size]


def sites_in_order(conn: Connection, sort: str, descending: bool) -> list[dict[str, Any]]:
    """The site table sorted by ``sort`` (empty values last either way), once per generation
    and order in this process: sorting 30,000 sites on every request cost 40-60 ms of a core,
    and with two workers on two cores the site lists' p95 reached 860 ms at 1,000,000 devices.
    Filters keep this order, so a filtered page is a pass over the sorted list."""
    if sort not in SITE_SORT:
        raise UsageError(f"cannot sort sites by {sort!r}", hint=f"choose one of: {', '.join(SITE_SORT)}")

    return cached(conn, _order_key(sort, descending), lambda: _in_order(all_sites(conn), sort, descending), share=False)


def _order_key(sort: str, descending: bool) -> str:
    return f"sites-by:{sort}:{'desc' if descending else 'asc'}"


def _in_order(rows: list[dict[str, Any]], sort: str, descending: bool) -> list[dict[str, Any]]:
    present = sorted((r for r in rows if r[sort] is not None), key=lambda r: r[sort], reverse=descending)
    return present + [r for r in rows if r[sort] is None]


def site_map(conn: Connection) -> dict[str, Any]:
    """What the site page's map and region filter need, once per generation in this process:
    the points (sites with coordinates) and the regions in use."""

    def build() -> dict[str, Any]:
        every = all_sites(conn)
        points = [
            {
                "code": s["code"],
                "lat": s["latitude"],
                "lon": s["longitude"],
                "risk": s["risk"],
                "covered": s["covered"],
                "sensitivity": s["sensitivity"],
            }
            for s in every
            if s["latitude"] is not None and s["longitude"] is not None
        ]
        return {"points": points, "regions": sorted({s["region"] for s in every if s["region"]})}

    return cached(conn, "site-map", build, share=False)


def _latest_plan_id(conn: Connection) -> int | None:
    return conn.execute(select(func.max(plans.c.id))).scalar()


def _planned_periods(conn: Connection) -> dict[str, str]:
    """Site -> the first period of its work in the newest plan."""
    plan_id = _latest_plan_id(conn)
    if plan_id is None:
        return {}
    out: dict[str, str] = {}
    for site, period in conn.execute(
        select(plan_visits.c.site, plan_visits.c.period)
        .where(plan_visits.c.plan_id == plan_id, plan_visits.c.period.is_not(None))
        .order_by(plan_visits.c.period_index.desc())
    ):
        out[site] = period  # the earliest period is written last
    return out


def site_detail(conn: Connection, code: str) -> dict[str, Any] | None:
    row = conn.execute(select(sites).where(sites.c.code == code)).mappings().first()
    if row is None:
        return None
    site = {k: (v.isoformat() if isinstance(v, dt.date | dt.datetime) else v) for k, v in row.items()}
    summary = next((s for s in all_sites(conn) if s["code"] == code), None)
    _, site_devices = list_devices(conn, site=code, sort="risk", descending=True, page=Page(1, MAX_PAGE))
    findings: Counter[tuple[str, str, str]] = Counter()
    for (body,) in conn.execute(
        select(assessments.c.findings)
        .select_from(assessments.join(devices, devices.c.id == assessments.c.device_id))
        .where(devices.c.site_id == row["id"], devices.c.status == "active")
    ):
        for f in orjson.loads(body):
            if f["status"] not in ("fixed", "applies"):
                findings[(f["kind"], f["ref"], f["status"])] += 1
    return {
        "site": site,
        "summary": summary,
        "devices": site_devices,
        "findings": [{"kind": k, "ref": r, "status": s, "devices": n} for (k, r, s), n in findings.most_common(50)],
        "plan": site_plan(conn, code),
    }


_cameras_cache: dict[int, dict[str, int]] = {}


def _cameras_by_site(conn: Connection, plan_id: int) -> dict[str, int]:
    """A stored plan's cameras per site, parsed once per plan (plans never change once stored;
    its ``details`` are 18 MB of JSON at 30,000 sites, which each site page used to parse)."""
    with _lock:
        if plan_id in _cameras_cache:
            return _cameras_cache[plan_id]
    details = conn.execute(select(plans.c.details).where(plans.c.id == plan_id)).scalar_one()
    cameras = {str(k): int(v) for k, v in orjson.loads(details).get("cameras_by_site", {}).items()}
    with _lock:
        if len(_cameras_cache) > 8:
            _cameras_cache.clear()
        _cameras_cache[plan_id] = cameras
    return cameras


def site_plan(conn: Connection, code: str) -> dict[str, Any] | None:
    """The newest plan's visits for the site, and its runbook."""

    latest = conn.execute(
        select(plans.c.id, plans.c.name, plans.c.settings).order_by(plans.c.id.desc()).limit(1)
    ).first()
    if latest is None:
        return None
    rows = conn.execute(
        select(plan_visits.c.package, plan_visits.c.period, plan_visits.c.devices, plan_visits.c.swaps).where(
            plan_visits.c.plan_id == latest.id, plan_visits.c.site == code
        )
    ).all()
    if not rows:
        return {"plan": latest.id, "name": latest.name, "visits": [], "runbook": []}
    swaps = {r.package: orjson.loads(r.swaps) for r in rows}
    return {
        "plan": latest.id,
        "name": latest.name,
        "visits": [{"id": r.package, "period": r.period, "devices": r.devices} for r in sorted(rows)],
        # what the runbook is made from (the application turns it into steps: plan.runbook)
        "swaps": swaps,
        # where each swapped device sits in the recorder tree (runbook channels: queries.recorders)
        "places": places(conn, [int(x["device"]) for v in swaps.values() for x in v]),
        "periods": {r.package: r.period for r in rows},
        "cameras": int(_cameras_by_site(conn, latest.id).get(code, 0)),
        "max_offline_share": float(json.loads(latest.settings).get("max_offline_share", 0.25)),
    }


# -- devices ----------------------------------------------------------------------------------


def list_devices(
    conn: Connection,
    *,
    vendor: str | None = None,
    brand: str | None = None,
    device_type: str | None = None,
    site: str | None = None,
    status: str | None = None,
    policy_status: str | None = None,
    q: str | None = None,
    reported_maker: str | None = None,
    reported_brand: str | None = None,
    reported_type: str | None = None,
    sort: str = "id",
    descending: bool = False,
    page: Page | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """The dashboard's and the API's page of devices: ``brand`` and ``device_type`` are the
    identified label and type (as ``phaseout devices --label/--type``), the ``reported_*``
    filters what the source wrote (queries.devices)."""
    query = DeviceQuery(
        site=site,
        vendor=vendor,
        label=brand,
        type=device_type,
        reported_maker=reported_maker,
        reported_brand=reported_brand,
        reported_type=reported_type,
        status=status,
        policy_status=policy_status,
        text=q,
    )
    page = page or Page()
    total = _count(conn, query)  # first: a page past the middle is read from the end (queries.devices.page)
    rows = device_page(conn, query, sort=sort, descending=descending, size=page.size, offset=page.offset, total=total)
    return total, rows


_counts_cache: dict[tuple[Any, ...], int] = {}
_text_counts: dict[tuple[Any, ...], int] = {}
_counts_generation = [""]
#: Distinct filter combinations remembered per generation (a site filter alone has 30,000).
MAX_CACHED_COUNTS = 4096
#: Free-text totals remembered per generation, oldest forgotten first.
MAX_CACHED_TEXT_COUNTS = 256


def _count(conn: Connection, query: DeviceQuery) -> int:
    """A listing's total, exact, remembered against the store's generation: every page shows
    its total, and counting 1,000,000 devices (or the 285,000 of one vendor) took 0.4-0.8 s per
    page at 1,000,000.  Free-text totals are kept apart, the newest 256 only (any text is a new
    key): someone paging through a search's 143,033 matches (``DS-2CD``, ~1 s to count) pays
    for the count once, while a new text is still counted; they never push out the filters'.
    A text's total is also shared with the other workers through the database, so the text is
    counted once per generation, not once per worker."""
    now, key = generation(conn), dataclasses.astuple(query)
    store = _text_counts if query.text else _counts_cache
    with _lock:
        if _counts_generation[0] == now and key in store:
            return store[key]
    if query.text:  # another worker may have counted this text already (store.aggregates)
        digest = hashlib.sha1(repr(key).encode(), usedforsecurity=False).hexdigest()
        total = aggregates.shared(conn.engine, f"count:{digest}", now, lambda: count(conn, query))
    else:
        total = count(conn, query)
    with _lock:
        if _counts_generation[0] != now:
            _counts_cache.clear()
            _text_counts.clear()
            _counts_generation[0] = now
        if query.text:
            while len(_text_counts) >= MAX_CACHED_TEXT_COUNTS:
                del _text_counts[next(iter(_text_counts))]  # dicts keep insertion order
        elif len(_counts_cache) >= MAX_CACHED_COUNTS:
            _counts_cache.clear()
        store[key] = total
    return total


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.date | dt.datetime) else v) for k, v in row.items()}


def device_detail(conn: Connection, device_id: int) -> dict[str, Any] | None:
    _, rows = list_devices_by_id(conn, device_id)
    if not rows:
        return None
    device = rows[0]
    key = conn.execute(select(devices.c.evidence_key).where(devices.c.id == device_id)).scalar()
    shown = []
    for obs in conn.execute(
        select(observations).where(observations.c.device_id == device_id).order_by(observations.c.id).limit(200)
    ).mappings():
        payload = obs["payload"]
        shown.append(
            {
                "id": obs["id"],
                "kind": obs["kind"],
                "source": obs["source"],
                "observed_at": obs["observed_at"].isoformat(),
                "size_bytes": obs["size_bytes"],
                "truncated": bool(obs["truncated"]),
                "payload": payload[:RAW_SHOWN],
                "payload_cut": len(payload) > RAW_SHOWN,
            }
        )
    assessment = conn.execute(select(assessments).where(assessments.c.device_id == device_id)).mappings().first()
    from phaseout.store.schema import waivers

    device_waivers = [
        _plain(dict(w))
        for w in conn.execute(select(waivers).where(waivers.c.device_id == device_id).order_by(waivers.c.id)).mappings()
    ]
    return {
        "device": device,
        "evidence": evidence_of(conn, key),
        "observations": shown,
        "waivers": device_waivers,
        "assessment": None
        if assessment is None
        else {
            "risk": assessment["risk"],
            "findings": orjson.loads(assessment["findings"]),
            "risk_parts": orjson.loads(assessment["risk_parts"]),
            "mitigations": orjson.loads(assessment["mitigations"]),
            "assessed_at": assessment["assessed_at"].isoformat(),
        },
    }


def list_devices_by_id(conn: Connection, device_id: int) -> tuple[int, list[dict[str, Any]]]:
    joined = devices.outerjoin(sites, sites.c.id == devices.c.site_id).outerjoin(
        assessments, assessments.c.device_id == devices.c.id
    )
    rows = [
        _plain(dict(r))
        for r in conn.execute(select(*COLUMNS).select_from(joined).where(devices.c.id == device_id)).mappings()
    ]
    return len(rows), rows


# -- findings ---------------------------------------------------------------------------------


#: PostgreSQL ``work_mem`` for counting equal findings texts (see :func:`_findings`).
FINDINGS_WORK_MEM_MB = 64


def findings_summary(conn: Connection) -> dict[str, Any]:
    return cached(conn, "findings", lambda: _findings(conn))


def _findings(conn: Connection) -> dict[str, Any]:
    """Every finding of the active devices, counted by (kind, ref, status, severity).

    Devices of one model, firmware and exposure share one findings text (the assessment writes
    the same JSON for the same results), so the database counts equal texts first and each
    distinct text is read once, weighted by its count: at 1,000,000 devices, parsing every
    device's findings in Python made this the slowest page to compute cold."""
    counts: dict[str, Counter[tuple[str, str, str]]] = defaultdict(Counter)
    kev: set[str] = set()
    details: dict[tuple[str, str], str] = {}
    with_any: Counter[str] = Counter()  # kind -> devices with at least one such finding
    query = (
        select(assessments.c.findings, func.count())
        .select_from(assessments.join(devices, devices.c.id == assessments.c.device_id))
        .where(devices.c.status == "active")
        .group_by(assessments.c.findings)
    )
    if conn.dialect.name == "postgresql":
        # The planner cannot tell how few distinct texts there are (it guessed 38,696 of 5) and,
        # with the default 4 MB, grouped by sorting 1,000,000 texts on disk: 12.7 s.  With room
        # for a hash table it hashes each text once: 3.0 s.  For this statement only, and never
        # lowered: the value the transaction had (not the server's default) is put back after it.
        before = int(conn.execute(text("SELECT setting::bigint FROM pg_settings WHERE name = 'work_mem'")).scalar_one())
        raise_it = before < FINDINGS_WORK_MEM_MB * 1024  # (kB)
        if raise_it:
            conn.execute(text(f"SET LOCAL work_mem = '{FINDINGS_WORK_MEM_MB}MB'"))
        groups = [(str(b), int(n)) for b, n in conn.execute(query)]
        if raise_it:  # (a failed query rolls it back anyway)
            conn.execute(text("SELECT set_config('work_mem', :kb, true)"), {"kb": f"{before}kB"})
    else:
        groups = [(str(b), int(n)) for b, n in conn.execute(query)]
    groups.sort()  # ties and details come out the same on every run, on either database
    for body, n in groups:
        kinds: set[str] = set()
        for f in orjson.loads(body):
            if f["status"] in ("fixed",):
                continue
            kinds.add(f["kind"])
            counts[f["kind"]][(f["ref"], f["status"], f.get("severity", ""))] += n
            details.setdefault((f["kind"], f["ref"]), str(f.get("detail", "")))
            if f.get("kev"):
                kev.add(f["ref"])
        for kind in kinds:
            with_any[kind] += n
    out: dict[str, Any] = {}
    for kind in ("policy", "vulnerability", "exposure"):
        out[kind] = [
            {
                "ref": ref,
                "status": status,
                "severity": severity,
                "devices": n,
                "kev": ref in kev,
                "detail": details.get((kind, ref), ""),
            }
            for (ref, status, severity), n in counts[kind].most_common()
        ]
    out["devices_with"] = {kind: with_any.get(kind, 0) for kind in ("policy", "vulnerability", "exposure")}
    return out


# -- plans and imports ------------------------------------------------------------------------


def list_plans(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(plans.c.id, plans.c.name, plans.c.created_at, plans.c.status, plans.c.objective).order_by(
            plans.c.id.desc()
        )
    ).mappings()
    return [_plain(dict(r)) for r in rows]


_plan_cache: dict[int, dict[str, Any]] = {}


def plan_detail(conn: Connection, plan_id: int | None = None) -> dict[str, Any] | None:
    """A stored plan's figures; plans never change once stored, so each is read once."""
    if plan_id is None:
        plan_id = _latest_plan_id(conn)
        if plan_id is None:
            return None
    with _lock:
        if plan_id in _plan_cache:
            return _plan_cache[plan_id]
    row = conn.execute(
        select(plans.c.id, plans.c.name, plans.c.created_at, plans.c.settings, plans.c.result).where(
            plans.c.id == plan_id
        )
    ).first()
    if row is None:
        return None
    result = orjson.loads(row.result)
    done_by = dict(
        conn.execute(
            select(plan_visits.c.period, func.sum(plan_visits.c.devices))
            .where(plan_visits.c.plan_id == plan_id)
            .group_by(plan_visits.c.period)
        ).all()
    )
    total = sum(int(n) for n in done_by.values())
    burn = []
    left = total
    for p in result["periods"]:
        done = int(done_by.get(p["id"], 0))
        left -= done
        burn.append({"period": p["id"], "devices_left": left, "devices_done": done})
    detail = {
        "id": row.id,
        "name": row.name,
        "created_at": row.created_at.isoformat(),
        "settings": json.loads(row.settings),
        "result": {k: v for k, v in result.items() if k != "assignments"},
        "assignments": len(result["assignments"]),
        "devices": total,
        "burn_down": burn,
    }
    with _lock:
        if len(_plan_cache) > 64:
            _plan_cache.clear()
        _plan_cache[plan_id] = detail
    return detail


def list_batches(conn: Connection, limit: int = 100) -> list[dict[str, Any]]:
    rows = conn.execute(select(import_batches).order_by(import_batches.c.id.desc()).limit(limit)).mappings()
    out = []
    for r in rows:
        row = _plain(dict(r))
        row["errors"] = json.loads(row["errors"] or "[]")
        row["mapping"] = json.loads(row["mapping"] or "{}")
        out.append(row)
    return out


#: The warmer rests at least this many times as long as its last pass took.  At 1,000,000
#: devices a pass costs seconds of the database's time, and under a stream of collector uploads
#: (each one a new generation) an unpaced warmer recomputed without rest: it halved the rate at
#: which a two-core server merged uploads, for figures outdated by the next upload anyway.
#: Paced at 4 it still took a quarter of the upload rate at 1,000,000 devices (5,367 hosts/s
#: with the warmer held off, 3,973 with it, 40 uploads of 4,096 hosts from 4 collectors into 2
#: workers); at 9 it works a tenth of the time.  A visitor who comes before it computes what that
#: page needs, as one did before.
PACE = 9.0


def warmer_rest(every: float, took: float) -> float:
    """Seconds the warmer waits after a pass that took ``took`` seconds (``every`` at least)."""
    return max(every, PACE * took)


#: The shared aggregates a warming pass computes (``Warmer.warm``), which a worker without the
#: turn reads once stored (``Warmer.follow``).
SHARED_PASS = ("overview", "sites", "findings")


class Warmer:
    """Recomputes the estate-wide aggregates in a background thread whenever the data changes
    (another process imported, assessed or planned), so no visitor waits for them; paced by
    :func:`warmer_rest`, so a stream of changes does not keep it computing, and on PostgreSQL
    one worker's warmer at a time (``store.aggregates.take_warming_turn``): the others' pages
    read the aggregates it stored."""

    def __init__(self, engine: Any, every: float = 5.0) -> None:
        self.engine = engine
        self.every = every
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="phaseout-cache-warmer", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        seen: str | None = None
        while not self.stop.is_set():
            began = time.monotonic()
            rest = self.every
            try:
                with self.engine.connect() as conn:
                    now = generation(conn)
                    # one worker warms at a time (store.aggregates): the others read what it stored
                    if now != seen and aggregates.take_warming_turn(self.engine):
                        try:
                            self.warm(conn)
                            seen = now
                        finally:
                            rest = warmer_rest(self.every, time.monotonic() - began)
                            aggregates.end_warming_turn(self.engine, rest)
                    elif now != seen and self.follow(conn, now):
                        seen = now
            except Exception:
                seen = None
            self.stop.wait(rest)

    @staticmethod
    def follow(conn: Connection, now: str) -> bool:
        """Another worker has the turn: once it has stored generation ``now``'s aggregates, read
        them into this process and prepare what is derived from them here (the site list's
        default order, the newest plan parsed), computing none of them.  Without this a worker
        that never won the turn left all of it to its visitors (the 18 MB plan parsed on its
        first site page).  False while they are not all stored."""
        found = {}
        for name in SHARED_PASS:
            ready, value = aggregates.stored(conn.engine, name, now)
            if not ready:
                return False
            found[name] = value
        with _lock:
            for name, value in [*found.items(), (_order_key("risk", True), _in_order(found["sites"], "risk", True))]:
                for old in [k for k in _cache if k[0] == name]:
                    del _cache[old]
                _cache[(name, now)] = value
        plan_detail(conn)
        if (latest := _latest_plan_id(conn)) is not None:
            _cameras_by_site(conn, latest)
        return True

    @staticmethod
    def warm(conn: Connection) -> None:
        """One pass: what a worker's first pages need.  On PostgreSQL without parallel workers:
        background work takes one core, never all of them from visitors and uploads."""
        if conn.dialect.name == "postgresql":  # (for this transaction: the pool gets it back reset)
            conn.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
        overview(conn)
        all_sites(conn)
        findings_summary(conn)
        plan_detail(conn)
        sites_in_order(conn, "risk", True)  # the site list's default order
        if (latest := _latest_plan_id(conn)) is not None:
            _cameras_by_site(conn, latest)  # each site page's: 18 MB of JSON at 30,000 sites


#: Sort keys of the device listing (the same for CLI, pages and API).
DEVICE_SORT = SORT
