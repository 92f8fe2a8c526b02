"""A task's review as the client holds it: status, holder, revisions, steps, comments.

Reasons and comments are a reviewer's words about a recording: they live here in
memory while the task is open and are never logged or written to disk.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.label_document import LabelDocument
from app.domain.lifecycle import Party, Step, allowed_steps
from app.domain.models import Task
from app.wire.schemas import Role, TaskStatus


@dataclass(frozen=True)
class QueueFilter:
    """What the reviewer's queue shows (``None``: waiting for a decision; everyone)."""

    status: TaskStatus | None = None
    annotator_id: str | None = None


@dataclass(frozen=True)
class Revision:
    revision: int
    author_id: str
    author_role: Role
    base_revision: int | None
    draft: bool
    stored_at: int


@dataclass(frozen=True)
class Transition:
    seq: int
    step: str
    from_status: TaskStatus
    to_status: TaskStatus
    actor_id: str
    actor_role: Role
    revision: int | None
    at: int
    reason: str | None


@dataclass(frozen=True)
class Comment:
    """A reviewer's note on one revision, anchored to a segment, span, text range or the task."""

    comment_id: str
    revision: int
    author_id: str
    segment: str | None
    start_frame: int | None
    end_frame: int | None
    char_start: int | None
    char_end: int | None
    text: str
    at: int


@dataclass(frozen=True)
class Anchor:
    """Where a new comment points; all ``None``: the task as a whole."""

    segment: str | None = None
    start_frame: int | None = None
    end_frame: int | None = None
    char_start: int | None = None
    char_end: int | None = None


@dataclass(frozen=True)
class Review:
    """Everything the review panel shows for the open task."""

    task: Task
    user_id: str
    status: TaskStatus
    holder_id: str | None
    revisions: tuple[Revision, ...]
    transitions: tuple[Transition, ...]
    comments: tuple[Comment, ...]
    #: The annotator's newest handed-in document, when the newest revision is a reviewer's
    #: correction (or the reviewer is correcting): what the diff is against.
    annotator_document: LabelDocument | None = None

    @property
    def handed_in(self) -> Revision | None:
        """The newest revision that is not a draft (what a decision judges)."""
        return next((r for r in reversed(self.revisions) if not r.draft), None)

    @property
    def annotator_revision(self) -> Revision | None:
        return next(
            (r for r in reversed(self.revisions)
             if not r.draft and r.author_role is Role.ANNOTATOR),
            None,
        )  # fmt: skip

    @property
    def parties(self) -> frozenset[Party]:
        found: set[Party] = set()
        if self.task.role is Role.ANNOTATOR:
            found.add(Party.ASSIGNEE)
        if self.task.role is Role.REVIEWER:
            found.add(Party.REVIEWER)
            if self.holder_id == self.user_id:
                found.add(Party.HOLDER)
        return frozenset(found)

    @property
    def steps(self) -> frozenset[Step]:
        """What the user may do now (the server checks again)."""
        return allowed_steps(self.status, self.parties)

    @property
    def last_decision(self) -> Transition | None:
        return next(
            (t for t in reversed(self.transitions) if t.step in (Step.ACCEPT, Step.REJECT)), None
        )
