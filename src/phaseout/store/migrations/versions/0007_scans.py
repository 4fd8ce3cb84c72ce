"""scans and scan_hosts tables; devices.asset_id and devices.fingerprint

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 15:20:00

Scans were ``import_batches`` rows with their targets in a JSON column named ``mapping``; they
now have a table of their own that records the ports probed, the vantage, whether the scan
finished, and every host it probed with its outcome.  Scans stored before this revision become
``legacy`` scans: what they probed per host was never recorded, so they prove nothing about a
host that stopped answering.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("asset_id", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=16), nullable=True))
        batch_op.create_index(batch_op.f("ix_devices_asset_id"), ["asset_id"], unique=False)
    op.create_table(
        "scans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("vantage", sa.String(length=16), nullable=True),
        sa.Column("site_code", sa.String(), nullable=True),
        sa.Column("targets", sa.Text(), server_default="[]", nullable=False),
        sa.Column("ports", sa.Text(), server_default="[]", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("hosts_probed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("hosts_answered", sa.Integer(), server_default="0", nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status in ('complete', 'interrupted', 'legacy')", name=op.f("ck_scans_status")),
        sa.ForeignKeyConstraint(["batch_id"], ["import_batches.id"], name=op.f("fk_scans_batch_id_import_batches")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scans")),
        sa.UniqueConstraint("batch_id", name=op.f("uq_scans_batch_id")),
    )
    op.create_table(
        "scan_hosts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.Integer(), nullable=False),
        sa.Column("ip", sa.String(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("ports_open", sa.Text(), server_default="[]", nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("state in ('answered', 'silent', 'incomplete')", name=op.f("ck_scan_hosts_state")),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], name=op.f("fk_scan_hosts_device_id_devices")),
        sa.ForeignKeyConstraint(["scan_id"], ["scans.id"], name=op.f("fk_scan_hosts_scan_id_scans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_hosts")),
    )
    with op.batch_alter_table("scan_hosts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scan_hosts_scan_id"), ["scan_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_scan_hosts_ip"), ["ip"], unique=False)
        batch_op.create_index(batch_op.f("ix_scan_hosts_device_id"), ["device_id"], unique=False)
    _carry_over_legacy_scans()


def _carry_over_legacy_scans() -> None:
    conn = op.get_bind()
    batches = sa.table(
        "import_batches",
        sa.column("id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("sheet", sa.String),
        sa.column("mapping", sa.Text),
        sa.column("rows_total", sa.Integer),
        sa.column("rows_imported", sa.Integer),
        sa.column("started_at", sa.DateTime(timezone=True)),
        sa.column("finished_at", sa.DateTime(timezone=True)),
    )
    scans = sa.table(
        "scans",
        sa.column("batch_id", sa.Integer),
        sa.column("vantage", sa.String),
        sa.column("site_code", sa.String),
        sa.column("targets", sa.Text),
        sa.column("status", sa.String),
        sa.column("hosts_probed", sa.Integer),
        sa.column("hosts_answered", sa.Integer),
        sa.column("started_at", sa.DateTime(timezone=True)),
        sa.column("finished_at", sa.DateTime(timezone=True)),
    )
    rows = []
    for row in conn.execute(sa.select(batches).where(batches.c.kind == "scan")):
        try:
            mapping = json.loads(row.mapping or "{}")
        except ValueError:
            mapping = {}
        if not isinstance(mapping, dict):
            mapping = {}
        found = mapping.get("targets")
        targets: list[object] = found if isinstance(found, list) else []
        vantage = mapping.get("vantage") if isinstance(mapping.get("vantage"), str) else None
        rows.append(
            {
                "batch_id": row.id,
                "vantage": vantage,
                "site_code": row.sheet,
                "targets": json.dumps([str(t) for t in targets]),
                "status": "legacy",
                "hosts_probed": row.rows_total or 0,
                "hosts_answered": row.rows_imported or 0,
                "started_at": row.started_at,
                "finished_at": row.finished_at,
            }
        )
    if rows:
        op.bulk_insert(scans, rows)


def downgrade() -> None:
    with op.batch_alter_table("scan_hosts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scan_hosts_device_id"))
        batch_op.drop_index(batch_op.f("ix_scan_hosts_ip"))
        batch_op.drop_index(batch_op.f("ix_scan_hosts_scan_id"))
    op.drop_table("scan_hosts")
    op.drop_table("scans")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_devices_asset_id"))
        batch_op.drop_column("fingerprint")
        batch_op.drop_column("asset_id")
