"""SQLite schema and engine (SQLAlchemy 2 Core).

WAL with ``synchronous=FULL``: a commit is on disk before the server answers,
which the audit rules (fail closed) depend on. Foreign keys are on.
The event ingest has its own engine (:func:`make_writer_engine`): it commits
many requests in one transaction, each inside its own SAVEPOINT, which needs
transactions begun by SQLAlchemy rather than by the sqlite3 module. Content is
never stored in clear here: labels and other task records are sealed under their
task's key, titles under the project key, segment audio lives in encrypted blobs,
and access events hold ids only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
    create_engine,
    event,
)

from server import dialect, schema_upgrade
from server.db_metadata import metadata

users = Table(
    "users",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(128), nullable=False),
    Column("is_demo", Boolean, nullable=False, default=False),
    Column("created_at", Integer, nullable=False),
    #: Set when an administrator disables the user: every token stops working at once.
    Column("disabled_at", Integer, nullable=True),
)

projects = Table(
    "projects",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("created_at", Integer, nullable=False),
    #: The project's data class (server.data_classes); None on older data: "internal".
    Column("data_class", String(16), nullable=True),
    #: Set when the whole project was erased: its key is destroyed (wrapped_key empty).
    Column("erased_at", Integer, nullable=True),
)

memberships = Table(
    "memberships",
    metadata,
    Column("user_id", String(64), ForeignKey("users.id"), primary_key=True),
    Column("project_id", String(64), ForeignKey("projects.id"), primary_key=True),
    Column("role", String(16), nullable=False),
    #: ``idp:<name>`` when an identity provider's claims granted it (and may take it
    #: back at the next sign-in); ``None`` when an administrator set it.
    Column("granted_by", String(80), nullable=True),
)

#: Server administrators: they manage identity providers, users and devices through
#: the admin API and hold no project role or content right by being one.
server_admins = Table(
    "server_admins",
    metadata,
    Column("user_id", String(64), ForeignKey("users.id"), primary_key=True),
    Column("created_at", Integer, nullable=False),
)

devices = Table(
    "devices",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(64), ForeignKey("users.id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("public_key", LargeBinary, nullable=False),
    Column("fingerprint", String(64), nullable=False, unique=True),
    Column("created_at", Integer, nullable=False),
    Column("revoked_at", Integer, nullable=True),
    #: RFC 7638 thumbprint of the workstation's DPoP signing key: requests proven by
    #: that key (for this user) are this device's.
    Column("jkt", String(64), nullable=True, index=True),
    #: ``pending`` until an administrator approves it (or ``approved``); ``None`` in a data
    #: directory from before approvals means approved.
    Column("state", String(16), nullable=True),
    #: Enrolled with IT's enrolment secret or a provider claim IT names: a managed
    #: workstation (attribute rules may require one).
    Column("managed", Boolean, nullable=True),
)

#: A project's attribute rules (``server.access_rules``); no row: none.
access_rules = Table(
    "access_rules",
    metadata,
    Column("project_id", String(64), ForeignKey("projects.id"), primary_key=True),
    Column("hours", String(64), nullable=True),
    Column("timezone", String(64), nullable=True),
    Column("managed_only", Boolean, nullable=False, default=False),
    Column("networks", String(1024), nullable=True),
)

#: Server-wide settings an administrator sets (``cordon-server device policy``).
server_settings = Table(
    "server_settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(512), nullable=False),
)

segments = Table(
    "segments",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("project_id", String(64), ForeignKey("projects.id"), nullable=False),
    Column("title", String(256), nullable=False),
    Column("wrapped_data_key", LargeBinary, nullable=False),
    Column("blob_name", String(128), nullable=False, unique=True),
    Column("ciphertext_bytes", Integer, nullable=False),
    Column("media_format", String(16), nullable=False),
    Column("sample_rate", Integer, nullable=False),
    Column("channels", Integer, nullable=False),
    Column("frames", Integer, nullable=False),
    Column("created_at", Integer, nullable=False),
    #: Stricter than the project's class if set at ingest (server.data_classes).
    Column("data_class", String(16), nullable=True),
    #: The title (often a file name) sealed under the project key; ``title`` then holds
    #: "" and ``title_ref`` a keyed digest for lookups (server.metadata_seal).
    Column("sealed_title", LargeBinary, nullable=True),
    Column("title_ref", String(64), nullable=True, index=True),
    #: A keyed digest of the data subject's id given at ingest (never the id itself):
    #: ``cordon-server erase --subject`` finds the subject's recordings by it.
    Column("subject_ref", String(64), nullable=True, index=True),
    #: SHA-256 of the ciphertext blob and of the plaintext input, for provenance.
    Column("ciphertext_sha256", String(64), nullable=True),
    Column("plaintext_sha256", String(64), nullable=True),
    #: Set when the recording was erased: its data key is destroyed (wrapped_data_key
    #: empty) and its blob deleted.
    Column("erased_at", Integer, nullable=True),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("project_id", String(64), ForeignKey("projects.id"), nullable=False),
    Column("segment_id", String(64), ForeignKey("segments.id"), nullable=False),
    Column("assignee_id", String(64), ForeignKey("users.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", Integer, nullable=False),
    #: The task's own key, wrapped under the project key: its labels, comments and
    #: reasons are sealed under it, so destroying it (erasure, label retention) makes
    #: every copy of those records unreadable. None: not made yet (made at first seal).
    Column("wrapped_key", LargeBinary, nullable=True),
    #: Set when the task's records were erased (its key destroyed).
    Column("erased_at", Integer, nullable=True),
)

labels = Table(
    "labels",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("task_id", String(64), ForeignKey("tasks.id"), nullable=False),
    Column("project_id", String(64), ForeignKey("projects.id"), nullable=False),
    Column("author_id", String(64), ForeignKey("users.id"), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("sealed_transcript", LargeBinary, nullable=False),
    Column("created_at", Integer, nullable=False),
    UniqueConstraint("task_id", "revision"),
)

#: A project's listening policy (server.listen_policy); no row: the defaults.
project_policies = Table(
    "project_policies",
    metadata,
    Column("project_id", String(64), ForeignKey("projects.id"), primary_key=True),
    Column("submit_coverage", Boolean, nullable=False),
    Column("accept_coverage", Integer, nullable=False),
    Column("updated_at", Integer, nullable=False),
)

#: What a stored revision is, beside the sealed document: the author's role when it was
#: stored (a reviewer's revision is a correction) and the revision it was based on.
#: Numbers and names only; written once with its label, never updated.
label_revisions = Table(
    "label_revisions",
    metadata,
    Column("label_id", String(64), ForeignKey("labels.id"), primary_key=True),
    Column("task_id", String(64), ForeignKey("tasks.id"), nullable=False, index=True),
    Column("author_role", String(16), nullable=False),
    Column("base_revision", Integer, nullable=True),
    Column("draft", Boolean, nullable=False),
    # Provenance (server.provenance): what the revision was made from and with.
    Column("schema_version", Integer, nullable=True),
    Column("client_version", String(64), nullable=True),
    Column("device_id", String(64), nullable=True),
    Column("ciphertext_sha256", String(64), nullable=True),
    Column("plaintext_sha256", String(64), nullable=True),
)

#: Every step of a task's lifecycle (app.domain.lifecycle), numbered per task. The
#: reason a reviewer gives (a rejection's) may quote the recording: sealed under the
#: project key like a label.
task_transitions = Table(
    "task_transitions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("task_id", String(64), ForeignKey("tasks.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("step", String(16), nullable=False),
    Column("from_status", String(16), nullable=False),
    Column("to_status", String(16), nullable=False),
    Column("actor_id", String(64), ForeignKey("users.id"), nullable=False),
    Column("actor_role", String(16), nullable=False),
    Column("revision", Integer, nullable=True),  # the newest handed-in revision then
    Column("sealed_reason", LargeBinary, nullable=True),
    Column("created_at", Integer, nullable=False),
    UniqueConstraint("task_id", "seq"),
)

#: A reviewer's comment on one revision, anchored to a segment (by its id), a time span
#: (frames), a character range of a segment's text, or the task as a whole. The anchor
#: is ids and numbers; the comment's words are sealed under the project key.
review_comments = Table(
    "review_comments",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("task_id", String(64), ForeignKey("tasks.id"), nullable=False, index=True),
    Column("author_id", String(64), ForeignKey("users.id"), nullable=False),
    Column("revision", Integer, nullable=False),
    #: The ``claim`` transition of the review round it was made in: the annotator reads
    #: it once that round ended in a decision.
    Column("claim_seq", Integer, nullable=False),
    Column("segment", String(64), nullable=True),
    Column("start_frame", Integer, nullable=True),
    Column("end_frame", Integer, nullable=True),
    Column("char_start", Integer, nullable=True),
    Column("char_end", Integer, nullable=True),
    Column("sealed_text", LargeBinary, nullable=False),
    Column("created_at", Integer, nullable=False),
)

#: A segment cut from a longer recording for a windowed task (server.windows): which
#: recording, and which frames of it. Frames and ids only.
segment_windows = Table(
    "segment_windows",
    metadata,
    Column("segment_id", String(64), ForeignKey("segments.id"), primary_key=True),
    Column("source_segment_id", String(64), ForeignKey("segments.id"), nullable=False),
    Column("start_frame", Integer, nullable=False),
    Column("end_frame", Integer, nullable=False),
    UniqueConstraint("source_segment_id", "start_frame", "end_frame"),
)

#: A project's context-unlock rules (server.context_unlock); no row: the defaults.
context_policies = Table(
    "context_policies",
    metadata,
    Column("project_id", String(64), ForeignKey("projects.id"), primary_key=True),
    Column("max_s", Integer, nullable=False),  # 0: no unlock
    Column("approval", Boolean, nullable=False),
    Column("per_day", Integer, nullable=False),
    Column("updated_at", Integer, nullable=False),
)

#: An annotator's request to hear ``seconds`` either side of their window, with the
#: typed justification sealed under the project key; ``segment_id`` is the cut that a
#: grant released.
context_requests = Table(
    "context_requests",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("task_id", String(64), ForeignKey("tasks.id"), nullable=False, index=True),
    Column("user_id", String(64), ForeignKey("users.id"), nullable=False),
    Column("seconds", Integer, nullable=False),
    Column("sealed_justification", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),  # pending, granted, denied
    Column("decided_by", String(64), ForeignKey("users.id"), nullable=True),
    Column("segment_id", String(64), ForeignKey("segments.id"), nullable=True),
    Column("created_at", Integer, nullable=False),
    Column("decided_at", Integer, nullable=True),
)

#: How many independent annotations each recording of a project gets (server.assignment);
#: no row: one.
annotation_policies = Table(
    "annotation_policies",
    metadata,
    Column("project_id", String(64), ForeignKey("projects.id"), primary_key=True),
    Column("per_recording", Integer, nullable=False),
    Column("updated_at", Integer, nullable=False),
)

#: Gold answers (server.gold): a recording's known-right document, sealed under the project
#: key (bound to the segment). Made from an accepted task or an answer file; retired
#: answers stop being handed out but keep scoring what was already handed in.
gold_answers = Table(
    "gold_answers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("project_id", String(64), ForeignKey("projects.id"), nullable=False, index=True),
    Column("segment_id", String(64), ForeignKey("segments.id"), nullable=False, unique=True),
    Column("source_task_id", String(64), ForeignKey("tasks.id"), nullable=True),
    Column("sealed_document", LargeBinary, nullable=False),
    Column("created_at", Integer, nullable=False),
    Column("retired_at", Integer, nullable=True),
)

#: Which tasks are gold tasks. A task row of its own, never a column on ``tasks``: an
#: annotator's answers are built from ``tasks`` and cannot show it.
gold_tasks = Table(
    "gold_tasks",
    metadata,
    Column("task_id", String(64), ForeignKey("tasks.id"), primary_key=True),
    Column("gold_id", String(64), ForeignKey("gold_answers.id"), nullable=False, index=True),
)

#: The score of a gold task's newest hand-in against its answer (figures, no content).
gold_scores = Table(
    "gold_scores",
    metadata,
    Column("task_id", String(64), ForeignKey("tasks.id"), primary_key=True),
    Column("user_id", String(64), ForeignKey("users.id"), nullable=False, index=True),
    Column("revision", Integer, nullable=False),
    Column("wer", Float, nullable=True),
    Column("cer", Float, nullable=True),
    Column("fields_matched", Integer, nullable=False),
    Column("fields_total", Integer, nullable=False),
    Column("score", Float, nullable=True),
    Column("scored_at", Integer, nullable=False),
)

#: Percent of each annotator's tasks that are gold tasks (no row: none are mixed in).
gold_policies = Table(
    "gold_policies",
    metadata,
    Column("project_id", String(64), ForeignKey("projects.id"), primary_key=True),
    Column("rate_percent", Integer, nullable=False),
    Column("updated_at", Integer, nullable=False),
)

#: A project's annotation schema, one row per version (1, 2, ...): what label documents
#: made under that version may hold. Labels and names, not content: stored in clear.
project_schemas = Table(
    "project_schemas",
    metadata,
    Column("project_id", String(64), ForeignKey("projects.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("body", LargeBinary, nullable=False),  # canonical JSON of ProjectSchemaWire
    Column("digest", String(64), nullable=False),
    Column("created_at", Integer, nullable=False),
)

#: RLHF comparisons: a segment row whose blob is a bundle (prompt and outputs, sealed).
#: The kind and the output ids are names, not content: a label document is checked
#: against them.
comparisons = Table(
    "comparisons",
    metadata,
    Column("segment_id", String(64), ForeignKey("segments.id"), primary_key=True),
    Column("kind", String(16), nullable=False),  # "pairwise" or "ranking"
    Column("output_ids", String(2048), nullable=False),  # JSON list
)

key_grants = Table(
    "key_grants",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("task_id", String(64), ForeignKey("tasks.id"), nullable=False),
    Column("device_id", String(64), ForeignKey("devices.id"), nullable=False),
    Column("expires_at", Integer, nullable=False),
    Column("created_at", Integer, nullable=False),
)

access_events = Table(
    "access_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("source", String(8), nullable=False),  # "client" or "server"
    Column("action", String(32), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("reason", String(64), nullable=True),
    Column("user_id", String(64), nullable=True),
    Column("device_id", String(64), nullable=True),
    Column("project_id", String(64), nullable=True),
    Column("task_id", String(64), nullable=True),
    Column("segment_id", String(64), nullable=True),
    Column("position_ms", Integer, nullable=True),
    Column("verified", Boolean, nullable=False),
    Column("client_time", Float, nullable=True),
    Column("server_time", Float, nullable=False),
    Column("remote_addr", String(64), nullable=True),
)


#: Answers to requests sent with an ``Idempotency-Key`` (server.api.idempotency).
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("endpoint", String(128), nullable=False),
    Column("request_hash", LargeBinary, nullable=False),
    Column("response", String, nullable=True),  # the JSON answered: ids and counts only
    Column("created_at", Integer, nullable=False),
)

#: The last outbox sequence number accepted from each device (server.sequences).
device_sequences = Table(
    "device_sequences",
    metadata,
    Column("device_id", String(64), ForeignKey("devices.id"), primary_key=True),
    Column("high_seq", Integer, nullable=False),
)

#: Ranges of a device's sequence numbers skipped so far (``missing_<n>`` was raised):
#: an entry that arrives late, after the client parked it, fills its gap quietly.
device_sequence_gaps = Table(
    "device_sequence_gaps",
    metadata,
    Column("device_id", String(64), ForeignKey("devices.id"), primary_key=True),
    Column("first_seq", Integer, primary_key=True),
    Column("last_seq", Integer, nullable=False),
)

# Governance tables live in their own module, on the same metadata.
from server.db_governance import erasure_items, erasures, retention_policies  # noqa: E402
from server.db_identity import (  # noqa: E402
    identity_providers,
    idp_role_rules,
    idp_token_uses,
    revocations,
    user_identities,
)

__all__ = [
    "erasure_items",
    "erasures",
    "identity_providers",
    "idp_role_rules",
    "idp_token_uses",
    "metadata",
    "retention_policies",
    "revocations",
    "user_identities",
]


def _on_connect(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    # Deleted rows are overwritten with zeros in the file, not left in free pages: an
    # erased record's sealed bytes do not linger in the database file.
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


def _url(where: Path | str) -> str:
    """A database URL, or a SQLite file's path (the default data directory's)."""
    return where if isinstance(where, str) else f"sqlite:///{where}"


def make_engine(where: Path | str) -> Engine:
    """Engine for the data directory's database (SQLite with its durability pragmas, or
    PostgreSQL, whose commits are durable by default: ``synchronous_commit=on``)."""
    url = _url(where)
    if not url.startswith("sqlite"):
        return create_engine(
            url, pool_size=10, max_overflow=20, pool_pre_ping=True,
            connect_args=dialect.POSTGRESQL_CONNECT_ARGS,
        )  # fmt: skip
    engine = create_engine(url)
    event.listen(engine, "connect", _on_connect)
    return engine


def make_writer_engine(where: Path | str) -> Engine:
    """Engine whose transactions take the one write lock first and support SAVEPOINT.

    SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-level advisory lock
    (:mod:`server.dialect`). Taken before the first read, so a transaction that
    reads then writes never works from a snapshot another writer moved.
    """
    url = _url(where)
    if not url.startswith("sqlite"):
        engine = create_engine(
            url, pool_size=10, max_overflow=20, pool_pre_ping=True,
            connect_args=dialect.POSTGRESQL_CONNECT_ARGS,
        )  # fmt: skip
        event.listen(engine, "begin", dialect.begin_write)
        return engine
    engine = create_engine(url)
    event.listen(engine, "connect", _on_connect_writer)
    event.listen(engine, "begin", dialect.begin_write)
    return engine


def _on_connect_writer(dbapi_conn: Any, record: Any) -> None:
    _on_connect(dbapi_conn, record)
    # Several server processes queue for the one write lock: a writer waits its turn
    # (one group commit each) rather than failing a request after 5 s.
    dbapi_conn.execute("PRAGMA busy_timeout=30000")
    dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (_on_begin_immediate)


def create_schema(engine: Engine) -> None:
    """Create every table that does not exist yet (the audit log's tables included)."""
    import server.auditlog.store  # noqa: F401, PLC0415 - registers its tables on ``metadata``

    metadata.create_all(engine)
    schema_upgrade.add_missing_columns(engine, metadata)
