"""JSON bodies of the context-unlock routes: an annotator's ask, a reviewer's answer.

The justification is words an annotator typed about a recording: it travels over TLS
only, is sealed at rest, and is shown to the project's reviewers who decide the ask.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from app.wire.base import Id, _Model

Justification = Annotated[str, Field(min_length=10, max_length=1_000)]


class ContextIn(_Model):
    """Hear ``seconds`` either side of the task's window, for the reason given."""

    seconds: Annotated[int, Field(ge=1, le=600)]
    justification: Justification


class ContextOut(_Model):
    request_id: Id
    task_id: Id
    seconds: int
    status: Literal["pending", "granted", "denied"]
    #: The stretch a grant released (its key grant and stream name it).
    segment_id: Id | None = None
    #: What a grant covers around the window (clamped at the recording's ends).
    before_s: float = 0.0
    after_s: float = 0.0
    created_at: int
    decided_at: int | None = None


class ContextListOut(_Model):
    requests: list[ContextOut]


class PendingContextOut(_Model):
    """A pending ask as a reviewer decides it: who, which task, how much and why."""

    request: ContextOut
    title: str
    annotator_name: str
    justification: str


class PendingContextListOut(_Model):
    requests: list[PendingContextOut]


class ContextDecisionIn(_Model):
    grant: bool
