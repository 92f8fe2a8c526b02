"""The open task's document, for the controller: load, edit, autosave, submit.

A mixin so the annotation workflow lives in its own module while sharing the
controller's state (the open segment, the playback engine, the services) and
its signals; :class:`~app.jobs.controller.Controller` is the only user.

Where the document comes from when a task opens (on the network worker):
the project schema, the newest stored work (this workstation's outbox first,
else the server's latest revision or draft) and the local draft. The local
draft wins when it was made on top of that stored work; when the server holds
a newer revision than the one the draft started from, both are offered and
the annotator chooses (``draft_conflict``). Every edit restarts a short
autosave timer; switching tasks, locking, signing out and quitting save at
once. Submitting is separate: it checks the document against the schema
first and points at the first problem instead of sending it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer

from app.domain.label_document import LabelDocument, Segment
from app.domain.lifecycle import ANNOTATOR_LOCKED
from app.domain.models import AccessEvent, Task
from app.domain.project_schema import ProjectSchema
from app.jobs.problem_words import problem_words, unheard_words
from app.jobs.segment_ops import SegmentOps
from app.jobs.work_choice import LoadedWork, WorkChoice, choose_work
from app.player.playback import PlaybackEngine, PlaybackState
from app.services.annotation import DocumentEditor
from app.services.delivery import LabelResult
from app.services.drafts import DraftDamagedError, DraftStore
from app.services.events import EventRecorder
from app.services.labels import LabelService, new_label_id
from app.services.outbox import OutboxWriteError
from app.services.segments import OpenedSegment
from app.wire.schemas import AccessAction, Outcome, Role

logger = logging.getLogger(__name__)

#: A draft is written this long after the last edit (and at once on leaving the task).
AUTOSAVE_MS = 2_000


class AnnotationOps(SegmentOps):
    # Provided by Controller.
    _engine: PlaybackEngine
    _opened: OpenedSegment | None
    _labels: LabelService
    _drafts: DraftStore
    _events: EventRecorder
    _network: Any
    document_loaded: Any
    document_changed: Any
    segments_changed: Any
    segment_text_changed: Any
    span_tagged: Any
    draft_conflict: Any
    draft_saved: Any
    label_failed: Any
    label_saved: Any
    label_submitted: Any
    submit_blocked: Any
    _saved_from_worker: Any
    _draft_saved_from_worker: Any
    _channel_gains: list[float]
    # PlaybackOps (declared only: a stub here would shadow it in the MRO).
    _emit_player_settings: Callable[[], None]
    _set_loop: Callable[[int | None, int | None], None]
    # ListeningOps (declared, not defined here: a stub would shadow it in the MRO).
    required_unheard: Callable[[], list[tuple[int, int]]]
    _emit_unheard: Callable[[], None]
    #: The open comparison's output ids (empty until its bundle is open): ComparisonOps.
    _comparison_outputs: Callable[[Task], tuple[str, ...]]

    def record(
        self, action: AccessAction, outcome: Outcome = Outcome.OK, reason: str | None = None
    ) -> None:
        raise NotImplementedError

    def _current_task_id(self) -> str | None:
        raise NotImplementedError

    def _user_id(self) -> str:
        raise NotImplementedError

    def refresh_tasks(self) -> None:
        raise NotImplementedError

    def _init_annotation(self) -> None:
        self._editor: DocumentEditor | None = None
        self._editor_task: Task | None = None
        self._editor_user = ""
        self._marked_span: tuple[int, int] | None = None
        self._selected: str | None = None
        self._base_revision: int | None = None
        self._label_id: str | None = None
        #: The editor generation the server (or the outbox) has; differs = unsaved there.
        self._stored_generation = 0
        #: The editor generation the local draft has.
        self._drafted_generation = 0
        self._autosave_timer = QTimer()
        self._autosave_timer.setSingleShot(True)
        self._autosave_timer.setInterval(AUTOSAVE_MS)
        self._autosave_timer.timeout.connect(self.save_draft)
        self._saved_from_worker.connect(self._on_label_saved)
        self._draft_saved_from_worker.connect(self.draft_saved.emit)

    # -- loading ---------------------------------------------------------------
    def _load_work(self, task: Task) -> None:
        """On opening ``task``: fetch schema, stored work and the local draft off the GUI thread."""
        user_id = self._user_id()

        def load() -> LoadedWork:
            schema = self._labels.schema(task)
            stored = self._labels.latest(task)
            try:
                draft = self._drafts.load(user_id, task.task_id)
            except DraftDamagedError:
                return LoadedWork(task, schema, stored, None, draft_damaged=True)
            return LoadedWork(task, schema, stored, draft)

        self._network.submit(
            f"work:{task.task_id}", load, self._on_work, lambda exc: self._on_work_error(task, exc)
        )

    def _on_work_error(self, task: Task, exc: Exception) -> None:
        if self._current_task_id() != task.task_id:
            return
        logger.info("the work of task %s did not load: %s", task.task_id, type(exc).__name__)
        message = getattr(exc, "user_message", "The task's annotation could not be loaded.")
        self.label_failed.emit(f"{message} Editing is off until the task is opened again.")

    def _on_work(self, work: LoadedWork) -> None:
        if self._current_task_id() != work.task.task_id:  # a late reply for another task
            return
        if work.draft_damaged:
            self._events.record(
                AccessEvent(
                    AccessAction.OUTBOX_DAMAGED,
                    work.task.task_id,
                    work.task.segment_id,
                    outcome=Outcome.FAILED,
                    reason="draft_damaged",
                )
            )
            self.label_failed.emit(DraftDamagedError.user_message)
        chosen = choose_work(work)
        if isinstance(chosen, WorkChoice):
            self.draft_conflict.emit(chosen)
            return
        document, base = chosen
        self._install(work.task, work.schema, document, base, from_draft=work.draft is not None)

    def choose_work(self, choice: WorkChoice, keep_draft: bool) -> None:
        """The annotator's answer to ``draft_conflict``."""
        if self._current_task_id() != choice.task.task_id:
            return
        document = choice.draft.document if keep_draft else choice.stored.document
        self._install(choice.task, choice.schema, document, choice.stored.revision,
                      from_draft=keep_draft)  # fmt: skip
        # The answer is kept, so the question is not asked again at the next open: the
        # draft now builds on that revision, or it is gone.
        if keep_draft:
            self._drafted_generation = -1
            self.save_draft()
        else:
            self._drafts.discard(self._editor_user, choice.task.task_id)

    def _install(
        self,
        task: Task,
        schema: ProjectSchema,
        document: LabelDocument | None,
        base_revision: int | None,
        *,
        from_draft: bool,
    ) -> None:
        frames = round(task.duration_s * task.sample_rate)
        # A reviewer reads the annotator's document until they choose to correct it; an
        # annotator reads theirs once a reviewer holds it or accepted it.
        read_only = task.role is not Role.ANNOTATOR or task.status in ANNOTATOR_LOCKED
        editor = DocumentEditor(
            schema, frames, task.channels, task.sample_rate, document,
            read_only=read_only, kind=task.kind.value,
            outputs=self._comparison_outputs(task),
        )  # fmt: skip
        editor.add_listener(self._on_edit)
        self._editor, self._editor_task = editor, task
        self._editor_user = self._user_id()  # drafts stay this user's even if the token expires
        self._selected = None
        self._base_revision = base_revision
        self._label_id = None
        # Work restored from a draft is unsaved on the server until submitted.
        self._stored_generation = -1 if from_draft else 0
        self._drafted_generation = 0
        self.document_loaded.emit(editor)
        self._segments_changed()

    # -- the editor and its selection -------------------------------------------
    @property
    def editor(self) -> DocumentEditor | None:
        return self._editor

    def _editable(self) -> DocumentEditor | None:
        """The editor, if the open document may be edited (not a reviewer's reading copy)."""
        editor = self._editor
        return editor if editor is not None and not editor.read_only else None

    @property
    def selected_segment(self) -> Segment | None:
        if self._editor is None or self._selected is None:
            return None
        return self._editor.get(self._selected)

    def _segments_changed(self) -> None:
        segment = self.selected_segment
        if segment is None:
            self._selected = None
        if self._engine.loop is not None:
            if segment is None:
                self._set_loop(None, None)
            elif self._engine.loop != (segment.start, segment.end):
                self._set_loop(segment.start, segment.end)
        self.segments_changed.emit(self._editor, self._selected)
        self._emit_player_settings()
        self._emit_unheard()

    def _on_edit(self) -> None:
        self._label_id = None  # a new edit after a failed submit is a new label
        self._autosave_timer.start()
        self.document_changed.emit()

    @property
    def has_unsaved_work(self) -> bool:
        """Edits the server (or the outbox) does not have yet."""
        return self._editor is not None and self._editor.generation != self._stored_generation

    def save_draft(self) -> None:
        """Seal the document into the local draft now (off the GUI thread; newest wins)."""
        self._autosave_timer.stop()
        editor, task = self._editable(), self._editor_task
        if editor is None or task is None or editor.generation == self._drafted_generation:
            return
        if not self.has_unsaved_work:
            return
        self._drafted_generation = editor.generation
        self._drafts.save(
            self._editor_user, task.task_id, editor.snapshot(), self._base_revision,
            on_saved=self._draft_saved_from_worker.emit,
        )  # fmt: skip

    def _drop_editor(self) -> None:
        """Leaving the task: keep its work as a draft, then forget it here."""
        self.save_draft()
        self._autosave_timer.stop()
        if self._editor is not None:
            self._editor = None
            self._editor_task = None
            self._selected = None
            self.document_loaded.emit(None)

    def _upload_draft(self) -> None:
        """Lock or sign-out: the server keeps the unsaved work as a draft revision too."""
        editor, task = self._editor, self._editor_task
        if editor is None or task is None or not self.has_unsaved_work:
            return
        if task.role is not Role.ANNOTATOR:
            return  # a reviewer's correction is stored as a revision, never as a draft
        self._labels.save(task, new_label_id(), editor.snapshot(),
                          base_revision=self._base_revision, draft=True)  # fmt: skip

    # -- submitting -----------------------------------------------------------------
    def submit(self) -> None:
        """Hand the task in: check the document, then queue it (durable before "saved")."""
        editor, task = self._editor, self._editor_task
        if editor is None or task is None:
            self.label_failed.emit("Open a task before submitting.")
            return
        if task.role is Role.REVIEWER:
            self.label_failed.emit(
                "Reviewers do not submit: accept (Ctrl+Shift+A) or reject (Ctrl+Shift+R); "
                "a correction is stored with the decision."
            )
            return
        if editor.read_only:
            self.label_failed.emit(f"This task is {task.status.value.replace('_', ' ')}: "
                                   "it can no longer be changed.")  # fmt: skip
            return
        problems = editor.problems(final=True)
        if problems:
            first = problems[0]
            words = problem_words(editor, first.path, first.message, len(problems))
            self.submit_blocked.emit(first.path, words)
            return
        gaps = self.required_unheard()
        if gaps:
            self._emit_unheard()
            self.submit_blocked.emit("$.coverage", unheard_words(gaps, "hand it in"))
            return
        if self._engine.state is PlaybackState.PLAYING:  # the server counts up to here
            self.record(AccessAction.PLAYBACK_PROGRESS)
        label_id = self._label_id or new_label_id()
        self._label_id = label_id
        generation = editor.generation
        ticket = self._labels.save(task, label_id, editor.snapshot(),
                                   base_revision=self._base_revision)  # fmt: skip
        ticket.add_done_callback(
            lambda error: self._saved_from_worker.emit(task.task_id, generation, error)
        )

    def _on_label_saved(
        self, task_id: str, generation: int, error: OutboxWriteError | None
    ) -> None:
        if error is not None:
            self.label_failed.emit(error.user_message + " Your work is still in the editor.")
            return
        self._label_id = None
        if self._editor_task is not None and self._editor_task.task_id == task_id:
            self._stored_generation = generation
            if self._editor is not None and self._editor.generation == generation:
                self._autosave_timer.stop()
                self._drafted_generation = generation
                self._drafts.discard(self._editor_user, task_id)  # the outbox holds it now
        self.label_saved.emit(task_id)

    def _on_label_result(self, result: LabelResult) -> None:
        if result.ack is not None:
            if not result.draft:
                if self._editor_task is not None and self._editor_task.task_id == result.task_id:
                    self._base_revision = result.ack.revision
                self.label_submitted.emit(result.task_id, result.ack.revision)
                self.refresh_tasks()
            return
        # Refused for good: the entry left the outbox; the work stays as a local draft.
        refusal = result.refusal
        message = refusal.refusal_words if refusal is not None else "The server refused it."
        self.label_failed.emit(
            f"The server refused the annotation: {message} "
            "It is kept as a draft on this workstation."
        )
        task = self._editor_task
        if task is not None and task.task_id == result.task_id and self._editable() is not None:
            self._stored_generation = -1  # the editor holds it: unsaved again, drafted now
            self._drafted_generation = -1
            self.save_draft()
        elif result.document is not None:
            self._drafts.save(self._user_id(), result.task_id, result.document,
                              result.base_revision)  # fmt: skip
        self.refresh_tasks()
