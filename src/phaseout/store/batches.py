"""The import history: one ``import_batches`` row per import (spreadsheets, other tools' exports,
scans), with an audit event when it finishes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, select

from phaseout.normalize import site_key
from phaseout.store.audit import record_event
from phaseout.store.generation import bump
from phaseout.store.schema import import_batches, sites


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def start_batch(conn: Connection, kind: str, file_name: str, checksum: str, sheet: str | None) -> int:
    return int(
        conn.execute(
            import_batches.insert()
            .values(kind=kind, file_name=file_name, checksum=checksum, sheet=sheet, status="running", started_at=_now())
            .returning(import_batches.c.id)
        ).scalar_one()
    )


def finish_batch(
    conn: Connection,
    batch_id: int | None,
    *,
    actor: str,
    kind: str,
    values: dict[str, Any],
    summary: dict[str, Any],
) -> None:
    """Close a batch with its figures, record the audit event and change the generation."""
    conn.execute(import_batches.update().where(import_batches.c.id == batch_id).values(finished_at=_now(), **values))
    record_event(conn, actor, f"import.{kind}", "import", batch_id, None, summary)
    bump(conn)


def earlier_batch(conn: Connection, kind: str, checksum: str) -> int | None:
    """The last successful import of the same bytes, if any."""
    query = (
        select(import_batches.c.id)
        .where(
            import_batches.c.kind == kind,
            import_batches.c.checksum == checksum,
            import_batches.c.status.in_(("ok", "partial")),
        )
        .order_by(import_batches.c.id.desc())
        .limit(1)
    )
    found = conn.execute(query).scalar()
    return int(found) if found is not None else None


def site_code(conn: Connection, ref: str) -> str | None:
    """The stored code of the site ``ref`` names, as imports read a site reference: its code
    exactly, else the code or name that ``site_key`` makes equal (``12`` for ``0012``,
    ``Store 12``); None when none does, or when several sites share the name."""
    exact = conn.execute(select(sites.c.code).where(sites.c.code == ref)).scalar()
    if exact is not None:
        return str(exact)
    key = site_key(ref)
    by_code, by_name = [], []
    for found_code, name in conn.execute(select(sites.c.code, sites.c.name)):
        if site_key(found_code) == key:
            by_code.append(str(found_code))
        elif name and site_key(name) == key:
            by_name.append(str(found_code))
    found = by_code or by_name
    return found[0] if len(found) == 1 else None


def site_exists(conn: Connection, code: str) -> bool:
    """A site with this code or name (``Store 012`` and ``12`` are the same) is stored."""
    key = site_key(code)
    for found_code, name in conn.execute(select(sites.c.code, sites.c.name)):
        if site_key(found_code) == key or (name and site_key(name) == key):
            return True
    return False
