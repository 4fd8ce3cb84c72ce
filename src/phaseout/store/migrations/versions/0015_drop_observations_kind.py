"""drop the index on observations.kind, which no query can use

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 05:00:00

Every query that filters observations by kind asks for ``kind <> 'inventory'`` (re-identification,
the scan merge, verification, alerts), and a B-tree cannot serve an inequality on either
PostgreSQL or SQLite; the index on ``kind`` (0004) was only ever written: three entries per
scanned host that answered and one per imported row.  The filters that do select observations
go through ``device_id`` and ``batch_id``, which keep their indexes.
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_observations_kind", table_name="observations")


def downgrade() -> None:
    op.create_index("ix_observations_kind", "observations", ["kind"], unique=False)
