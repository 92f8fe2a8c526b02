"""A task's lifecycle: which step moves it from which status to which, and who may take it.

One table for the server (which enforces it) and the client (which offers only the
keys that can work). The path of a task::

    assigned -> in_progress -> submitted -> in_review -> accepted
                                   ^            |
                                   |            v
                                   +------- rejected   (resubmitted by the annotator)

An annotator may amend a submission (submit again) until a reviewer claims it; a
reviewer who claimed it may correct it (a new revision by the reviewer), release it
back to the queue, accept it or reject it with a reason.
"""

from __future__ import annotations

from enum import StrEnum

from app.wire.schemas import TaskStatus


class Step(StrEnum):
    """An action that may move a task (each one is an audited transition)."""

    SAVE_DRAFT = "save_draft"
    SUBMIT = "submit"
    CLAIM = "claim"
    RELEASE = "release"
    CORRECT = "correct"
    ACCEPT = "accept"
    REJECT = "reject"


class Party(StrEnum):
    """Who, relative to the task, may take a step."""

    ASSIGNEE = "assignee"  # the annotator the task is assigned to
    REVIEWER = "reviewer"  # any reviewer of the project who did not annotate the task
    HOLDER = "holder"  # the reviewer who claimed the task and holds it in review


_S = TaskStatus
#: step -> (who may take it, {from status: to status}).
STEPS: dict[Step, tuple[Party, dict[TaskStatus, TaskStatus]]] = {
    Step.SAVE_DRAFT: (
        Party.ASSIGNEE,
        {
            _S.ASSIGNED: _S.IN_PROGRESS,
            _S.IN_PROGRESS: _S.IN_PROGRESS,
            _S.SUBMITTED: _S.SUBMITTED,
            _S.REJECTED: _S.REJECTED,
        },
    ),
    Step.SUBMIT: (
        Party.ASSIGNEE,
        {
            _S.ASSIGNED: _S.SUBMITTED,
            _S.IN_PROGRESS: _S.SUBMITTED,
            _S.SUBMITTED: _S.SUBMITTED,
            _S.REJECTED: _S.SUBMITTED,
        },
    ),
    Step.CLAIM: (Party.REVIEWER, {_S.SUBMITTED: _S.IN_REVIEW}),
    Step.RELEASE: (Party.HOLDER, {_S.IN_REVIEW: _S.SUBMITTED}),
    Step.CORRECT: (Party.HOLDER, {_S.IN_REVIEW: _S.IN_REVIEW}),
    Step.ACCEPT: (Party.HOLDER, {_S.IN_REVIEW: _S.ACCEPTED}),
    Step.REJECT: (Party.HOLDER, {_S.IN_REVIEW: _S.REJECTED}),
}

#: Statuses a reviewer's queue may show (an annotator's unsubmitted work never).
REVIEWABLE = frozenset({_S.SUBMITTED, _S.IN_REVIEW, _S.ACCEPTED, _S.REJECTED})
#: Statuses in which the annotator's copy is read-only (a reviewer holds or decided it).
ANNOTATOR_LOCKED = frozenset({_S.IN_REVIEW, _S.ACCEPTED})
#: Statuses in which a manager may hand a task to another annotator: before its hand-in,
#: or once rejected (the new assignee continues its revisions).
REASSIGNABLE = frozenset({_S.ASSIGNED, _S.IN_PROGRESS, _S.REJECTED})


def next_status(status: TaskStatus, step: Step) -> TaskStatus | None:
    """Where ``step`` takes a task in ``status``, or ``None`` if the lifecycle forbids it."""
    return STEPS[step][1].get(status)


def party_of(step: Step) -> Party:
    return STEPS[step][0]


def allowed_steps(status: TaskStatus, parties: frozenset[Party]) -> frozenset[Step]:
    """The steps someone standing as ``parties`` to a task in ``status`` may take now."""
    return frozenset(
        step for step, (party, moves) in STEPS.items() if party in parties and status in moves
    )


def forbidden_words(status: TaskStatus, step: Step) -> str:
    """Why ``step`` cannot be taken in ``status``, as the user reads it (no content)."""
    shown = status.value.replace("_", " ")
    if step in (Step.SUBMIT, Step.SAVE_DRAFT) and status in ANNOTATOR_LOCKED:
        return f"the task is {shown}: it can no longer be changed by its annotator"
    if step is Step.CLAIM:
        return f"the task is {shown}: only a submitted task can be taken for review"
    return f"the task is {shown}: '{step.value}' is not possible now"
