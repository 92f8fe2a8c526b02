"""JSON bodies of the Cordon API (``/v1``), shared by the server and the client.

The server uses these as FastAPI request/response models; the client validates
every response against them, so a drift between the two fails loudly in tests.
No model here carries audio; only ``LabelIn``/``LabelOut`` carry transcript
text, and only over TLS — at rest the server seals it under the project key.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from app.wire.base import ID_PATTERN, MAX_INT, Count, Id, Positive, _Model
from app.wire.label_document import LabelDocumentWire

__all__ = ["ID_PATTERN", "MAX_INT", "Count", "Id", "LabelDocumentWire", "Positive"]

MAX_EVENTS_PER_BATCH = 500


class ErrorCode(StrEnum):
    """Stable machine-readable error codes; clients branch on these, never on messages."""

    MALFORMED_JSON = "malformed_json"
    INVALID_REQUEST = "invalid_request"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNAUTHENTICATED = "unauthenticated"
    TOKEN_EXPIRED = "token_expired"  # noqa: S105 - an error code, not a secret
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    UNKNOWN_DEVICE = "unknown_device"
    #: The DPoP proof is missing, malformed, replayed, stale, for another request or key.
    INVALID_DPOP_PROOF = "invalid_dpop_proof"
    #: An identity provider's token was refused (issuer, audience, signature, age…).
    IDP_TOKEN_INVALID = "idp_token_invalid"  # noqa: S105 - an error code, not a secret
    #: The proof lacks the server's current nonce; retry with the ``DPoP-Nonce`` header's.
    USE_DPOP_NONCE = "use_dpop_nonce"
    #: The person's account was disabled by an administrator: signed out everywhere.
    ACCOUNT_DISABLED = "account_disabled"
    #: This device waits for an administrator's approval: it may sign in, not fetch.
    DEVICE_PENDING = "device_pending"
    #: A project's attribute rule (hours, device class, network) refuses this access now.
    RULE_REFUSED = "rule_refused"
    #: The recording's data class refuses this (a restricted recording on an unmanaged
    #: workstation, context unlock of a restricted recording, an unmasked export…).
    CLASS_REFUSED = "class_refused"
    #: The recording or the task's records were erased (retention or a request): gone.
    ERASED = "erased"
    #: This device was revoked: the client wipes what it holds and signs out.
    DEVICE_REVOKED = "device_revoked"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    AUDIT_UNAVAILABLE = "audit_unavailable"
    STORAGE_UNAVAILABLE = "storage_unavailable"
    #: A label document that does not fit its project schema or its audio (``path`` says where).
    DOCUMENT_INVALID = "document_invalid"
    #: The task's lifecycle does not allow this action now (e.g. accepting an unsubmitted task).
    TRANSITION_FORBIDDEN = "transition_forbidden"
    #: The project requires listening first: ``unheard`` names the spans not heard yet.
    COVERAGE_INCOMPLETE = "coverage_incomplete"
    #: Too many requests of this kind for now (a context unlock's daily limit).
    RATE_LIMITED = "rate_limited"
    #: A stored key or sealed label failed to authenticate: damaged or tampered at rest.
    STORED_DATA_DAMAGED = "stored_data_damaged"
    #: This server publishes no signed updates (``cordon-server updates init`` never ran).
    UPDATES_NOT_PUBLISHED = "updates_not_published"
    INTERNAL_ERROR = "internal_error"


class ErrorDetail(_Model):
    code: ErrorCode
    message: str
    #: Where in the request body the problem is, as a JSON path (``$.segments[2].speaker``).
    path: str | None = None
    #: ``coverage_incomplete``: the spans (start, end in ms) not heard yet.
    unheard: list[tuple[int, int]] | None = None


class ErrorBody(_Model):
    """Every non-2xx response has exactly this body."""

    error: ErrorDetail


class Role(StrEnum):
    ANNOTATOR = "annotator"
    REVIEWER = "reviewer"
    #: Reads the project's quality report and sets its listening policy; no content.
    MANAGER = "manager"
    #: A manager who also sets who has which role in the project; no content.
    PROJECT_ADMIN = "project_admin"
    AUDITOR = "auditor"  # reads the project's audit log and its proofs; never content


class DemoLoginIn(_Model):
    username: Id


class SsoLoginIn(_Model):
    """A sign-in through an identity provider: which one, and one of its tokens."""

    provider: Id
    token: Annotated[str, Field(min_length=1, max_length=16384)]


class UserOut(_Model):
    user_id: Id
    username: str
    display_name: str


class TokenOut(_Model):
    access_token: str
    token_type: str = "DPoP"  # noqa: S105 - the token type name (RFC 9449)
    expires_at: int
    user: UserOut
    #: Public id of this sign-in: shown in the watermark, recorded with the login.
    session_id: Annotated[str, Field(pattern=r"^[0-9a-f]{12}$")]


class DeviceEnrollIn(_Model):
    name: Annotated[str, Field(min_length=1, max_length=128)]
    public_key: Annotated[str, Field(min_length=1, max_length=4096)]  # base64
    #: The enrolment secret IT deployed with the installer: the device is approved at
    #: once and counted as *managed*.
    enrolment_secret: Annotated[str, Field(min_length=16, max_length=256)] | None = None


class DeviceOut(_Model):
    device_id: Id
    fingerprint: str
    #: ``approved`` (may fetch keys and audio) or ``pending`` (an administrator must
    #: approve it first).
    state: Literal["approved", "pending"] = "approved"
    managed: bool = False


class TaskStatus(StrEnum):
    """Where a task is in its lifecycle (``app.domain.lifecycle`` holds the transitions)."""

    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"  # the annotator saved a draft on the server
    SUBMITTED = "submitted"  # handed in (again, after a rejection): waiting for a reviewer
    IN_REVIEW = "in_review"  # a reviewer holds it
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # back with the annotator, with the reviewer's comments


class TaskKind(StrEnum):
    TRANSCRIPTION = "transcription"  # an audio segment to segment, transcribe and label
    PAIRWISE = "pairwise"  # RLHF: which of two model outputs is better
    RANKING = "ranking"  # RLHF: order N model outputs, ties allowed


class TaskOut(_Model):
    task_id: Id
    project_id: Id
    project_name: str
    segment_id: Id
    title: str
    role: Role
    status: TaskStatus
    duration_s: float
    sample_rate: int
    channels: int
    ciphertext_bytes: int
    kind: TaskKind = TaskKind.TRANSCRIPTION
    #: The project's listening policy: a hand-in needs every segment heard; an accept
    #: needs this percentage of the audio heard by the reviewer (0: no requirement).
    submit_coverage: bool = False
    accept_coverage: Annotated[int, Field(ge=0, le=100)] = 0
    #: The task holds only a stretch of a longer recording; the annotator may ask for up
    #: to ``context_max_s`` seconds either side (0: the project allows no unlock).
    windowed: bool = False
    context_max_s: Annotated[int, Field(ge=0, le=600)] = 0


class TaskListOut(_Model):
    tasks: list[TaskOut]
    #: Projects the caller reviews: the client shows their review queue.
    review_projects: list[Id] = Field(default_factory=list)
    #: Projects the caller manages: the client offers their quality report.
    managed_projects: list[Id] = Field(default_factory=list)


class ClassControlsOut(_Model):
    """What the recording's data class asks of the client (the server enforces the rest)."""

    data_class: Literal["public", "internal", "confidential", "restricted"] = "internal"
    #: How visible the watermark over content is.
    watermark: Literal["light", "standard", "strong"] = "standard"


class KeyGrantOut(_Model):
    grant_id: Id
    project_id: Id
    segment_id: Id
    device_id: Id
    expires_at: int
    wrapped_key: str  # base64 HPKE ciphertext
    controls: ClassControlsOut = ClassControlsOut()


class LabelIn(_Model):
    label_id: Id
    document: LabelDocumentWire
    #: The revision the annotator's work started from (``None``: a new annotation).
    base_revision: Count | None = None
    #: Saved for the annotator (idle lock, sign-out), not handed in: the task stays open.
    draft: bool = False
    #: The device's outbox sequence number (labels and events share one sequence).
    seq: Positive | None = None
    #: The client version that made the revision (provenance).
    client_version: Annotated[str, Field(max_length=32, pattern=r"^[0-9A-Za-z.+-]+$")] | None = None


class LabelAck(_Model):
    label_id: Id
    task_id: Id
    revision: int
    stored_at: int
    duplicate: bool


class LabelOut(_Model):
    label_id: Id
    task_id: Id
    revision: int
    document: LabelDocumentWire
    base_revision: int | None = None
    author_id: Id
    stored_at: int
    draft: bool = False
    #: The author's role when it was stored: a reviewer's revision is a correction.
    author_role: Role = Role.ANNOTATOR


class AccessAction(StrEnum):
    """What happened. Client-reported and server-observed actions share one vocabulary."""

    SEGMENT_OPENED = "segment_opened"
    SEGMENT_CLOSED = "segment_closed"
    PLAYBACK_STARTED = "playback_started"
    PLAYBACK_PAUSED = "playback_paused"
    PLAYBACK_SEEKED = "playback_seeked"
    PLAYBACK_SPEED = "playback_speed"  # reason speed_<percent>
    PLAYBACK_LOOP = "playback_loop"  # reason loop_<start ms>_<end ms> or loop_off
    PLAYBACK_PROGRESS = "playback_progress"  # the playhead while playing (before a hand-in)
    LABEL_SUBMITTED = "label_submitted"
    DECRYPT_FAILED = "decrypt_failed"
    FETCH_FAILED = "fetch_failed"
    AUDIO_DEVICE_FAILED = "audio_device_failed"
    # lockdown: what the client blocked, could not block, or hid
    CLIPBOARD_BLOCKED = "clipboard_blocked"
    PASTE_BLOCKED = "paste_blocked"
    CAPTURE_ATTEMPT = "capture_attempt"
    CAPTURE_UNPROTECTED = "capture_unprotected"
    CAPTURE_GUARD_FAILED = "capture_guard_failed"
    CURTAIN_SHOWN = "curtain_shown"
    CURTAIN_LIFTED = "curtain_lifted"
    IDLE_LOCKED = "idle_locked"
    SIGNED_OUT = "signed_out"  # the annotator signed out (work kept as a draft)
    OUTBOX_DAMAGED = "outbox_damaged"  # an outbox file failed to authenticate; set aside
    # observed by the server itself
    LOGIN = "login"
    DEVICE_ENROLLED = "device_enrolled"
    KEY_RELEASED = "key_released"
    SEGMENT_FETCHED = "segment_fetched"
    LABEL_STORED = "label_stored"
    LABEL_READ = "label_read"
    ACCESS_REFUSED = "access_refused"
    #: A task moved in its lifecycle (reason: the action, e.g. ``submit``, ``accept``).
    TASK_TRANSITIONED = "task_transitioned"
    #: A reviewer anchored a comment to a task revision (the comment is sealed).
    COMMENT_ADDED = "comment_added"
    #: A task's review comments or history (with the reasons given) were read.
    REVIEW_READ = "review_read"
    #: A project quality report was made (it read the project's handed-in documents).
    REPORT_MADE = "report_made"
    #: A project's listening policy changed (reason: ``submit_<rule>_accept_<percent>``).
    POLICY_CHANGED = "policy_changed"
    #: A task was created for an annotator (reason ``assigned``, or ``gold`` for a gold task
    #: mixed into their queue) or handed to another one (``reassigned``).
    TASK_ASSIGNED = "task_assigned"
    #: A gold answer was added to a project (reason ``from_task`` or ``from_file``) or
    #: retired (``retired``); the answer itself is sealed.
    GOLD_CHANGED = "gold_changed"
    #: An annotator asked to hear more around their window (reason ``pending`` or
    #: ``granted``); the justification is sealed.
    CONTEXT_REQUESTED = "context_requested"
    #: A reviewer granted or denied a pending context request (reason says which).
    CONTEXT_DECIDED = "context_decided"
    #: A new version of a project's annotation schema was applied (reason ``version_<n>``).
    SCHEMA_APPLIED = "schema_applied"
    #: The server could not complete an allowed access (e.g. a stored key failed to unwrap).
    ACCESS_FAILED = "access_failed"
    #: A device's event sequence skipped numbers (reason ``missing_<n>``) or went
    #: backwards (``sequence_reset``): events were lost or an outbox was wiped.
    SEQUENCE_ALERT = "sequence_alert"
    #: A person signed in through an identity provider for the first time (reason
    #: ``idp_<name>``): their account was made just in time.
    USER_CREATED = "user_created"
    #: An administrator disabled (reason ``disabled``) or enabled (``enabled``) a user.
    USER_CHANGED = "user_changed"
    #: An administrator revoked (reason ``revoked``) or approved (``approved``) a device.
    DEVICE_CHANGED = "device_changed"
    #: An administrator added, replaced or removed an identity provider or one of its
    #: role rules (reason says which).
    IDP_CHANGED = "idp_changed"
    #: Something was erased for good (reason: ``segment``, ``audio``, ``labels``,
    #: ``drafts`` or ``project``): keys destroyed, blobs and records deleted.
    ERASED = "erased"
    #: An erasure job finished (reason: its scope); its receipt names this leaf.
    ERASURE_DONE = "erasure_done"
    #: Labels left Cordon in an export (reason ``<purpose>_<format>[_masked]``).
    EXPORTED = "exported"
    #: A project's data class or retention changed (reason says which).
    GOVERNANCE_CHANGED = "governance_changed"
    #: A signed update was published (reason ``<platform>_<version>``, dots as ``_``).
    UPDATE_PUBLISHED = "update_published"
    #: The client refused an update's metadata or file (reason: the refusal's code, e.g.
    #: ``rollback``, ``expired_metadata``, ``bad_signature``, ``hash_mismatch``).
    UPDATE_REFUSED = "update_refused"
    #: An operator turned the database's row-level security keyed by project on or off
    #: (reason ``on`` or ``off``).
    ROW_SECURITY_CHANGED = "row_security_changed"


CLIENT_ACTIONS = frozenset(
    {
        AccessAction.SEGMENT_OPENED,
        AccessAction.SEGMENT_CLOSED,
        AccessAction.PLAYBACK_STARTED,
        AccessAction.PLAYBACK_PAUSED,
        AccessAction.PLAYBACK_SEEKED,
        AccessAction.PLAYBACK_SPEED,
        AccessAction.PLAYBACK_LOOP,
        AccessAction.PLAYBACK_PROGRESS,
        AccessAction.LABEL_SUBMITTED,
        AccessAction.DECRYPT_FAILED,
        AccessAction.FETCH_FAILED,
        AccessAction.AUDIO_DEVICE_FAILED,
        AccessAction.CLIPBOARD_BLOCKED,
        AccessAction.PASTE_BLOCKED,
        AccessAction.CAPTURE_ATTEMPT,
        AccessAction.CAPTURE_UNPROTECTED,
        AccessAction.CAPTURE_GUARD_FAILED,
        AccessAction.CURTAIN_SHOWN,
        AccessAction.CURTAIN_LIFTED,
        AccessAction.IDLE_LOCKED,
        AccessAction.SIGNED_OUT,
        AccessAction.OUTBOX_DAMAGED,
        AccessAction.UPDATE_REFUSED,
    }
)


class Outcome(StrEnum):
    OK = "ok"
    FAILED = "failed"
    REFUSED = "refused"


class AccessEventIn(_Model):
    """One client-side access event. Never content: ids, an action, a position, an outcome.

    ``seq`` is the device's outbox sequence number: it only grows, so the server
    can tell when events went missing between the workstation and the log.
    """

    event_id: Annotated[str, Field(pattern=r"^[0-9a-f-]{36}$")]
    seq: Positive
    action: AccessAction
    #: Seconds since the epoch on the workstation's clock (finite; see ``_Model``).
    client_time: float
    task_id: Id | None = None
    segment_id: Id | None = None
    position_ms: Count | None = None
    outcome: Outcome = Outcome.OK
    reason: Annotated[str, Field(max_length=64, pattern=r"^[a-z0-9_]*$")] | None = None


class EventBatchIn(_Model):
    events: Annotated[list[AccessEventIn], Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)]


class LogRange(_Model):
    """Leaves ``first_index`` … ``first_index + count - 1`` of one audit log."""

    log_id: str
    first_index: int
    count: int


class EventBatchAck(_Model):
    """Sent only after the batch and its audit leaves committed (``synchronous=FULL``)."""

    accepted: int
    duplicates: int
    #: Where the accepted events' leaves went (per log, contiguous within a batch).
    logs: list[LogRange] = Field(default_factory=list)


class HealthOut(_Model):
    status: str
    version: str


class AuditCheckpointOut(_Model):
    """The latest signed checkpoint of a project's audit log (C2SP signed note text)."""

    log_id: str
    size: int
    note: str


class AuditProofOut(_Model):
    """An RFC 9162 inclusion or consistency proof; hashes in standard base64."""

    log_id: str
    leaf_index: int | None = None
    leaf_hash: str | None = None
    first_size: int | None = None
    tree_size: int
    hashes: list[str]
