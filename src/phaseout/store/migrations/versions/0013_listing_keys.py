"""the device listing's sort keys beside the device, a squeezed search index, shared aggregates

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 20:20:00

* ``devices.risk`` and ``devices.policy_status``: the stored assessment's values, kept in step
  by the assessment writer (``app.assessment``), filled here from ``assessments``.  The listing
  sorts and filters on them beside the device's columns, with indexes on ``(risk, id)``,
  ``(vendor, risk, id)`` and ``(policy_status, risk, id)``: the 50 riskiest of 285,000 Dahua
  devices become an index walk instead of a join of every assessment and a sort.
* ``(model, id)``: the listing's order by model.
* PostgreSQL: the trigram index over the joined search text without ``:``, ``-`` and ``.``
  (``store.search.PG_INDEX_EXPR``), so a MAC fragment is one word with trigrams of its own.
* ``aggregate_cache``: estate-wide aggregates per store generation, shared by web workers.

Plain ``ADD COLUMN`` and ``CREATE INDEX`` only: no table is rebuilt, so SQLite's
``devices_search_*`` triggers stay.  The DDL of the search index is frozen here
(``store.search`` holds the runtime copy; a test checks they agree).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import text

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

PG_DEVICES_INDEX = "ix_devices_search_trgm"
SEARCH_EXPR = (
    "lower(coalesce(model, '') || chr(31) || coalesce(serial, '') || chr(31) || coalesce(mac, '') || chr(31) || "
    "coalesce(ip, '') || chr(31) || coalesce(hostname, '') || chr(31) || coalesce(description, '') || chr(31) || "
    "coalesce(manufacturer, '') || chr(31) || coalesce(brand, '') || chr(31) || coalesce(asset_id, '') || "
    "chr(31) || coalesce(id_model, '') || chr(31) || coalesce(label, ''))"
)
PG_INDEX_EXPR = f"translate({SEARCH_EXPR}, ':-.', '')"

INDEXES = {
    "ix_devices_risk_id": ("risk", "id"),
    "ix_devices_vendor_risk_id": ("vendor", "risk", "id"),
    "ix_devices_policy_status_risk_id": ("policy_status", "risk", "id"),
    "ix_devices_model_id": ("model", "id"),
}

BACKFILL = {
    "postgresql": (
        "UPDATE devices SET risk = a.risk, policy_status = a.policy_status "
        "FROM assessments a WHERE a.device_id = devices.id"
    ),
    "sqlite": (
        "UPDATE devices SET risk = (SELECT risk FROM assessments WHERE device_id = devices.id), "
        "policy_status = (SELECT policy_status FROM assessments WHERE device_id = devices.id) "
        "WHERE id IN (SELECT device_id FROM assessments)"
    ),
}


def _trigram_opclass() -> str | None:
    conn = op.get_bind()
    has = conn.execute(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": PG_DEVICES_INDEX}).scalar()
    if not has:
        return None  # 0012 could not make it (no pg_trgm): the listing reads with LIKE, as before
    schema = conn.execute(
        text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE extname = 'pg_trgm'"
        )
    ).scalar_one()
    return f'"{schema}".gin_trgm_ops'


def upgrade() -> None:
    op.add_column("devices", sa.Column("risk", sa.Float(), nullable=True))
    op.add_column("devices", sa.Column("policy_status", sa.String(length=16), nullable=True))
    dialect = op.get_bind().dialect.name
    opclass = _trigram_opclass() if dialect == "postgresql" else None
    if dialect == "postgresql":  # index builds over 1,000,000 rows (as store.bulk does for imports)
        op.execute("SET LOCAL maintenance_work_mem = '512MB'")
    if opclass is not None:  # replaced below anyway: not kept up to date through the backfill
        op.execute(f"DROP INDEX {PG_DEVICES_INDEX}")
    op.execute(BACKFILL["postgresql" if dialect == "postgresql" else "sqlite"])
    for name, columns in INDEXES.items():
        op.create_index(name, "devices", list(columns), unique=False)
    op.create_table(
        "aggregate_cache",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("generation", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_aggregate_cache")),
    )
    if opclass is not None:
        op.execute(f"CREATE INDEX {PG_DEVICES_INDEX} ON devices USING gin (({PG_INDEX_EXPR}) {opclass})")
    if dialect == "postgresql":
        op.execute("ANALYZE devices")  # the new columns' and index expression's statistics


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql" and (opclass := _trigram_opclass()) is not None:
        op.execute(f"DROP INDEX {PG_DEVICES_INDEX}")
        op.execute(f"CREATE INDEX {PG_DEVICES_INDEX} ON devices USING gin (({SEARCH_EXPR}) {opclass})")
    op.drop_table("aggregate_cache")
    for name in INDEXES:
        op.drop_index(name, table_name="devices")
    # plain DROP COLUMN (SQLite >= 3.35): no batch rebuild, so the search triggers stay
    op.drop_column("devices", "policy_status")
    op.drop_column("devices", "risk")
