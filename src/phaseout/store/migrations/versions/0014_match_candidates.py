"""indexes that let a scan merge read only the devices its hosts could be

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 02:40:00

A scan merge indexed every stored device before matching its hosts (7-8 s at 1,000,000
devices, however small the upload).  It now reads the devices that share a MAC, a serial tail or
an address with its hosts (``store.match_candidates``), through:

* ``ix_devices_ip``: every holder of an address, in any site;
* ``ix_devices_serial_tail``: the upper-cased last 8 characters of the serial;
* ``ix_devices_serial_irregular``: the few serials that expression may not read as the matching
  rule does (white space, non-ASCII), read whole.

Plain ``CREATE INDEX`` only: no table is rebuilt, so SQLite's ``devices_search_*`` triggers
stay.  The DDL is frozen here; ``store.match_candidates`` holds the runtime copy (a test checks
they agree).
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TAIL_INDEX = "ix_devices_serial_tail"
IRREGULAR_INDEX = "ix_devices_serial_irregular"
DDL = {
    "postgresql": (
        f"CREATE INDEX {TAIL_INDEX} ON devices ((right(upper(serial), 8)))",
        f"CREATE INDEX {IRREGULAR_INDEX} ON devices (id) WHERE serial ~ '[^!-~]'",
    ),
    "sqlite": (
        f"CREATE INDEX {TAIL_INDEX} ON devices (substr(upper(serial), -8))",
        f"CREATE INDEX {IRREGULAR_INDEX} ON devices (id) WHERE serial GLOB '*[^!-~]*'",
    ),
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":  # index builds over 1,000,000 rows
        op.execute("SET LOCAL maintenance_work_mem = '512MB'")
    op.create_index("ix_devices_ip", "devices", ["ip"], unique=False)
    for ddl in DDL["postgresql" if dialect == "postgresql" else "sqlite"]:
        op.execute(ddl)
    if dialect == "postgresql":
        op.execute("ANALYZE devices")  # the tail expression's statistics


def downgrade() -> None:
    op.execute(f"DROP INDEX {IRREGULAR_INDEX}")
    op.execute(f"DROP INDEX {TAIL_INDEX}")
    op.drop_index("ix_devices_ip", table_name="devices")
