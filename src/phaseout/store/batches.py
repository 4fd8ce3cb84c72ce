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


def _named(conn: Connection, ref: str) -> tuple[list[str], list[str]]:
    """Codes of the sites ``ref`` names as imports read it (``site_key``: ``Store 012`` and ``12``
    are the same): those whose code matches, and those whose name does."""
    key = site_key(ref)
    by_code, by_name = [], []
    for found_code, name in conn.execute(select(sites.c.code, sites.c.name)):
        if site_key(found_code) == key:
            by_code.append(str(found_code))
        elif name and site_key(name) == key:
            by_name.append(str(found_code))
    return by_code, by_name


def site_code(conn: Connection, ref: str) -> str | None:
    """The stored code of the site ``ref`` names: its code exactly, else the one code or name
    that ``site_key`` makes equal; None when none does, or when several sites share the name."""
    exact = conn.execute(select(sites.c.code).where(sites.c.code == ref)).scalar()
    if exact is not None:
        return str(exact)
    by_code, by_name = _named(conn, ref)
    found = by_code or by_name
    return found[0] if len(found) == 1 else None


def site_exists(conn: Connection, code: str) -> bool:
    """A site with this code or name (``Store 012`` and ``12`` are the same) is stored."""
    by_code, by_name = _named(conn, code)
    return bool(by_code or by_name)
