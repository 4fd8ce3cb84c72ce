"""alert rules, destinations and the delivery outbox

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 17:10:00

``alerts`` holds each destination and the rules it receives; ``alert_evaluated`` the import and
scan batches already looked at; ``alert_outbox`` the messages to deliver (retried with back-off);
``alert_occurrences`` every occurrence fired, unique per alert and dedupe key.  Indexes on
``devices.batch_id``, ``observations.batch_id`` and ``assessments.deadline`` keep the evaluation
after each import or scan proportional to the batch, not to the estate.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


#: indexes the alert rules read by (what one batch created or touched; deadlines passed)
INDEXES = (
    ("devices", "ix_devices_batch_id", ["batch_id"]),
    ("observations", "ix_observations_batch_id", ["batch_id"]),
    ("assessments", "ix_assessments_deadline", ["deadline"]),
)


def upgrade() -> None:
    for table, name, columns in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False)
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(), server_default="", nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("since_batch", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.CheckConstraint("kind in ('webhook', 'email', 'syslog', 'file')", name=op.f("ck_alerts_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("name", name=op.f("uq_alerts_name")),
    )
    op.create_table(
        "alert_evaluated",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["import_batches.id"], name=op.f("fk_alert_evaluated_batch_id_import_batches")
        ),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_alert_evaluated")),
    )
    op.create_table(
        "alert_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status in ('pending', 'sending', 'delivered', 'failed')", name=op.f("ck_alert_outbox_status")
        ),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name=op.f("fk_alert_outbox_alert_id_alerts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_outbox")),
    )
    with op.batch_alter_table("alert_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_outbox_alert_id"), ["alert_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_alert_outbox_status_next_attempt_at"), ["status", "next_attempt_at"], unique=False
        )
    op.create_table(
        "alert_occurrences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name=op.f("fk_alert_occurrences_alert_id_alerts")),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["alert_outbox.id"], name=op.f("fk_alert_occurrences_outbox_id_alert_outbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_occurrences")),
        sa.UniqueConstraint("alert_id", "key", name=op.f("uq_alert_occurrences_alert_id_key")),
    )


def downgrade() -> None:
    op.drop_table("alert_occurrences")
    with op.batch_alter_table("alert_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_outbox_status_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_alert_outbox_alert_id"))
    op.drop_table("alert_outbox")
    op.drop_table("alert_evaluated")
    op.drop_table("alerts")
    for table, name, _columns in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
