"""channels: a camera behind a recorder is a device with a parent and a channel

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 15:00:00

``devices.parent_id`` (already there) links a channel to its recorder; ``channel`` names the
input on it (``D3`` for IP channel 3, ``A3`` for analogue input 3: an analogue camera is a
device with no address); ``channel_state`` is what the recorder last said (online, offline,
unknown) or ``missing`` when the channel is no longer in its list.  Indexed by parent for the
recorder tree.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("channel_state", sa.String(length=16), nullable=True))
        batch_op.create_index(batch_op.f("ix_devices_parent_id"), ["parent_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_devices_parent_id"))
        batch_op.drop_column("channel_state")
        batch_op.drop_column("channel")
