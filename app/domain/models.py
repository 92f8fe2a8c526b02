"""Client domain types: what a task is, and what happened to it.

These are deliberately separate from the wire schemas: the UI depends on them,
not on the JSON shape, so the API can evolve behind ``app.api``.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import NewType

from app.wire.schemas import AccessAction, Outcome, Role, TaskKind, TaskStatus

TaskId = NewType("TaskId", str)
ProjectId = NewType("ProjectId", str)
SegmentId = NewType("SegmentId", str)
DeviceId = NewType("DeviceId", str)


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    username: str
    display_name: str


@dataclass(frozen=True, slots=True)
class Task:
    """One unit of annotation work: a segment to transcribe (or review)."""

    task_id: TaskId
    project_id: ProjectId
    project_name: str
    segment_id: SegmentId
    title: str
    role: Role
    status: TaskStatus
    duration_s: float
    sample_rate: int
    channels: int
    ciphertext_bytes: int
    kind: TaskKind = TaskKind.TRANSCRIPTION
    #: In a reviewer's queue: who annotated it, when it was handed in, who holds it.
    #: The project's listening policy (see ``TaskOut``).
    submit_coverage: bool = False
    accept_coverage: int = 0
    #: Only a stretch of a longer recording; up to this many seconds either side may be
    #: asked for (0: none).
    windowed: bool = False
    context_max_s: int = 0
    annotator_id: str = ""
    annotator_name: str = ""
    handed_in_at: int | None = None
    holder_id: str | None = None

    @property
    def is_comparison(self) -> bool:
        """An RLHF comparison (a bundle of outputs), not an audio segment."""
        return self.kind is not TaskKind.TRANSCRIPTION


@dataclass(frozen=True, slots=True)
class AccessEvent:
    """Something the annotator did with a segment. Ids and positions only, never content."""

    action: AccessAction
    task_id: TaskId | None = None
    segment_id: SegmentId | None = None
    position_ms: int | None = None
    outcome: Outcome = Outcome.OK
    reason: str | None = None
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_time: float = field(default_factory=time.time)
