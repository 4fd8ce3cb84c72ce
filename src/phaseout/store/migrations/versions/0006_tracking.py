"""tracking: append-only events, work orders and their devices, waivers

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 13:00:00

The events table refuses UPDATE and DELETE with a trigger on both SQLite and PostgreSQL: the
audit trail cannot be edited through the product, nor by a mistaken query.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(), nullable=False),
        sa.Column("before", sa.Text(), server_default="null", nullable=False),
        sa.Column("after", sa.Text(), server_default="null", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_entity_entity_id"), ["entity", "entity_id"], unique=False)
    op.create_table(
        "work_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("package", sa.String(), nullable=False),
        sa.Column("site", sa.String(), nullable=False),
        sa.Column("region", sa.String(), server_default="", nullable=False),
        sa.Column("period", sa.String(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("blocked_from", sa.String(length=16), nullable=True),
        sa.Column("cameras_before", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(), server_default="", nullable=False),
        sa.CheckConstraint(
            "status in ('planned', 'scheduled', 'in-progress', 'done', 'verified', 'blocked')",
            name=op.f("ck_work_orders_status"),
        ),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name=op.f("fk_work_orders_plan_id_plans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_orders")),
    )
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_work_orders_site"), ["site"], unique=False)
    op.create_table(
        "work_order_devices",
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(), nullable=False),
        sa.Column("old_serial", sa.String(), nullable=True),
        sa.Column("old_mac", sa.String(), nullable=True),
        sa.Column("new_serial", sa.String(), nullable=True),
        sa.Column("new_mac", sa.String(), nullable=True),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.Column("verification", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], name=op.f("fk_work_order_devices_device_id_devices")),
        sa.ForeignKeyConstraint(
            ["work_order_id"], ["work_orders.id"], name=op.f("fk_work_order_devices_work_order_id_work_orders")
        ),
        sa.PrimaryKeyConstraint("work_order_id", "device_id", name=op.f("pk_work_order_devices")),
    )
    op.create_table(
        "waivers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("approver", sa.String(), nullable=False),
        sa.Column("expires", sa.Date(), nullable=False),
        sa.Column("controls", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("revoked", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], name=op.f("fk_waivers_device_id_devices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waivers")),
    )
    with op.batch_alter_table("waivers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_waivers_device_id"), ["device_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION phaseout_events_append_only() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'the audit trail is append-only'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
            "FOR EACH ROW EXECUTE FUNCTION phaseout_events_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER events_no_{verb.lower()} BEFORE {verb} ON events "
                "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_append_only ON events")
        op.execute("DROP FUNCTION IF EXISTS phaseout_events_append_only()")
    op.drop_table("waivers")
    op.drop_table("work_order_devices")
    op.drop_table("work_orders")
    op.drop_table("events")
