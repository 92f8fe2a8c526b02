"""JSON bodies of the review routes: the queue, lifecycle steps, revisions and comments.

A reason and a comment are words a reviewer typed about a recording: they travel
over TLS only and are sealed at rest, like a label document. Everything else here
is ids, numbers and names.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from app.wire.base import Count, Id, Positive, _Model
from app.wire.schemas import Role, TaskOut, TaskStatus

#: A rejection's reason or a comment: a few sentences.
MAX_REVIEW_CHARS = 4_000
ReviewText = Annotated[str, Field(min_length=1, max_length=MAX_REVIEW_CHARS)]


class ReviewItemOut(_Model):
    """One row of a reviewer's queue: the task and who did what to it when."""

    task: TaskOut
    annotator_id: Id
    annotator_name: str
    #: When it was last handed in (the queue is oldest first by this).
    submitted_at: int
    #: The newest handed-in revision (the one a decision judges).
    revision: int
    #: The reviewer holding it in review (``None`` unless in review).
    holder_id: Id | None = None


class ReviewQueueOut(_Model):
    items: list[ReviewItemOut]


class StepIn(_Model):
    """A reviewer's lifecycle step. Accepting or rejecting names the revision judged."""

    step: Literal["claim", "release", "accept", "reject"]
    #: The revision the decision is about; refused (409) if a newer one exists.
    revision: Positive | None = None
    #: Required when rejecting: what the annotator must fix.
    reason: ReviewText | None = None

    @model_validator(mode="after")
    def _reason_for_reject(self) -> StepIn:
        if self.step == "reject" and self.reason is None:
            raise ValueError("a rejection needs a reason")
        if self.step in ("accept", "reject") and self.revision is None:
            raise ValueError("a decision names the revision it judges")
        return self


class TransitionOut(_Model):
    """One step in a task's history. ``reason`` only to those who may read it."""

    seq: Positive
    step: str
    from_status: TaskStatus
    to_status: TaskStatus
    actor_id: Id
    actor_role: Role
    revision: int | None = None
    at: int
    reason: str | None = None


class RevisionOut(_Model):
    """A stored revision's facts (no content): who, in which role, based on which."""

    revision: Positive
    label_id: Id
    author_id: Id
    author_role: Role
    base_revision: int | None = None
    draft: bool
    stored_at: int


class HistoryOut(_Model):
    task_id: Id
    status: TaskStatus
    holder_id: Id | None = None
    revisions: list[RevisionOut]
    transitions: list[TransitionOut]


class CommentIn(_Model):
    """A comment on one revision, anchored to a segment, a span, a text range or the task."""

    comment_id: Id
    revision: Positive
    segment: Id | None = None
    start_frame: Count | None = None
    end_frame: Positive | None = None
    char_start: Count | None = None
    char_end: Positive | None = None
    text: ReviewText

    @model_validator(mode="after")
    def _anchor(self) -> CommentIn:
        if (self.start_frame is None) != (self.end_frame is None):
            raise ValueError("a time span needs both start_frame and end_frame")
        if (
            self.start_frame is not None
            and self.end_frame is not None
            and (self.end_frame <= self.start_frame)
        ):
            raise ValueError("a time span must end after it starts")
        if (self.char_start is None) != (self.char_end is None):
            raise ValueError("a text range needs both char_start and char_end")
        if self.char_start is not None:
            if self.segment is None:
                raise ValueError("a text range is in a segment's text")
            if self.char_end is not None and self.char_end <= self.char_start:
                raise ValueError("a text range must end after it starts")
        return self


class CommentOut(_Model):
    comment_id: Id
    revision: int
    author_id: Id
    segment: Id | None = None
    start_frame: int | None = None
    end_frame: int | None = None
    char_start: int | None = None
    char_end: int | None = None
    text: str
    at: int


class CommentListOut(_Model):
    comments: list[CommentOut]


class CoverageOut(_Model):
    """What the caller heard of the task's recording, as the server counts it (ms spans)."""

    duration_ms: Count
    heard: list[tuple[int, int]]
