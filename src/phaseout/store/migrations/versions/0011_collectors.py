"""collectors, enrolment codes, saved scan definitions and scan jobs

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 17:10:00

Site collectors (with their one-time enrolment code and credential as digests), saved scan
definitions (``phaseout scan --definition NAME``, schedules), the job table collectors and the
server claim from, and the receipts that make collector uploads idempotent.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "collectors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("sites", sa.Text(), server_default="[]", nullable=False),
        sa.Column("scopes", sa.Text(), server_default="[]", nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("code_expires_at", _tz(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("created_by", sa.String(), server_default="", nullable=False),
        sa.Column("enrolled_at", _tz(), nullable=True),
        sa.Column("last_contact", _tz(), nullable=True),
        sa.Column("version", sa.String(length=64), server_default="", nullable=False),
        sa.Column("queue_length", sa.Integer(), server_default="0", nullable=False),
        sa.Column("health", sa.Text(), server_default="{}", nullable=False),
        sa.Column("revoked", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collectors")),
        sa.UniqueConstraint("name", name=op.f("uq_collectors_name")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_collectors_code_hash")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_collectors_token_hash")),
    )
    op.create_table(
        "scan_definitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("targets", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("ports", sa.Text(), nullable=False),
        sa.Column("vantage", sa.String(length=16), nullable=True),
        sa.Column("site_code", sa.String(), nullable=True),
        sa.Column("schedule", sa.String(length=100), nullable=True),
        sa.Column("collector_id", sa.Integer(), nullable=True),
        sa.Column("last_run_at", _tz(), nullable=True),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("created_by", sa.String(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["collector_id"], ["collectors.id"], name=op.f("fk_scan_definitions_collector_id_collectors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_definitions")),
        sa.UniqueConstraint("name", name=op.f("uq_scan_definitions_name")),
    )
    op.create_table(
        "scan_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=True),
        sa.Column("collector_id", sa.Integer(), nullable=True),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("claimed_by", sa.String(), nullable=True),
        sa.Column("claimed_at", _tz(), nullable=True),
        sa.Column("lease_until", _tz(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("finished_at", _tz(), nullable=True),
        sa.Column("scan_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), server_default="", nullable=False),
        sa.CheckConstraint(
            "status in ('pending', 'claimed', 'done', 'failed', 'refused')", name=op.f("ck_scan_jobs_status")
        ),
        sa.ForeignKeyConstraint(["collector_id"], ["collectors.id"], name=op.f("fk_scan_jobs_collector_id_collectors")),
        sa.ForeignKeyConstraint(
            ["definition_id"], ["scan_definitions.id"], name=op.f("fk_scan_jobs_definition_id_scan_definitions")
        ),
        sa.ForeignKeyConstraint(["scan_id"], ["scans.id"], name=op.f("fk_scan_jobs_scan_id_scans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_jobs")),
    )
    with op.batch_alter_table("scan_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scan_jobs_status_collector_id"), ["status", "collector_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_scan_jobs_definition_id"), ["definition_id"], unique=False)
    op.create_table(
        "collector_uploads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collector_id", sa.Integer(), nullable=False),
        sa.Column("upload_id", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("scan_id", sa.Integer(), nullable=True),
        sa.Column("hosts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("received_at", _tz(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collector_id"], ["collectors.id"], name=op.f("fk_collector_uploads_collector_id_collectors")
        ),
        sa.ForeignKeyConstraint(["job_id"], ["scan_jobs.id"], name=op.f("fk_collector_uploads_job_id_scan_jobs")),
        sa.ForeignKeyConstraint(["scan_id"], ["scans.id"], name=op.f("fk_collector_uploads_scan_id_scans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collector_uploads")),
    )
    with op.batch_alter_table("collector_uploads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_collector_uploads_collector_id_upload_id"), ["collector_id", "upload_id"], unique=True
        )


def downgrade() -> None:
    op.drop_table("collector_uploads")
    op.drop_table("scan_jobs")
    op.drop_table("scan_definitions")
    op.drop_table("collectors")
