"""plans and their visits, and an index on observations.kind

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("objective", sa.Float(), nullable=True),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
    )
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plans_name"), ["name"], unique=False)
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_observations_kind"), ["kind"], unique=False)
    op.create_table(
        "plan_visits",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("package", sa.String(), nullable=False),
        sa.Column("site", sa.String(), nullable=False),
        sa.Column("period", sa.String(), nullable=True),
        sa.Column("period_index", sa.Integer(), nullable=True),
        sa.Column("devices", sa.Integer(), nullable=False),
        sa.Column("risk", sa.Float(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.Column("swaps", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name=op.f("fk_plan_visits_plan_id_plans")),
        sa.PrimaryKeyConstraint("plan_id", "package", name=op.f("pk_plan_visits")),
    )
    with op.batch_alter_table("plan_visits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_visits_plan_id_site"), ["plan_id", "site"], unique=False)


def downgrade() -> None:
    op.drop_table("plan_visits")
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_observations_kind"))
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plans_name"))
    op.drop_table("plans")
