"""JSON bodies of a project manager's routes: who works on what, and the project's policy.

A manager holds no content rights: these carry ids, recording titles, names, statuses
and numbers — never audio, a transcript, a label value or a reviewer's words. Which
tasks are gold tasks is shown here (managers make the gold answers) and nowhere an
annotator looks.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from app.wire.base import Count, Id, _Model
from app.wire.schemas import TaskStatus

GoldRate = Annotated[int, Field(ge=0, le=50)]


class PolicyIn(_Model):
    """A project's listening policy and gold rate, as its manager sets them."""

    submit_coverage: bool
    accept_coverage: Annotated[int, Field(ge=0, le=100)]
    #: Percent of each annotator's tasks that are gold tasks (``None``: leave as it is).
    gold_rate: GoldRate | None = None
    #: Seconds either side of a window an annotator may ask to hear (0: no unlock), and
    #: whether a reviewer grants each ask (``None``: leave as it is).
    context_max_s: Annotated[int, Field(ge=0, le=600)] | None = None
    context_approval: bool | None = None
    #: Independent annotations each assigned recording gets (``None``: leave as it is).
    annotations_per_recording: Annotated[int, Field(ge=1, le=5)] | None = None


class PolicyOut(_Model):
    project_id: Id
    submit_coverage: bool
    accept_coverage: int
    gold_rate: int
    context_max_s: int = 10
    context_approval: bool = False
    annotations_per_recording: int = 1
    #: Tasks assigned by this change to reach the annotations per recording.
    tasks_added: Count = 0
    #: Gold tasks handed out by this change (a raised rate tops every queue up at once).
    gold_tasks_added: Count = 0


class ManagedTaskOut(_Model):
    task_id: Id
    segment_id: Id
    title: str
    assignee_id: Id
    assignee_name: str
    status: TaskStatus
    gold: bool
    created_at: int


class RecordingOut(_Model):
    segment_id: Id
    title: str
    duration_s: float
    #: Tasks on it (more than one: blind double annotation).
    tasks: Count
    #: It has a gold answer (its tasks are scored, not reviewed).
    gold: bool


class MemberOut(_Model):
    user_id: Id
    name: str


class ProjectTasksOut(_Model):
    """A project as its manager plans the work: tasks, recordings, annotators, policy."""

    project_id: Id
    project_name: str
    tasks: list[ManagedTaskOut]
    recordings: list[RecordingOut]
    annotators: list[MemberOut]
    policy: PolicyOut


class AssignIn(_Model):
    """A new task: ``segment_id`` for the annotator ``assignee_id`` — the whole recording,
    or only the window ``[start_s, end_s)`` of it (cut and sealed on its own)."""

    segment_id: Id
    assignee_id: Id
    start_s: Annotated[float, Field(ge=0, le=86_400)] | None = None
    end_s: Annotated[float, Field(gt=0, le=86_400)] | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> AssignIn:
        if (self.start_s is None) != (self.end_s is None):
            raise ValueError("a window needs both start_s and end_s")
        return self


class ReassignIn(_Model):
    assignee_id: Id


class AssignOut(_Model):
    task_id: Id
    assignee_id: Id
    #: Gold tasks handed to the same annotator right after (the project's gold rate).
    gold_tasks_added: Count = 0
