"""Policy findings over the stored devices (the packs' rules are :mod:`phaseout.policy`)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator

from sqlalchemy import Connection, Engine, select

from phaseout.policy.evaluate import DeviceFacts, PolicyFinding, SiteFacts, evaluate
from phaseout.policy.packs import PolicyPack
from phaseout.store.schema import devices, sites


def device_findings(
    conn: Connection, packs: list[PolicyPack], today: dt.date
) -> Iterator[tuple[int, str, list[PolicyFinding]]]:
    """(device id, site code, findings) for every active device some pack covers."""
    makers = {m for p in packs for m in p.makers} | {m for p in packs for r in p.rules for m in r.makers}
    query = (
        select(
            devices.c.id,
            devices.c.vendor,
            devices.c.label,
            devices.c.relation,
            devices.c.id_type,
            devices.c.confidence,
            sites.c.code,
            sites.c.sensitivity,
            sites.c.next_maintenance,
        )
        .select_from(devices.join(sites, devices.c.site_id == sites.c.id))
        .where(devices.c.status == "active", devices.c.vendor.in_(sorted(makers)))
        .order_by(devices.c.id)
    )
    site_cache: dict[tuple[str, object], SiteFacts] = {}
    for row in conn.execute(query.execution_options(yield_per=20_000)):
        site = site_cache.setdefault(
            (row.sensitivity, row.next_maintenance), SiteFacts(row.sensitivity, row.next_maintenance)
        )
        device = DeviceFacts(row.vendor, row.label, row.relation, row.id_type or "unknown", None, row.confidence or 0.0)
        found = evaluate(device, site, packs, today)
        if found:
            yield row.id, row.code, found


def summary(engine: Engine, packs: list[PolicyPack], today: dt.date) -> Counter[tuple[str, str, str]]:
    """Devices per (pack rule, status, site sensitivity)."""
    counts: Counter[tuple[str, str, str]] = Counter()
    with engine.connect() as conn:
        sensitivity = dict(conn.execute(select(sites.c.code, sites.c.sensitivity)).all())
        for _did, code, found in device_findings(conn, packs, today):
            for f in found:
                counts[(f.ref, f.status, sensitivity.get(code, "standard"))] += 1
    return counts
