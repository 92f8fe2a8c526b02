"""Review on the network worker: load a task's review, take lifecycle steps, comment.

Review steps go straight to the server, not through the outbox: a reviewer accepting
or rejecting needs the server's answer (another reviewer may hold the task, a newer
revision may exist), and a refusal must be shown as one at once. A correction is
stored the same way, before the decision that follows it, so a decision always
names a revision the server has.
"""

from __future__ import annotations

import logging

from app.api.client import CordonApi
from app.domain.label_document import LabelDocument, from_wire, to_wire
from app.domain.lifecycle import Step
from app.domain.models import Task
from app.domain.review import Anchor, Comment, Review, Revision, Transition
from app.services.labels import new_label_id
from app.wire.review import CommentIn, CommentOut, HistoryOut, StepIn
from app.wire.schemas import Role, TaskStatus

logger = logging.getLogger(__name__)


def new_comment_id() -> str:
    return new_label_id().replace("lbl_", "cmt_", 1)


class ReviewService:
    def __init__(self, api: CordonApi) -> None:
        self._api = api

    def open(self, task: Task, user_id: str, *, claim: bool) -> Review:
        """The task's review; ``claim``: a reviewer takes a submitted task on opening it."""
        if claim and task.role is Role.REVIEWER and task.status is TaskStatus.SUBMITTED:
            history = self._api.review_step(task.task_id, StepIn(step="claim"))
            logger.info("task %s taken for review", task.task_id)
        else:
            history = self._api.task_history(task.task_id)
        return self._review(task, user_id, history)

    def step(
        self, task: Task, user_id: str, step: Step, *, revision: int | None = None,
        reason: str | None = None,
    ) -> Review:  # fmt: skip
        body = StepIn(step=step.value, revision=revision, reason=reason)  # type: ignore[arg-type]
        history = self._api.review_step(task.task_id, body)
        logger.info("task %s: %s", task.task_id, step.value)
        return self._review(task, user_id, history)

    def correct(self, task: Task, document: LabelDocument, base_revision: int | None) -> int:
        """Store the reviewer's correction as a new revision; its number."""
        ack = self._api.submit_label(
            task.task_id, new_label_id(), to_wire(document), base_revision=base_revision
        )
        logger.info("task %s corrected as revision %d", task.task_id, ack.revision)
        return ack.revision

    def comment(self, task: Task, revision: int, anchor: Anchor, text: str) -> Comment:
        body = CommentIn(
            comment_id=new_comment_id(), revision=revision, segment=anchor.segment,
            start_frame=anchor.start_frame, end_frame=anchor.end_frame,
            char_start=anchor.char_start, char_end=anchor.char_end, text=text,
        )  # fmt: skip
        return _comment(self._api.add_comment(task.task_id, body))

    def _review(self, task: Task, user_id: str, history: HistoryOut) -> Review:
        comments = tuple(_comment(c) for c in self._api.comments(task.task_id).comments)
        revisions = tuple(
            Revision(r.revision, r.author_id, r.author_role, r.base_revision, r.draft, r.stored_at)
            for r in history.revisions
        )
        transitions = tuple(
            Transition(
                t.seq,
                t.step,
                t.from_status,
                t.to_status,
                t.actor_id,
                t.actor_role,
                t.revision,
                t.at,
                t.reason,
            )
            for t in history.transitions
        )
        review = Review(task, user_id, history.status, history.holder_id, revisions,
                        transitions, comments)  # fmt: skip
        # The diff needs the annotator's document when it is not the newest revision.
        annotator, newest = review.annotator_revision, review.handed_in
        if annotator is not None and newest is not None and annotator is not newest:
            label = self._api.label_revision(task.task_id, annotator.revision)
            review = Review(task, user_id, review.status, review.holder_id, revisions,
                            transitions, comments, from_wire(label.document))  # fmt: skip
        return review


def _comment(c: CommentOut) -> Comment:
    return Comment(c.comment_id, c.revision, c.author_id, c.segment, c.start_frame,
                   c.end_frame, c.char_start, c.char_end, c.text, c.at)  # fmt: skip
