"""The audit trail: every change to a device, site, plan, work order, waiver, user or policy
choice is an event (who, when, what, before and after), appended and never changed.

The ``events`` table refuses UPDATE and DELETE with a database trigger (migration 0006), so the
trail cannot be edited through the product, nor by a mistaken query.  Imports and scans change
thousands of devices at once: they write one event per batch, and the batch keeps every row.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
from typing import Any

from sqlalchemy import Connection, select

from phaseout.store.schema import events


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _json(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)


def record_event(
    conn: Connection,
    actor: str,
    action: str,
    entity: str,
    entity_id: Any,
    before: Any = None,
    after: Any = None,
) -> None:
    conn.execute(
        events.insert().values(
            at=dt.datetime.now(dt.UTC),
            actor=actor,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            before=_json(before),
            after=_json(after),
        )
    )


def list_events(
    conn: Connection,
    *,
    entity: str | None = None,
    entity_id: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[dict[str, Any]]:
    query = select(events).order_by(events.c.id.desc()).limit(limit).offset(offset)
    if entity:
        query = query.where(events.c.entity == entity)
    if entity_id:
        query = query.where(events.c.entity_id == entity_id)
    out = []
    for row in conn.execute(query).mappings():
        item = dict(row)
        item["at"] = item["at"].isoformat()
        item["before"] = json.loads(item["before"])
        item["after"] = json.loads(item["after"])
        out.append(item)
    return out
