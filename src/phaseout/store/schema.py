"""Table definitions (SQLAlchemy Core).

Free-text columns have no length limit: every cell is already capped when a file is read
(``ingest.tables.MAX_CELL_CHARS``), and PostgreSQL would otherwise refuse a long value that
SQLite accepts.

Core tables rather than ORM classes: imports write a million rows at a time through
``executemany`` and the web layer reads pages of plain rows, so there is nothing for an
identity map to do.  Every change to these tables needs an Alembic revision in
``migrations/versions`` (a test compares the two).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

sites = Table(
    "sites",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String, nullable=False, unique=True),
    Column("name", String, nullable=False, server_default=""),
    Column("region", String, nullable=False, server_default=""),
    Column("address", String, nullable=False, server_default=""),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("sensitivity", String(16), nullable=False, server_default="standard"),
    Column("next_maintenance", Date),
    Column("maintenance_cycle_months", Integer),
    Column("site_type", String, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("sensitivity in ('sensitive', 'standard')", name="sensitivity"),
)

import_batches = Table(
    "import_batches",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),  # devices | sites
    Column("file_name", String, nullable=False),
    Column("checksum", String(64), nullable=False),  # sha256 of the file's bytes
    Column("sheet", String),
    Column("status", String(16), nullable=False),  # ok | partial | failed
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("rows_total", Integer, nullable=False, server_default="0"),
    Column("rows_imported", Integer, nullable=False, server_default="0"),
    Column("rows_bad", Integer, nullable=False, server_default="0"),
    Column("created", Integer, nullable=False, server_default="0"),
    Column("updated", Integer, nullable=False, server_default="0"),
    Column("sites_created", Integer, nullable=False, server_default="0"),
    Column("mapping", Text, nullable=False, server_default="{}"),  # JSON: column header -> field
    Column("errors", Text, nullable=False, server_default="[]"),  # JSON: first N row errors
    Column("message", Text, nullable=False, server_default=""),
)

devices = Table(
    "devices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id")),
    Column("ip", String),
    Column("mac", String),
    Column("hostname", String),
    Column("serial", String),
    Column("manufacturer", String),
    Column("brand", String),
    Column("model", String),
    Column("firmware", String),
    Column("description", String),
    Column("device_type", String(32), nullable=False, server_default="unknown"),
    Column("parent_id", Integer, ForeignKey("devices.id")),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("batch_id", Integer, ForeignKey("import_batches.id")),  # batch that created it
    # identification (phaseout.identify), recomputed whenever the knowledge changes
    Column("vendor", String(32)),  # maker of hardware and firmware, or "unknown"
    Column("label", String),  # brand on the box
    Column("relation", String(16)),  # own | sub-brand | oem | formerly-owned | unknown
    Column("id_model", String),
    Column("id_type", String(32)),
    Column("form_factor", String(32)),
    Column("megapixels", Integer),
    Column("confidence", Float),
    Column("evidence_key", String(16)),  # -> evidence.key: the rules that fired (shared by identical results)
    Column("knowledge", String(16)),  # version of the knowledge that made the identification
    Column("asset_id", String),  # the organisation's own tag (Asset ID, Camera ID...), matched after MAC/serial
    Column("fingerprint", String(16)),  # digest of a keyless row's values: re-imports match it (estate.match)
    Column("channel", String(16)),  # input on the parent recorder: D3 (IP), A3 (analogue)
    Column("channel_state", String(16)),  # online | offline | unknown | missing (left its recorder's list)
    # the stored assessment's risk and policy status, kept in step by the assessment writer (0013):
    # the listing sorts and filters on them beside the device's own columns (top 50 by risk of
    # 285,000 Dahua devices is an index walk, not a join of every assessment and a sort)
    Column("risk", Float),
    Column("policy_status", String(16)),
    CheckConstraint("status in ('active', 'replaced', 'retired')", name="status"),
    Index(None, "mac"),
    Index(None, "asset_id"),
    Index(None, "parent_id"),
    Index(None, "site_id", "ip"),
    # a scan that names no site matches a host to every holder of its address (0014; the
    # serial-tail and irregular-serial indexes of store/match_candidates.py live beside it)
    Index(None, "ip"),
    Index(None, "vendor"),
    Index(None, "batch_id"),  # the devices a batch created: alert rules after every import and scan (0010)
    # the listing's order is (key, id) or its exact reverse: one index per sort key serves both (0013)
    Index(None, "risk", "id"),
    Index(None, "vendor", "risk", "id"),
    Index(None, "policy_status", "risk", "id"),
    Index(None, "model", "id"),
)

evidence = Table(
    "evidence",
    metadata,
    Column("key", String(16), primary_key=True),  # sha256 of the body, first 16 hex digits
    Column("body", Text, nullable=False),  # JSON list of evidence objects
)

observations = Table(
    "observations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("device_id", Integer, ForeignKey("devices.id"), nullable=False),
    Column("batch_id", Integer, ForeignKey("import_batches.id")),
    Column("kind", String(32), nullable=False),  # inventory | mac | http | rtsp | onvif | ...
    Column("source", String, nullable=False),  # e.g. "import:cameras.xlsx#row=12"
    Column("observed_at", DateTime(timezone=True), nullable=False),
    Column("payload", Text, nullable=False),  # JSON, the observation as `phaseout identify` reads it
    Column("size_bytes", Integer, nullable=False),  # size before any truncation
    Column("truncated", Boolean, nullable=False, server_default=false()),
    Index(None, "device_id"),
    Index(None, "batch_id"),  # what a batch touched: alert rules after every import and scan (0010)
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

assessments = Table(
    "assessments",
    metadata,
    Column("device_id", Integer, ForeignKey("devices.id"), primary_key=True),
    Column("risk", Float, nullable=False),
    Column("findings", Text, nullable=False),  # JSON list: policy, vulnerability and exposure findings
    Column("risk_parts", Text, nullable=False),  # JSON list: the points and where each comes from
    Column("mitigations", Text, nullable=False),  # JSON list: what to do until replaced, how to verify
    Column("packs", Text, nullable=False),  # JSON list: the policy packs applied
    Column("assessed_at", DateTime(timezone=True), nullable=False),
    Column("deadline", Date),  # earliest removal deadline of its policy findings (dashboard, reports)
    Column("policy_status", String(16)),  # most pressing policy status: breach | due | unknown | applies
    Index(None, "risk"),
    Index(None, "deadline"),  # deadlines passed: the alert rule, without reading every assessment (0010)
)

plans = Table(
    "plans",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String, nullable=False),  # scenario name
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),  # optimal | feasible | infeasible | no-solution
    Column("objective", Float),  # risk-exposure
    Column("settings", Text, nullable=False),  # JSON: the planning settings used
    Column("problem", Text, nullable=False),  # JSON: problem.json
    Column("result", Text, nullable=False),  # JSON: plan.json
    Column("details", Text, nullable=False),  # JSON: unmatched devices, notes, period dates, cameras per site
    Index(None, "name"),
)

plan_visits = Table(
    "plan_visits",
    metadata,
    Column("plan_id", Integer, ForeignKey("plans.id"), primary_key=True),
    Column("package", String, primary_key=True),  # visit id, e.g. "S0042#2"
    Column("site", String, nullable=False),
    Column("period", String),  # period id, or null when unscheduled
    Column("period_index", Integer),
    Column("devices", Integer, nullable=False),
    Column("risk", Float, nullable=False),
    Column("cost", Float, nullable=False),
    Column("hours", Float, nullable=False),
    Column("swaps", Text, nullable=False),  # JSON list: device, type, old, ip, sku, cost, hours
    Index(None, "plan_id", "site"),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", String, nullable=False),  # argon2id
    Column("disabled", Boolean, nullable=False, server_default=false()),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("role in ('viewer', 'planner', 'admin')", name="role"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("name", String, nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 of the token; the token is shown once
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_used", DateTime(timezone=True)),
    Column("revoked", Boolean, nullable=False, server_default=false()),
    Column("expires_at", DateTime(timezone=True)),  # None: never expires
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 of the cookie's value
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String, nullable=False),  # user name, or "cli:<os user>"
    Column("action", String(64), nullable=False),  # e.g. work-order.status, policy.use, plan.save
    Column("entity", String(32), nullable=False),  # device | site | plan | work-order | policy | waiver | user | import
    Column("entity_id", String, nullable=False),
    Column("before", Text, nullable=False, server_default="null"),  # JSON
    Column("after", Text, nullable=False, server_default="null"),  # JSON
    Column("seq", Integer, nullable=False, unique=True),  # position in the hash chain (store.audit)
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index(None, "entity", "entity_id"),
)

audit_head = Table(  # one row: the newest link of the audit chain; writers lock it to take turns
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
    CheckConstraint("id = 1", name="single"),
)

login_throttle = Table(  # failed logins per client address and per existing user, shared by all workers
    "login_throttle",
    metadata,
    Column("key", String(200), primary_key=True),  # "ip:<address or /64>" or "user:<id>"
    Column("failures", Integer, nullable=False),
    Column("window_start", DateTime(timezone=True), nullable=False),
    Index(None, "window_start"),
)

work_orders = Table(
    "work_orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("plan_id", Integer, ForeignKey("plans.id"), nullable=False),
    Column("package", String, nullable=False),  # the plan's visit id
    Column("site", String, nullable=False),
    Column("region", String, nullable=False, server_default=""),
    Column("period", String),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False, server_default=""),  # why blocked
    Column("blocked_from", String(16)),  # the status it was blocked in, to resume
    Column("cameras_before", Integer, nullable=False, server_default="0"),  # active cameras at the site when made
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String, nullable=False, server_default=""),
    CheckConstraint("status in ('planned', 'scheduled', 'in-progress', 'done', 'verified', 'blocked')", name="status"),
    Index(None, "site"),
)

work_order_devices = Table(
    "work_order_devices",
    metadata,
    Column("work_order_id", Integer, ForeignKey("work_orders.id"), primary_key=True),
    Column("device_id", Integer, ForeignKey("devices.id"), primary_key=True),
    Column("sku", String, nullable=False),
    Column("old_serial", String),
    Column("old_mac", String),
    Column("new_serial", String),
    Column("new_mac", String),
    Column("done_on", Date),
    Column("verification", String(16), nullable=False, server_default="pending"),  # pending | passed | exception
    Column("detail", Text, nullable=False, server_default=""),
)

waivers = Table(
    "waivers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("device_id", Integer, ForeignKey("devices.id"), nullable=False),
    Column("reason", Text, nullable=False),
    Column("approver", String, nullable=False),
    Column("expires", Date, nullable=False),
    Column("controls", Text, nullable=False),  # compensating controls
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String, nullable=False),
    Column("revoked", Boolean, nullable=False, server_default=false()),
    Index(None, "device_id"),
)

#: One row per scan: exactly what it probed, from where, and whether it finished.  Verification
#: trusts a silence only from a scan whose status is ``complete`` (issue 13): an interrupted
#: scan, or one stored before this table existed (``legacy``), proves nothing about a host.
scans = Table(
    "scans",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("batch_id", Integer, ForeignKey("import_batches.id"), nullable=False, unique=True),
    Column("vantage", String(16)),  # core | camera | guest | internet | None (not said)
    Column("site_code", String),
    Column("targets", Text, nullable=False, server_default="[]"),  # JSON list as the user gave them
    Column("ports", Text, nullable=False, server_default="[]"),  # JSON list of TCP ports probed
    Column("status", String(16), nullable=False),  # complete | interrupted | legacy
    Column("hosts_probed", Integer, nullable=False, server_default="0"),
    Column("hosts_answered", Integer, nullable=False, server_default="0"),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    CheckConstraint("status in ('complete', 'interrupted', 'legacy')", name="status"),
)

#: Every host a scan probed and what became of it: ``answered`` (ports listed), ``silent`` (the
#: probe finished and nothing answered) or ``incomplete`` (deadline or interruption: proves nothing).
scan_hosts = Table(
    "scan_hosts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("scan_id", Integer, ForeignKey("scans.id"), nullable=False),
    Column("ip", String, nullable=False),
    Column("state", String(16), nullable=False),
    Column("ports_open", Text, nullable=False, server_default="[]"),
    Column("device_id", Integer, ForeignKey("devices.id")),
    CheckConstraint("state in ('answered', 'silent', 'incomplete')", name="state"),
    Index(None, "scan_id"),
    Index(None, "ip"),
    Index(None, "device_id"),
)

# -- alerts (migration 0010): rules sent to destinations, and the outbox that delivers them --------

#: One alert: a destination (webhook, e-mail, syslog, file) and the rules it receives.
alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),  # webhook | email | syslog | file
    Column("config", Text, nullable=False),  # JSON, checked by phaseout.alert.destinations
    Column("secret", String, nullable=False, server_default=""),  # the webhook's HMAC key (never listed)
    Column("rules", Text, nullable=False),  # JSON list: {"rule": id, param: [values]}
    Column("enabled", Boolean, nullable=False, server_default=true()),
    Column("since_batch", Integer, nullable=False, server_default="0"),  # batches up to this one are not news
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String, nullable=False),
    CheckConstraint("kind in ('webhook', 'email', 'syslog', 'file')", name="kind"),
)

#: Import and scan batches the alert rules have looked at (each exactly once).
alert_evaluated = Table(
    "alert_evaluated",
    metadata,
    Column("batch_id", Integer, ForeignKey("import_batches.id"), primary_key=True),
    Column("evaluated_at", DateTime(timezone=True), nullable=False),
)

#: Messages to deliver: one row per (alert message, destination), written in the transaction
#: that records the occurrences, sent and retried with back-off by ``phaseout alert deliver``.
alert_outbox = Table(
    "alert_outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("payload", Text, nullable=False),  # JSON: what the destination receives
    Column("status", String(16), nullable=False),  # pending | sending | delivered | failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("claimed_until", DateTime(timezone=True)),  # a deliverer's lease while sending
    Column("claim", String(32)),  # the deliverer's token: only the claimant marks the outcome
    Column("last_error", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    CheckConstraint("status in ('pending', 'sending', 'delivered', 'failed')", name="status"),
    Index(None, "status", "next_attempt_at"),
    Index(None, "alert_id"),
)

#: Every occurrence an alert fired for, by dedupe key (rule + device + occurrence): recorded
#: once, so re-evaluating never sends it twice.
alert_occurrences = Table(
    "alert_occurrences",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False),
    Column("key", String(300), nullable=False),
    Column("device_id", Integer),  # not a foreign key (outlives the row); none for a group key
    Column("outbox_id", Integer, ForeignKey("alert_outbox.id"), nullable=False),
    Column("fired_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("alert_id", "key"),
)

# --- collectors, saved scan definitions and scan jobs (migration 0011) ------------------------

#: A site collector: a small process on a site machine that scans only ``scopes`` (JSON list of
#: CIDR) for ``sites`` (JSON list of site codes).  The enrolment code and the credential are kept
#: as sha256 digests only (each shown once); a revoked collector is refused on every call.
collectors = Table(
    "collectors",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("sites", Text, nullable=False, server_default="[]"),
    Column("scopes", Text, nullable=False, server_default="[]"),
    Column("code_hash", String(64), unique=True),  # the one-time enrolment code, until used
    Column("code_expires_at", DateTime(timezone=True)),
    Column("token_hash", String(64), unique=True),  # the collector's credential, once enrolled
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String, nullable=False, server_default=""),
    Column("enrolled_at", DateTime(timezone=True)),
    Column("last_contact", DateTime(timezone=True)),  # the server's clock, at every call
    Column("version", String(64), nullable=False, server_default=""),
    Column("queue_length", Integer, nullable=False, server_default="0"),
    Column("health", Text, nullable=False, server_default="{}"),  # JSON the collector reported
    Column("revoked", Boolean, nullable=False, server_default=false()),
)

#: A saved scan: what ``phaseout scan --definition NAME`` runs, and what jobs are made from.
scan_definitions = Table(
    "scan_definitions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("targets", Text, nullable=False),  # JSON list
    Column("scope", Text, nullable=False),  # JSON list of CIDR
    Column("ports", Text, nullable=False),  # JSON list of TCP ports
    Column("vantage", String(16)),
    Column("site_code", String),
    Column("schedule", String(100)),  # "every 6h", "@daily", "0 2 * * *", or None (on demand)
    Column("collector_id", Integer, ForeignKey("collectors.id")),  # None: run by the server itself
    Column("last_run_at", DateTime(timezone=True)),  # when the newest job was made from it
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String, nullable=False, server_default=""),
)

#: One run of a definition: ``pending`` until claimed; ``claimed`` with a lease that a dead
#: claimer lets expire (then it is offered again); ``done`` (``scan_id`` names what it stored),
#: ``failed`` or ``refused`` (outside the collector's scopes).  ``spec`` is the definition as it
#: was when the job was made (JSON), so editing a definition never changes a running job.
scan_jobs = Table(
    "scan_jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("definition_id", Integer, ForeignKey("scan_definitions.id")),
    Column("collector_id", Integer, ForeignKey("collectors.id")),
    Column("spec", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(16), nullable=False),  # schedule | manual
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("claimed_by", String),
    Column("claimed_at", DateTime(timezone=True)),
    Column("lease_until", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("finished_at", DateTime(timezone=True)),
    Column("scan_id", Integer, ForeignKey("scans.id")),
    Column("error", Text, nullable=False, server_default=""),
    CheckConstraint("status in ('pending', 'claimed', 'done', 'failed', 'refused')", name="status"),
    Index(None, "status", "collector_id"),
    Index(None, "definition_id"),
)

#: Receipts of collector uploads: an upload carries its own id, and one that arrives again (a
#: retry after a lost answer, a replay) is acknowledged with the first receipt, never merged twice.
collector_uploads = Table(
    "collector_uploads",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("collector_id", Integer, ForeignKey("collectors.id"), nullable=False),
    Column("upload_id", String(64), nullable=False),
    Column("job_id", Integer, ForeignKey("scan_jobs.id")),
    Column("scan_id", Integer, ForeignKey("scans.id")),
    Column("hosts", Integer, nullable=False, server_default="0"),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index(None, "collector_id", "upload_id", unique=True),
)

#: Estate-wide aggregates (the overview, the site table, findings...) as computed for one store
#: generation, shared by every web worker and kept across restarts: the first worker to need one
#: computes it (tens of seconds at 1,000,000 devices) and the others read it (0013).  ``value``
#: is NULL while a worker computes it since ``started_at``; any write changes the generation, so
#: a stored value is never read for another one.
aggregate_cache = Table(
    "aggregate_cache",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("generation", String(64), nullable=False),
    Column("value", Text),  # JSON
    Column("started_at", DateTime(timezone=True), nullable=False),
)
