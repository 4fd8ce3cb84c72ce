"""Small reads the CLI and the tests need by engine: sites, import history, a device's
observations and evidence, devices per vendor."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from phaseout.store.identification import evidence_of
from phaseout.store.schema import devices, import_batches, observations, sites


def vendor_counts(engine: Engine) -> dict[str, int]:
    """Devices per identified vendor (``(not identified)`` when identification has not run)."""
    query = select(devices.c.vendor, func.count()).group_by(devices.c.vendor)
    with engine.connect() as conn:
        return {v or "(not identified)": int(n) for v, n in conn.execute(query)}


def device_evidence(engine: Engine, device_id: int) -> list[dict[str, Any]]:
    """The evidence behind a device's identification."""
    with engine.connect() as conn:
        key = conn.execute(select(devices.c.evidence_key).where(devices.c.id == device_id)).scalar()
        return evidence_of(conn, key)


def device_observations(engine: Engine, device_id: int) -> list[dict[str, Any]]:
    query = select(observations).where(observations.c.device_id == device_id).order_by(observations.c.id)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def list_sites(engine: Engine) -> list[dict[str, Any]]:
    """Every site with its device count."""
    count = (
        select(func.count())
        .select_from(devices)
        .where(devices.c.site_id == sites.c.id)
        .scalar_subquery()
        .label("devices")
    )
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(sites, count).order_by(sites.c.code)).mappings()]


def list_batches(engine: Engine, limit: int = 50) -> list[dict[str, Any]]:
    """The import and scan history, newest first."""
    query = select(import_batches).order_by(import_batches.c.id.desc()).limit(limit)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]
