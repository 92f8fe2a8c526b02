"""Tables of governance: retention policies and erasure jobs (ids and numbers only)."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table

from server.db_metadata import metadata

#: How long a project keeps what it holds (server.retention): days after acceptance for
#: audio and labels, days after the last save for drafts; None keeps it (or the data
#: class's default applies when the project has no row).
retention_policies = Table(
    "retention_policies",
    metadata,
    Column("project_id", String(64), ForeignKey("projects.id"), primary_key=True),
    Column("audio_days", Integer, nullable=True),
    Column("label_days", Integer, nullable=True),
    Column("draft_days", Integer, nullable=True),
    Column("updated_at", Integer, nullable=False),
)

#: Erasure jobs (server.erasure): one row per request, written before anything is
#: destroyed, so a job interrupted by a crash is finished at the next start. Ids only:
#: a subject is named by its keyed digest.
erasures = Table(
    "erasures",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("scope", String(16), nullable=False),  # segment, task, subject, project, retention
    Column("target", String(64), nullable=False),
    Column("project_id", String(64), ForeignKey("projects.id"), nullable=False),
    Column("requested_by", String(64), nullable=True),
    Column("state", String(16), nullable=False),  # running, done
    Column("created_at", Integer, nullable=False),
    Column("finished_at", Integer, nullable=True),
    #: The index of the job's ``erasure_done`` leaf in the project's audit log.
    Column("done_leaf", Integer, nullable=True),
)

#: What one erasure job destroys, item by item: each item is erased in one transaction
#: with its audit leaf (``leaf_seq``), all or nothing.
erasure_items = Table(
    "erasure_items",
    metadata,
    Column("erasure_id", String(64), ForeignKey("erasures.id"), primary_key=True),
    Column("kind", String(16), primary_key=True),  # segment, labels, drafts, project
    Column("item_id", String(64), primary_key=True),
    Column("done_at", Integer, nullable=True),
    Column("leaf_seq", Integer, nullable=True),
)
