"""The open task's review, for the controller: claim, correct, comment, accept, reject.

A mixin like :mod:`app.jobs.annotation_ops`, sharing the controller's state. The
role decides the screen: a reviewer opening a submitted task takes it for review
(the server records the claim) and reads the annotator's document; *correct* makes
it editable, and the edits are stored as the reviewer's own revision before any
comment or decision that follows, so a decision always names a revision the server
has. An annotator opening a task that was reviewed sees the reviewer's reason and
comments. Every call runs on the network worker; a refusal is shown in the server's
words ("another reviewer holds this task"), never as a network failure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from app.api import errors as api_errors
from app.domain.label_document import LabelDocument
from app.domain.lifecycle import Step
from app.domain.models import Task
from app.domain.review import Anchor, Review
from app.jobs.problem_words import problem_words, unheard_words
from app.player.playback import PlaybackEngine, PlaybackState
from app.services.annotation import DocumentEditor
from app.services.delivery import Delivery
from app.services.drafts import DraftStore
from app.services.review import ReviewService
from app.wire.schemas import AccessAction, ErrorCode, Outcome, Role, TaskStatus

logger = logging.getLogger(__name__)

#: Before a decision, the playback events still in the outbox are sent (at most this long).
DRAIN_BEFORE_DECISION_S = 10.0
#: How long to let just-recorded events reach the outbox before asking the server again.
COVERAGE_RETRY_S = 0.5

#: Statuses in which an annotator opening the task is shown its review.
_REVIEWED = frozenset({TaskStatus.IN_REVIEW, TaskStatus.ACCEPTED, TaskStatus.REJECTED})


def refusal_words(exc: Exception) -> str:
    """A failed review call as the user reads it: the server's reason, or the network's."""
    if isinstance(exc, api_errors.ServerError) and 400 <= exc.status < 500:
        return exc.refusal_words
    return getattr(exc, "user_message", "The review could not be completed.")


class ReviewOps:
    # Provided by Controller / AnnotationOps.
    _review_service: ReviewService
    _network: Any
    _drafts: DraftStore
    _editor: DocumentEditor | None
    _editor_task: Task | None
    _editor_user: str
    _marked_span: tuple[int, int] | None
    _selected: str | None
    _stored_generation: int
    review_loaded: Any
    document_loaded: Any
    review_failed: Any
    review_done: Any
    submit_blocked: Any
    _engine: PlaybackEngine
    _delivery: Delivery
    # ListeningOps (declared only: a stub would shadow it in the MRO).
    accept_shortfall: Callable[[], list[tuple[int, int]]]
    _emit_unheard: Callable[[], None]

    def record(
        self, action: AccessAction, outcome: Outcome = Outcome.OK, reason: str | None = None
    ) -> None:
        raise NotImplementedError

    def _user_id(self) -> str:
        raise NotImplementedError

    def _current_task_id(self) -> str | None:
        raise NotImplementedError

    def refresh_tasks(self) -> None:
        raise NotImplementedError

    def _segments_changed(self) -> None:
        raise NotImplementedError

    def _init_review(self) -> None:
        self._review: Review | None = None
        #: The document the reviewer's edits are compared with while correcting.
        self._review_base: LabelDocument | None = None
        self._review_busy = False

    @property
    def review(self) -> Review | None:
        return self._review

    @property
    def correcting(self) -> bool:
        editor = self._editor
        return (
            self._review is not None and self._review.task.role is Role.REVIEWER
            and editor is not None and not editor.read_only
        )  # fmt: skip

    def review_base(self) -> LabelDocument | None:
        """What the reviewer's revision is compared with (``None``: nothing to compare)."""
        review = self._review
        if review is None:
            return None
        if review.annotator_document is not None:
            return review.annotator_document
        return self._review_base if self.correcting else None

    def _drop_review(self) -> None:
        """Leaving the task: its reason, comments and diff leave the screen with it."""
        if self._review is not None or self._review_base is not None:
            self._review = None
            self._review_base = None
            self.review_loaded.emit(None)

    # -- opening ---------------------------------------------------------------
    def _load_review(self, task: Task) -> None:
        self._review = None
        self._review_base = None
        self.review_loaded.emit(None)
        if task.role is Role.ANNOTATOR and task.status not in _REVIEWED:
            return
        user_id = self._user_id()
        self._run(task, lambda: self._review_service.open(task, user_id, claim=True),
                  claimed=task.status is TaskStatus.SUBMITTED)  # fmt: skip

    def _run(self, task: Task, call: Callable[[], Review], *, claimed: bool = False,
             done: str | None = None, stored: int | None = None) -> None:  # fmt: skip
        """``call`` on the network worker; its review replaces the shown one.

        ``stored``: the editor generation ``call`` stores as a correction (saved once it
        succeeded, so leaving the task does not ask again).
        """
        self._review_busy = True

        def finished(review: Review) -> None:
            self._review_busy = False
            if self._current_task_id() != task.task_id:
                return
            if stored is not None:
                self._stored_generation = stored
                self._drafts.discard(self._editor_user, task.task_id)
            self._show_review(review)
            if claimed or done:
                self.refresh_tasks()
            if done:
                self.review_done.emit(done)

        def failed(exc: Exception) -> None:
            self._review_busy = False
            logger.info("review of task %s: %s", task.task_id, type(exc).__name__)
            if self._current_task_id() == task.task_id:
                self.review_failed.emit(refusal_words(exc))
                if isinstance(exc, api_errors.ServerError):
                    self._reload(task)  # the task moved on meanwhile: show where it is now

        self._network.submit(f"review:{task.task_id}", call, finished, failed)

    def _reload(self, task: Task) -> None:
        user_id = self._user_id()
        self._network.submit(
            f"review:{task.task_id}",
            lambda: self._review_service.open(task, user_id, claim=False),
            lambda review: (
                self._show_review(review) if self._current_task_id() == task.task_id else None
            ),
            lambda exc: logger.info("review reload failed: %s", type(exc).__name__),
        )

    def _show_review(self, review: Review) -> None:
        self._review = review
        editor = self._editor
        if (
            editor is not None
            and review.task.role is Role.REVIEWER
            and (Step.CORRECT not in review.steps)
        ):
            editor.read_only = True  # the review ended (or is another's): reading only
        self.review_loaded.emit(review)

    # -- the reviewer's actions ----------------------------------------------------
    def _held(self, step: Step) -> Review | None:
        review = self._review
        if review is None:
            return None
        if self._review_busy:
            self.review_failed.emit("The last review step is still on its way; try again.")
            return None
        if step not in review.steps:
            self.review_failed.emit(_why_not(review, step))
            return None
        return review

    def start_correcting(self) -> None:
        """Make the annotator's document editable; the edits become the reviewer's revision."""
        editor = self._editor
        if self._held(Step.CORRECT) is None or editor is None or not editor.read_only:
            return
        self._review_base = editor.snapshot()
        editor.read_only = False
        selected = self._selected
        self.document_loaded.emit(editor)  # the views become editable
        self._selected = selected
        self._segments_changed()
        if self._review is not None:
            self.review_loaded.emit(self._review)

    def accept(self) -> None:
        self._decide(Step.ACCEPT, None)

    def reject(self, reason: str) -> None:
        if not reason.strip():
            self.review_failed.emit("A rejection needs a reason for the annotator.")
            return
        self._decide(Step.REJECT, reason.strip())

    def release(self) -> None:
        review = self._held(Step.RELEASE)
        if review is None:
            return
        task, user_id = review.task, self._user_id()
        if self._editor is not None:
            self._editor.read_only = True
        self._run(task, lambda: self._review_service.step(task, user_id, Step.RELEASE),
                  done="The task is back in the review queue.")  # fmt: skip

    def add_comment(self, text: str, chars: tuple[int, int] | None = None) -> None:
        """A comment on the selection: the selected words, else the span marked on the
        waveform, else the selected segment, else the task as a whole."""
        review = self._held(Step.CORRECT)
        if review is None:
            return
        if not text.strip():
            self.review_failed.emit("A comment needs some words.")
            return
        if self._correction_problem():
            return
        anchor = self._anchor(chars)
        task, service, user_id = review.task, self._review_service, self._user_id()
        correction = self._pending_correction()

        def run() -> Review:
            revision = self._store_correction(task, review, correction)
            service.comment(task, revision, anchor, text.strip())
            return service.open(task, user_id, claim=False)

        stored = None if correction is None else correction[1]
        self._run(task, run, done="Comment added.", stored=stored)

    def _anchor(self, chars: tuple[int, int] | None) -> Anchor:
        marked, self._marked_span = self._marked_span, None
        segment = self._editor.get(self._selected) if self._editor and self._selected else None
        if segment is not None and chars is not None and chars[1] > chars[0]:
            return Anchor(segment=segment.id, char_start=chars[0], char_end=chars[1])
        if marked is not None and marked[1] > marked[0]:
            return Anchor(start_frame=marked[0], end_frame=marked[1])
        if segment is not None:
            return Anchor(segment=segment.id)
        return Anchor()

    def _decide(self, step: Step, reason: str | None) -> None:
        review = self._held(step)
        if review is None or self._correction_problem():
            return
        if step is Step.ACCEPT:
            gaps = self.accept_shortfall()
            if gaps:
                self._emit_unheard()
                self.review_failed.emit(unheard_words(gaps, "accept it"))
                return
            if self._engine.state is PlaybackState.PLAYING:  # the server counts up to here
                self.record(AccessAction.PLAYBACK_PROGRESS)
        task, service, user_id = review.task, self._review_service, self._user_id()
        correction = self._pending_correction()
        delivery = self._delivery

        def run() -> Review:
            delivery.drain(DRAIN_BEFORE_DECISION_S)  # coverage counts what the server holds
            revision = self._store_correction(task, review, correction)
            try:
                return service.step(task, user_id, step, revision=revision, reason=reason)
            except api_errors.ServerError as exc:
                if exc.code is not ErrorCode.COVERAGE_INCOMPLETE:
                    raise
                # The last playback events may still have been on their way into the
                # outbox when it was drained: deliver them, then ask once more.
                time.sleep(COVERAGE_RETRY_S)
                delivery.drain(DRAIN_BEFORE_DECISION_S)
                return service.step(task, user_id, step, revision=revision, reason=reason)

        words = "Accepted." if step is Step.ACCEPT else "Rejected: sent back to the annotator."
        self._run(task, run, done=words, stored=None if correction is None else correction[1])

    def _correction_problem(self) -> bool:
        """An unsaved correction that does not fit the schema: say where, send nothing."""
        editor = self._editor
        if editor is None or not self.correcting or editor.generation == self._stored_generation:
            return False
        problems = editor.problems(final=True)
        if not problems:
            return False
        first = problems[0]
        words = problem_words(editor, first.path, first.message, len(problems))
        self.submit_blocked.emit(first.path, words)
        return True

    def _pending_correction(self) -> tuple[LabelDocument, int] | None:
        """The reviewer's unsaved edits (a snapshot: frozen, safe on any thread), if any."""
        editor = self._editor
        if editor is None or not self.correcting or editor.generation == self._stored_generation:
            return None
        return editor.snapshot(), editor.generation

    def _store_correction(
        self, task: Task, review: Review, correction: tuple[LabelDocument, int] | None
    ) -> int:
        """On the worker: store ``correction`` as the reviewer's revision; the revision judged."""
        newest = review.handed_in.revision if review.handed_in is not None else 0
        if correction is None:
            return newest
        return self._review_service.correct(task, correction[0], newest)


def _why_not(review: Review, step: Step) -> str:
    """Why a key did nothing, in words (the server would refuse it the same way)."""
    if review.task.role is not Role.REVIEWER:
        return "Only a reviewer can do this."
    if review.status is TaskStatus.IN_REVIEW and review.holder_id != review.user_id:
        return "Another reviewer holds this task."
    shown = review.status.value.replace("_", " ")
    return f"The task is {shown}: '{step.value}' is not possible now."
