"""The schema of every Cordon data directory made before versioned migrations.

Why a frozen copy rather than ``metadata.create_all``: a revision must make the
same tables tomorrow as today. ``create_all`` on the live metadata would also make
whatever a later revision adds, and that revision would then fail on every fresh
database. So these tables were generated once by Alembic's autogenerate from the
metadata at this revision and are never edited; :data:`BASELINE` is also what
:mod:`server.schema_version` brings a pre-migration data directory to (missing
tables, missing nullable columns) and checks it against before stamping it.

``Integer`` compiles to ``BIGINT`` on PostgreSQL through :mod:`server.dialect`, as
the tables in ``server/db.py`` do.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.dialect  # noqa: F401 - Integer is BIGINT on PostgreSQL, as in server/db.py

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

#: The tables as they were at this revision (never edited after it shipped).
BASELINE = sa.MetaData()

sa.Table(
    "access_events",
    BASELINE,
    sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("event_id", sa.String(length=36), nullable=False),
    sa.Column("source", sa.String(length=8), nullable=False),
    sa.Column("action", sa.String(length=32), nullable=False),
    sa.Column("outcome", sa.String(length=16), nullable=False),
    sa.Column("reason", sa.String(length=64), nullable=True),
    sa.Column("user_id", sa.String(length=64), nullable=True),
    sa.Column("device_id", sa.String(length=64), nullable=True),
    sa.Column("project_id", sa.String(length=64), nullable=True),
    sa.Column("task_id", sa.String(length=64), nullable=True),
    sa.Column("segment_id", sa.String(length=64), nullable=True),
    sa.Column("position_ms", sa.Integer(), nullable=True),
    sa.Column("verified", sa.Boolean(), nullable=False),
    sa.Column("client_time", sa.Float(), nullable=True),
    sa.Column("server_time", sa.Float(), nullable=False),
    sa.Column("remote_addr", sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint("seq"),
    sa.UniqueConstraint("event_id"),
)

sa.Table(
    "audit_checkpoints",
    BASELINE,
    sa.Column("log_id", sa.String(length=64), nullable=False),
    sa.Column("size", sa.Integer(), nullable=False),
    sa.Column("root", sa.LargeBinary(), nullable=False),
    sa.Column("note", sa.String(length=4096), nullable=False),
    sa.Column("created_at", sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint("log_id", "size"),
)

sa.Table(
    "audit_heads",
    BASELINE,
    sa.Column("log_id", sa.String(length=64), nullable=False),
    sa.Column("size", sa.Integer(), nullable=False),
    sa.Column("frontier", sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint("log_id"),
)

sa.Table(
    "audit_tiles",
    BASELINE,
    sa.Column("log_id", sa.String(length=64), nullable=False),
    sa.Column("level", sa.Integer(), nullable=False),
    sa.Column("idx", sa.Integer(), nullable=False),
    sa.Column("hashes", sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint("log_id", "level", "idx"),
)

sa.Table(
    "idempotency_keys",
    BASELINE,
    sa.Column("user_id", sa.String(length=64), nullable=False),
    sa.Column("key", sa.String(length=128), nullable=False),
    sa.Column("endpoint", sa.String(length=128), nullable=False),
    sa.Column("request_hash", sa.LargeBinary(), nullable=False),
    sa.Column("response", sa.String(), nullable=True),
    sa.Column("created_at", sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint("user_id", "key"),
)

sa.Table(
    "identity_providers",
    BASELINE,
    sa.Column("name", sa.String(length=64), nullable=False),
    sa.Column("issuer", sa.String(length=512), nullable=False),
    sa.Column("audience", sa.String(length=256), nullable=False),
    sa.Column("jwks_uri", sa.String(length=512), nullable=False),
    sa.Column("ca_pem", sa.String(length=20000), nullable=True),
    sa.Column("algorithms", sa.String(length=128), nullable=False),
    sa.Column("clock_skew_s", sa.Integer(), nullable=False),
    sa.Column("username_claim", sa.String(length=64), nullable=False),
    sa.Column("groups_claim", sa.String(length=64), nullable=False),
    sa.Column("created_at", sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint("name"),
)

sa.Table(
    "idp_token_uses",
    BASELINE,
    sa.Column("digest", sa.String(length=64), nullable=False),
    sa.Column("expires_at", sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint("digest"),
)

sa.Table(
    "projects",
    BASELINE,
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("name", sa.String(length=128), nullable=False),
    sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
    sa.Column("created_at", sa.Integer(), nullable=False),
    sa.Column("data_class", sa.String(length=16), nullable=True),
    sa.Column("erased_at", sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("name"),
)

sa.Table(
    "revocations",
    BASELINE,
    sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("user_id", sa.String(length=64), nullable=False),
    sa.Column("device_id", sa.String(length=64), nullable=True),
    sa.Column("created_at", sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint("seq"),
)

sa.Table(
    "server_settings",
    BASELINE,
    sa.Column("name", sa.String(length=64), nullable=False),
    sa.Column("value", sa.String(length=512), nullable=False),
    sa.PrimaryKeyConstraint("name"),
)

sa.Table(
    "users",
    BASELINE,
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("username", sa.String(length=64), nullable=False),
    sa.Column("display_name", sa.String(length=128), nullable=False),
    sa.Column("is_demo", sa.Boolean(), nullable=False),
    sa.Column("created_at", sa.Integer(), nullable=False),
    sa.Column("disabled_at", sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("username"),
)

sa.Table(
    "access_rules",
    BASELINE,
    sa.Column("project_id", sa.String(length=64), nullable=False),
    sa.Column("hours", sa.String(length=64), nullable=True),
    sa.Column("timezone", sa.String(length=64), nullable=True),
    sa.Column("managed_only", sa.Boolean(), nullable=False),
    sa.Column("networks", sa.String(length=1024), nullable=True),
    sa.ForeignKeyConstraint(
        ["project_id"],
        ["projects.id"],
    ),
    sa.PrimaryKeyConstraint("project_id"),
)

sa.Table(
    "annotation_policies",
    BASELINE,
    sa.Column("project_id", sa.String(length=64), nullable=False),
    sa.Column("per_recording", sa.Integer(), nullable=False),
    sa.Column("updated_at", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(
        ["project_id"],
        ["projects.id"],
    ),
    sa.PrimaryKeyConstraint("project_id"),
)

sa.Table(
    "audit_leaves",
    BASELINE,
    sa.Column("log_id", sa.String(length=64), nullable=False),
    sa.Column("idx", sa.Integer(), nullable=False),
    sa.Column("event_seq", sa.Integer(), nullable=False),
    sa.Column("data", sa.LargeBinary(), nullable=False),
    sa.Column("addr_salt", sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(
        ["event_seq"],
        ["access_events.seq"],
    ),
    sa.PrimaryKeyConstraint("log_id", "idx"),
    sa.UniqueConstraint("event_seq"),
)

sa.Table(
    "context_policies",
    BASELINE,
    sa.Column("project_id", sa.String(length=64), nullable=False),
    sa.Column("max_s", sa.Integer(), nullable=False),
    sa.Column("approval", sa.Boolean(), nullable=False),
    sa.Column("per_day", sa.Integer(), nullable=False),
    sa.Column("updated_at", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(
        ["project_id"],
        ["projects.id"],
    ),
    sa.PrimaryKeyConstraint("project_id"),
)

sa.Table(
    "devices",
    BASELINE,
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("user_id", sa.String(length=64), nullable=False),
    sa.Column("name", sa.String(length=128), nullable=False),
    sa.Column("public_key", sa.LargeBinary(), nullable=False),
    sa.Column("fingerprint", sa.String(length=64), nullable=False),
    sa.Column("created_at", sa.Integer(), nullable=False),
    sa.Column("revoked_at", sa.Integer(), nullable=True),
    sa.Column("jkt", sa.String(length=64), nullable=True),
    sa.Column("state", sa.String(length=16), nullable=True),
    sa.Column("managed", sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(
        ["user_id"],
        ["users.id"],
    ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("fingerprint"),
)

sa.Table(
    "erasures",
    BASELINE,
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("scope", sa.String(length=16), nullable=False),
    sa.Column("target", sa.String(length=64), nullable=False),
    sa.Column("project_id", sa.String(length=64), nullable=False),
    sa.Column("requested_by", sa.String(length=64), nullable=True),
    sa.Column("state", sa.String(length=16), nullable=False),
    sa.Column("created_at", sa.Integer(), nullable=False),
    sa.Column("finished_at", sa.Integer(), nullable=True),
    sa.Column("done_leaf", sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(
        ["project_id"],
        ["projects.id"],
    ),
    sa.PrimaryKeyConstraint("id"),
)

sa.Table(
    "gold_policies",
    BASELINE,
    sa.Column("project_id", sa.String(length=64), nullable=False),
    sa.Column("rate_percent", sa.Integer(), nullable=False),
    sa.Column("updated_at", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(
        ["project_id"],
        ["projects.id"],
    ),
    sa.PrimaryKeyConstraint("project_id"),
)

sa.Table(
    "idp_role_rules",
    BASELINE,
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("provider", sa.String(length=64), nullable=False),
    sa.Column("claim_value", sa.String(length=256), nullable=False),
    sa.Column("project_id", sa.String(length=64), nullable=False),
    sa.Column("role", sa.String(length=16), nullable=False),
    sa.Column("created_at", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(
        ["project_id"],
        ["projects.id"],
    ),
    sa.ForeignKeyConstraint(
        ["provider"],
        ["identity_providers.name"],
    ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("provider", "claim_value", "project_id"),
)

sa.Table(
    "memberships",
    BASELINE,
    sa.Column("user_id", sa.String(length=64), nullable=False),
    sa.Column("project_id", sa.String(length=64), nullable=False),
    sa.Column("role", sa.String(length=16), nullable=False),
    sa.Column("granted_by", sa.String(length=80), nullable=True),
    sa.ForeignKeyConstraint(
        ["project_id"],
        ["projects.id"],
    ),
    sa.ForeignKeyConstraint(
        ["user_id"],
        ["users.id"],
    ),
    sa.PrimaryKeyConstraint("user_id", "project_id"),
)

sa.Table(
    "project_policies",
    BASELINE,
    sa.Column("project_id", sa.String(length=64), nullable=False),
    sa.Column("submit_coverage", sa.Boolean(), nullable=False),
    sa.Column("accept_coverage", sa.Integer(), nullable=False),
    sa.Column("updated_at", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(
        ["project_id"],
        ["projects.id"],
    ),
    sa.PrimaryKeyConstraint("project_id"),
)

sa.Table(
    "project_schemas",
    BASELINE,
    sa.Column("project_id", sa.String(length=64), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("body", sa.LargeBinary(), nullable=False),
    sa.Column("digest", sa.String(length=64), nullable=False),
    sa.Column("created_at", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(
        ["project_id"],
        ["projects.id"],
    ),
    sa.PrimaryKeyConstraint("project_id", "version"),
)

sa.Table(
    "retention_policies",
    BASELINE,
    sa.Column("project_id", sa.String(length=64), nullable=False),
    sa.Column("audio_days", sa.Integer(), nullable=True),
    sa.Column("label_days", sa.Integer(), nullable=True),
    sa.Column("draft_days", sa.Integer(), nullable=True),
    sa.Column("updated_at", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(
        ["project_id"],
        ["projects.id"],
    ),
    sa.PrimaryKeyConstraint("project_id"),
)

sa.Table(
    "segments",
    BASELINE,
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("project_id", sa.String(length=64), nullable=False),
    sa.Column("title", sa.String(length=256), nullable=False),
    sa.Column("wrapped_data_key", sa.LargeBinary(), nullable=False),
    sa.Column("blob_name", sa.String(length=128), nullable=False),
    sa.Column("ciphertext_bytes", sa.Integer(), nullable=False),
    sa.Column("media_format", sa.String(length=16), nullable=False),
    sa.Column("sample_rate", sa.Integer(), nullable=False),
    sa.Column("channels", sa.Integer(), nullable=False),
    sa.Column("frames", sa.Integer(), nullable=False),
    sa.Column("created_at", sa.Integer(), nullable=False),
    sa.Column("data_class", sa.String(length=16), nullable=True),
    sa.Column("sealed_title", sa.LargeBinary(), nullable=True),
    sa.Column("title_ref", sa.String(length=64), nullable=True),
    sa.Column("subject_ref", sa.String(length=64), nullable=True),
    sa.Column("ciphertext_sha256", sa.String(length=64), nullable=True),
    sa.Column("plaintext_sha256", sa.String(length=64), nullable=True),
    sa.Column("erased_at", sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(
        ["project_id"],
        ["projects.id"],
    ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("blob_name"),
)

sa.Table(
    "server_admins",
    BASELINE,
    sa.Column("user_id", sa.String(length=64), nullable=False),
    sa.Column("created_at", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(
        ["user_id"],
        ["users.id"],
    ),
    sa.PrimaryKeyConstraint("user_id"),
)

sa.Table(
    "user_identities",
    BASELINE,
    sa.Column("provider", sa.String(length=64), nullable=False),
    sa.Column("subject", sa.String(length=255), nullable=False),
    sa.Column("user_id", sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(
        ["provider"],
        ["identity_providers.name"],
    ),
    sa.ForeignKeyConstraint(
        ["user_id"],
        ["users.id"],
    ),
    sa.PrimaryKeyConstraint("provider", "subject"),
)

sa.Table(
    "comparisons",
    BASELINE,
    sa.Column("segment_id", sa.String(length=64), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("output_ids", sa.String(length=2048), nullable=False),
    sa.ForeignKeyConstraint(
        ["segment_id"],
        ["segments.id"],
    ),
    sa.PrimaryKeyConstraint("segment_id"),
)

sa.Table(
    "device_sequence_gaps",
    BASELINE,
    sa.Column("device_id", sa.String(length=64), nullable=False),
    sa.Column("first_seq", sa.Integer(), nullable=False),
    sa.Column("last_seq", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(
        ["device_id"],
        ["devices.id"],
    ),
    sa.PrimaryKeyConstraint("device_id", "first_seq"),
)

sa.Table(
    "device_sequences",
    BASELINE,
    sa.Column("device_id", sa.String(length=64), nullable=False),
    sa.Column("high_seq", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(
        ["device_id"],
        ["devices.id"],
    ),
    sa.PrimaryKeyConstraint("device_id"),
)

sa.Table(
    "erasure_items",
    BASELINE,
    sa.Column("erasure_id", sa.String(length=64), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("item_id", sa.String(length=64), nullable=False),
    sa.Column("done_at", sa.Integer(), nullable=True),
    sa.Column("leaf_seq", sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(
        ["erasure_id"],
        ["erasures.id"],
    ),
    sa.PrimaryKeyConstraint("erasure_id", "kind", "item_id"),
)

sa.Table(
    "segment_windows",
    BASELINE,
    sa.Column("segment_id", sa.String(length=64), nullable=False),
    sa.Column("source_segment_id", sa.String(length=64), nullable=False),
    sa.Column("start_frame", sa.Integer(), nullable=False),
    sa.Column("end_frame", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(
        ["segment_id"],
        ["segments.id"],
    ),
    sa.ForeignKeyConstraint(
        ["source_segment_id"],
        ["segments.id"],
    ),
    sa.PrimaryKeyConstraint("segment_id"),
    sa.UniqueConstraint("source_segment_id", "start_frame", "end_frame"),
)

sa.Table(
    "tasks",
    BASELINE,
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("project_id", sa.String(length=64), nullable=False),
    sa.Column("segment_id", sa.String(length=64), nullable=False),
    sa.Column("assignee_id", sa.String(length=64), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("created_at", sa.Integer(), nullable=False),
    sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
    sa.Column("erased_at", sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(
        ["assignee_id"],
        ["users.id"],
    ),
    sa.ForeignKeyConstraint(
        ["project_id"],
        ["projects.id"],
    ),
    sa.ForeignKeyConstraint(
        ["segment_id"],
        ["segments.id"],
    ),
    sa.PrimaryKeyConstraint("id"),
)

sa.Table(
    "context_requests",
    BASELINE,
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("task_id", sa.String(length=64), nullable=False),
    sa.Column("user_id", sa.String(length=64), nullable=False),
    sa.Column("seconds", sa.Integer(), nullable=False),
    sa.Column("sealed_justification", sa.LargeBinary(), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("decided_by", sa.String(length=64), nullable=True),
    sa.Column("segment_id", sa.String(length=64), nullable=True),
    sa.Column("created_at", sa.Integer(), nullable=False),
    sa.Column("decided_at", sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(
        ["decided_by"],
        ["users.id"],
    ),
    sa.ForeignKeyConstraint(
        ["segment_id"],
        ["segments.id"],
    ),
    sa.ForeignKeyConstraint(
        ["task_id"],
        ["tasks.id"],
    ),
    sa.ForeignKeyConstraint(
        ["user_id"],
        ["users.id"],
    ),
    sa.PrimaryKeyConstraint("id"),
)

sa.Table(
    "gold_answers",
    BASELINE,
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("project_id", sa.String(length=64), nullable=False),
    sa.Column("segment_id", sa.String(length=64), nullable=False),
    sa.Column("source_task_id", sa.String(length=64), nullable=True),
    sa.Column("sealed_document", sa.LargeBinary(), nullable=False),
    sa.Column("created_at", sa.Integer(), nullable=False),
    sa.Column("retired_at", sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(
        ["project_id"],
        ["projects.id"],
    ),
    sa.ForeignKeyConstraint(
        ["segment_id"],
        ["segments.id"],
    ),
    sa.ForeignKeyConstraint(
        ["source_task_id"],
        ["tasks.id"],
    ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("segment_id"),
)

sa.Table(
    "gold_scores",
    BASELINE,
    sa.Column("task_id", sa.String(length=64), nullable=False),
    sa.Column("user_id", sa.String(length=64), nullable=False),
    sa.Column("revision", sa.Integer(), nullable=False),
    sa.Column("wer", sa.Float(), nullable=True),
    sa.Column("cer", sa.Float(), nullable=True),
    sa.Column("fields_matched", sa.Integer(), nullable=False),
    sa.Column("fields_total", sa.Integer(), nullable=False),
    sa.Column("score", sa.Float(), nullable=True),
    sa.Column("scored_at", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(
        ["task_id"],
        ["tasks.id"],
    ),
    sa.ForeignKeyConstraint(
        ["user_id"],
        ["users.id"],
    ),
    sa.PrimaryKeyConstraint("task_id"),
)

sa.Table(
    "key_grants",
    BASELINE,
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("task_id", sa.String(length=64), nullable=False),
    sa.Column("device_id", sa.String(length=64), nullable=False),
    sa.Column("expires_at", sa.Integer(), nullable=False),
    sa.Column("created_at", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(
        ["device_id"],
        ["devices.id"],
    ),
    sa.ForeignKeyConstraint(
        ["task_id"],
        ["tasks.id"],
    ),
    sa.PrimaryKeyConstraint("id"),
)

sa.Table(
    "labels",
    BASELINE,
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("task_id", sa.String(length=64), nullable=False),
    sa.Column("project_id", sa.String(length=64), nullable=False),
    sa.Column("author_id", sa.String(length=64), nullable=False),
    sa.Column("revision", sa.Integer(), nullable=False),
    sa.Column("sealed_transcript", sa.LargeBinary(), nullable=False),
    sa.Column("created_at", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(
        ["author_id"],
        ["users.id"],
    ),
    sa.ForeignKeyConstraint(
        ["project_id"],
        ["projects.id"],
    ),
    sa.ForeignKeyConstraint(
        ["task_id"],
        ["tasks.id"],
    ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("task_id", "revision"),
)

sa.Table(
    "review_comments",
    BASELINE,
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("task_id", sa.String(length=64), nullable=False),
    sa.Column("author_id", sa.String(length=64), nullable=False),
    sa.Column("revision", sa.Integer(), nullable=False),
    sa.Column("claim_seq", sa.Integer(), nullable=False),
    sa.Column("segment", sa.String(length=64), nullable=True),
    sa.Column("start_frame", sa.Integer(), nullable=True),
    sa.Column("end_frame", sa.Integer(), nullable=True),
    sa.Column("char_start", sa.Integer(), nullable=True),
    sa.Column("char_end", sa.Integer(), nullable=True),
    sa.Column("sealed_text", sa.LargeBinary(), nullable=False),
    sa.Column("created_at", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(
        ["author_id"],
        ["users.id"],
    ),
    sa.ForeignKeyConstraint(
        ["task_id"],
        ["tasks.id"],
    ),
    sa.PrimaryKeyConstraint("id"),
)

sa.Table(
    "task_transitions",
    BASELINE,
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("task_id", sa.String(length=64), nullable=False),
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.Column("step", sa.String(length=16), nullable=False),
    sa.Column("from_status", sa.String(length=16), nullable=False),
    sa.Column("to_status", sa.String(length=16), nullable=False),
    sa.Column("actor_id", sa.String(length=64), nullable=False),
    sa.Column("actor_role", sa.String(length=16), nullable=False),
    sa.Column("revision", sa.Integer(), nullable=True),
    sa.Column("sealed_reason", sa.LargeBinary(), nullable=True),
    sa.Column("created_at", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(
        ["actor_id"],
        ["users.id"],
    ),
    sa.ForeignKeyConstraint(
        ["task_id"],
        ["tasks.id"],
    ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("task_id", "seq"),
)

sa.Table(
    "gold_tasks",
    BASELINE,
    sa.Column("task_id", sa.String(length=64), nullable=False),
    sa.Column("gold_id", sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(
        ["gold_id"],
        ["gold_answers.id"],
    ),
    sa.ForeignKeyConstraint(
        ["task_id"],
        ["tasks.id"],
    ),
    sa.PrimaryKeyConstraint("task_id"),
)

sa.Table(
    "label_revisions",
    BASELINE,
    sa.Column("label_id", sa.String(length=64), nullable=False),
    sa.Column("task_id", sa.String(length=64), nullable=False),
    sa.Column("author_role", sa.String(length=16), nullable=False),
    sa.Column("base_revision", sa.Integer(), nullable=True),
    sa.Column("draft", sa.Boolean(), nullable=False),
    sa.Column("schema_version", sa.Integer(), nullable=True),
    sa.Column("client_version", sa.String(length=64), nullable=True),
    sa.Column("device_id", sa.String(length=64), nullable=True),
    sa.Column("ciphertext_sha256", sa.String(length=64), nullable=True),
    sa.Column("plaintext_sha256", sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(
        ["label_id"],
        ["labels.id"],
    ),
    sa.ForeignKeyConstraint(
        ["task_id"],
        ["tasks.id"],
    ),
    sa.PrimaryKeyConstraint("label_id"),
)


#: Single-column indexes, named as ``index=True`` names them.
_INDEXED = (
    ("idp_token_uses", "expires_at"),
    ("devices", "jkt"),
    ("segments", "subject_ref"),
    ("segments", "title_ref"),
    ("user_identities", "user_id"),
    ("context_requests", "task_id"),
    ("gold_answers", "project_id"),
    ("gold_scores", "user_id"),
    ("review_comments", "task_id"),
    ("gold_tasks", "gold_id"),
    ("label_revisions", "task_id"),
)
for _table, _column in _INDEXED:
    sa.Index(f"ix_{_table}_{_column}", BASELINE.tables[_table].c[_column])


def upgrade() -> None:
    """Create the baseline tables on an empty database."""
    BASELINE.create_all(op.get_bind())


def downgrade() -> None:
    """Nothing is below the baseline: dropping every table is not a downgrade."""
    raise NotImplementedError("the baseline cannot be downgraded")
