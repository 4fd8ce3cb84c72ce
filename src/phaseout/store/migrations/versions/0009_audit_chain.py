"""audit chain: events hash-chained and guarded against every write path; login throttle;
token expiry

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 15:00:00

Existing events are chained in id order (the order they were written).  The link function is
frozen here rather than imported, so later code changes cannot change what this migration did;
``phaseout.store.audit.event_hash`` must stay equal to it (a test checks).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

GENESIS = "0" * 64
REFUSE = "the audit trail is append-only"

SQLITE_TRIGGERS = {
    "events_no_update": f"BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, '{REFUSE}'); END",
    "events_no_delete": f"BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, '{REFUSE}'); END",
    # INSERT OR REPLACE deletes a clashing row without firing DELETE triggers: refuse any insert
    # that is not exactly the next link announced by the head
    "events_insert_next": (
        "BEFORE INSERT ON events WHEN NEW.seq IS NOT (SELECT seq FROM audit_head WHERE id = 1) "
        "OR NEW.prev_hash IS NOT (SELECT hash FROM audit_head WHERE id = 1) "
        "OR EXISTS (SELECT 1 FROM events WHERE id = NEW.id OR seq = NEW.seq) "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSE}: an event must be the next link of the chain'); END"
    ),
    "audit_head_no_delete": f"BEFORE DELETE ON audit_head BEGIN SELECT RAISE(ABORT, '{REFUSE}'); END",
    "audit_head_no_insert": (
        f"BEFORE INSERT ON audit_head WHEN EXISTS (SELECT 1 FROM audit_head) BEGIN SELECT RAISE(ABORT, '{REFUSE}'); END"
    ),
    "audit_head_step": (
        "BEFORE UPDATE ON audit_head WHEN NOT ("
        "(NEW.id = OLD.id AND NEW.seq = OLD.seq + 1 AND NEW.hash = OLD.hash) OR "
        "(NEW.id = OLD.id AND NEW.seq = OLD.seq AND NEW.hash IS (SELECT hash FROM events WHERE seq = NEW.seq))) "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSE}'); END"
    ),
}

POSTGRES_FUNCTIONS = {
    "phaseout_events_next": (
        "DECLARE h record; BEGIN "
        "SELECT seq, hash INTO h FROM audit_head WHERE id = 1; "
        "IF h IS NULL OR NEW.seq IS DISTINCT FROM h.seq OR NEW.prev_hash IS DISTINCT FROM h.hash THEN "
        f"RAISE EXCEPTION '{REFUSE}: an event must be the next link of the chain'; END IF; "
        "RETURN NEW; END;"
    ),
    "phaseout_audit_head_guard": (
        "BEGIN "
        "IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND ("
        "(NEW.seq = OLD.seq + 1 AND NEW.hash = OLD.hash) OR "
        "(NEW.seq = OLD.seq AND NEW.hash IS NOT DISTINCT FROM (SELECT hash FROM events WHERE seq = NEW.seq))) "
        f"THEN RETURN NEW; END IF; RAISE EXCEPTION '{REFUSE}'; END;"
    ),
}

POSTGRES_TRIGGERS = {
    "events_no_truncate": "BEFORE TRUNCATE ON events FOR EACH STATEMENT EXECUTE FUNCTION phaseout_events_append_only()",
    "events_insert_next": "BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION phaseout_events_next()",
    "audit_head_guard": (
        "BEFORE UPDATE OR DELETE ON audit_head FOR EACH ROW EXECUTE FUNCTION phaseout_audit_head_guard()"
    ),
    "audit_head_no_truncate": (
        "BEFORE TRUNCATE ON audit_head FOR EACH STATEMENT EXECUTE FUNCTION phaseout_events_append_only()"
    ),
}


def _time(at: dt.datetime | str) -> str:
    if isinstance(at, str):
        at = dt.datetime.fromisoformat(at)
    if at.tzinfo is not None:
        at = at.astimezone(dt.UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


def _link(prev: str, seq: int, row: sa.Row[tuple[object, ...]]) -> str:
    body = json.dumps(
        {
            "seq": seq,
            "at": _time(row.at),
            "actor": row.actor,
            "action": row.action,
            "entity": row.entity,
            "entity_id": row.entity_id,
            "before": row.before,
            "after": row.after,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256((prev + body).encode("utf-8")).hexdigest()


def upgrade() -> None:
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    if pg:
        op.execute("DROP TRIGGER IF EXISTS events_append_only ON events")
    else:
        op.execute("DROP TRIGGER IF EXISTS events_no_update")
        op.execute("DROP TRIGGER IF EXISTS events_no_delete")

    op.add_column("events", sa.Column("seq", sa.Integer(), nullable=True))
    op.add_column("events", sa.Column("prev_hash", sa.String(length=64), nullable=True))
    op.add_column("events", sa.Column("hash", sa.String(length=64), nullable=True))
    prev, seq = GENESIS, 0
    rows = bind.execute(
        sa.text('SELECT id, at, actor, action, entity, entity_id, "before", "after" FROM events ORDER BY id')
    ).all()
    for row in rows:
        seq += 1
        link = _link(prev, seq, row)
        bind.execute(
            sa.text("UPDATE events SET seq = :seq, prev_hash = :prev, hash = :hash WHERE id = :id"),
            {"seq": seq, "prev": prev, "hash": link, "id": row.id},
        )
        prev = link
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_events_seq"), ["seq"])

    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_single")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    bind.execute(sa.text("INSERT INTO audit_head (id, seq, hash) VALUES (1, :seq, :hash)"), {"seq": seq, "hash": prev})

    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_throttle_window_start"), ["window_start"], unique=False)
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))

    if pg:
        op.execute(
            "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
            "FOR EACH ROW EXECUTE FUNCTION phaseout_events_append_only()"
        )
        for name, body in POSTGRES_FUNCTIONS.items():
            op.execute(f"CREATE FUNCTION {name}() RETURNS trigger AS $$ {body} $$ LANGUAGE plpgsql")
        for name, spec in POSTGRES_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {spec}")
    else:
        for name, spec in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {spec}")


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    if pg:
        op.execute("DROP TRIGGER IF EXISTS events_append_only ON events")
        for name, spec in POSTGRES_TRIGGERS.items():
            table = spec.split(" ON ", 1)[1].split()[0]
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for name in POSTGRES_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
    op.drop_table("login_throttle")
    op.drop_table("audit_head")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_events_seq"), type_="unique")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
    if pg:
        op.execute(
            "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
            "FOR EACH ROW EXECUTE FUNCTION phaseout_events_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER events_no_{verb.lower()} BEFORE {verb} ON events "
                f"BEGIN SELECT RAISE(ABORT, '{REFUSE}'); END"
            )
