"""The audit trail: every change to a device, site, plan, work order, waiver, user, token or
policy choice, and every failed login, is an event (who, when, what, before and after),
appended and never changed.

Two defences, because one can be switched off:

- **Refused**: database triggers (migrations 0006 and 0008) refuse UPDATE, DELETE, TRUNCATE and
  any INSERT that would replace an event (SQLite's ``INSERT OR REPLACE`` deletes the old row
  without firing DELETE triggers, so INSERT itself checks that the event is the next link).
- **Detected**: each event carries ``seq`` (its place in one total order), ``prev_hash`` and
  ``hash = sha256(prev_hash + canonical JSON of the event)``.  ``verify_chain`` recomputes the
  chain, so a rewrite, deletion or reordering made with the triggers dropped (or PostgreSQL's
  ``session_replication_role = replica``) is found; ``guards`` says whether the triggers are
  in place.  The newest link is kept in ``audit_head``; cutting events off the end is found
  because the head no longer matches, and ``phaseout audit verify --expect HASH`` compares with
  a head recorded elsewhere (the only defence against someone who can rewrite the head too).

Writers take turns through the head row: ``UPDATE audit_head SET seq = seq + 1`` locks it
(PostgreSQL row lock, SQLite's write lock) until the transaction ends, so concurrent writers
get consecutive ``seq`` numbers in commit order and each links to the one before.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select, text, update

from phaseout.store.schema import audit_head, events

GENESIS = "0" * 64
#: the triggers each database must have for the trail to refuse rewrites (migration 0008)
SQLITE_GUARDS = (
    "events_no_update",
    "events_no_delete",
    "events_insert_next",
    "audit_head_no_delete",
    "audit_head_no_insert",
    "audit_head_step",
)
POSTGRES_GUARDS = (
    "events_append_only",
    "events_no_truncate",
    "events_insert_next",
    "audit_head_guard",
    "audit_head_no_truncate",
)


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _json(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)


def canonical_time(at: dt.datetime | str) -> str:
    """UTC, microseconds, no offset: SQLite gives back naive UTC (text to a raw query),
    PostgreSQL an aware time in the session's zone; all must hash the same."""
    if isinstance(at, str):
        at = dt.datetime.fromisoformat(at)
    if at.tzinfo is not None:
        at = at.astimezone(dt.UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


def event_hash(prev_hash: str, row: Any) -> str:
    """The link: sha256 over the previous hash and the event's canonical JSON."""
    body = json.dumps(
        {
            "seq": int(row["seq"]),
            "at": canonical_time(row["at"]),
            "actor": row["actor"],
            "action": row["action"],
            "entity": row["entity"],
            "entity_id": row["entity_id"],
            "before": row["before"],
            "after": row["after"],
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def record_event(
    conn: Connection,
    actor: str,
    action: str,
    entity: str,
    entity_id: Any,
    before: Any = None,
    after: Any = None,
) -> None:
    """Append one event as the next link of the chain, inside the caller's transaction."""
    conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=audit_head.c.seq + 1))
    head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).one()
    row = {
        "seq": head.seq,
        "at": dt.datetime.now(dt.UTC),
        "actor": actor,
        "action": action,
        "entity": entity,
        "entity_id": str(entity_id),
        "before": _json(before),
        "after": _json(after),
    }
    link = event_hash(head.hash, row)
    conn.execute(events.insert().values(**row, prev_hash=head.hash, hash=link))
    conn.execute(update(audit_head).where(audit_head.c.id == 1).values(hash=link))


@dataclass
class ChainReport:
    """What ``verify_chain`` found: ``ok`` only when every link and the head agree."""

    events: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


MAX_PROBLEMS = 20


def verify_chain(conn: Connection, expect: str | None = None) -> ChainReport:
    """Recompute every link in ``seq`` order; report the first problems (at most 20)."""
    report = ChainReport()
    prev, expected_seq = GENESIS, 1
    query = select(events).order_by(events.c.seq, events.c.id).execution_options(yield_per=5000)
    for row in conn.execute(query).mappings():
        report.events += 1
        seq = row["seq"]
        if seq != expected_seq:
            report.problems.append(
                f"event id {row['id']}: sequence {seq}, expected {expected_seq} (events missing or reordered)"
            )
        if row["prev_hash"] != prev:
            report.problems.append(f"event seq {seq} (id {row['id']}): does not link to the event before it")
        if event_hash(row["prev_hash"], row) != row["hash"]:
            report.problems.append(f"event seq {seq} (id {row['id']}): its content was changed")
        prev, expected_seq = row["hash"], (seq or 0) + 1
        if len(report.problems) >= MAX_PROBLEMS:
            report.problems.append("more problems not listed")
            return report
    head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
    if head is None:
        report.problems.append("the chain head (audit_head) is missing")
    else:
        report.head_seq, report.head_hash = head.seq, head.hash
        if head.seq != report.events or head.hash != prev:
            report.problems.append(
                f"the head says {head.seq} events ending {head.hash[:12]}, the table holds {report.events}"
                f" ending {prev[:12]} (events cut off the end, or added around the product)"
            )
    if expect is not None and expect not in (report.head_hash, prev):
        report.problems.append(f"the newest hash is not the expected {expect[:12]}...")
    return report


def guards(conn: Connection) -> dict[str, bool]:
    """Each append-only trigger, and whether it is present and enabled."""
    if conn.dialect.name == "postgresql":
        rows = conn.execute(
            text(
                "SELECT t.tgname, t.tgenabled FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE c.relname IN ('events', 'audit_head') AND c.relnamespace = to_regnamespace(current_schema()) "
                "AND NOT t.tgisinternal"
            )
        ).all()
        found = {name: enabled in ("O", "A") for name, enabled in rows}
        return {name: found.get(name, False) for name in POSTGRES_GUARDS}
    names = set(
        conn.execute(
            text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ('events', 'audit_head')")
        )
        .scalars()
        .all()
    )
    return {name: name in names for name in SQLITE_GUARDS}


def list_events(
    conn: Connection,
    *,
    entity: str | None = None,
    entity_id: str | None = None,
    limit: int = 200,
    offset: int = 0,
    with_chain: bool = False,
) -> list[dict[str, Any]]:
    """Events, newest first; ``with_chain`` adds ``seq``, ``prev_hash`` and ``hash``."""
    columns = [c for c in events.c if with_chain or c.name not in ("seq", "prev_hash", "hash")]
    query = select(*columns).order_by(events.c.seq.desc()).limit(limit).offset(offset)
    if entity:
        query = query.where(events.c.entity == entity)
    if entity_id:
        query = query.where(events.c.entity_id == entity_id)
    out = []
    for row in conn.execute(query).mappings():
        item = {str(k): v for k, v in row.items()}  # plain str keys (SQLAlchemy's quoted_name upsets orjson)
        item["at"] = item["at"].isoformat()
        item["before"] = json.loads(item["before"])
        item["after"] = json.loads(item["after"])
        out.append(item)
    return out
