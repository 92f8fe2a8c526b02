"""RLHF comparison tasks, for the controller: open the bundle, play its clips, judge.

A mixin beside :mod:`app.jobs.annotation_ops` (the document, autosave and
submit are shared): a comparison task opens through
:class:`~app.services.comparisons.ComparisonService` on the downloads worker
instead of the segment pipeline, and its judgement — a preference or a
ranking — is edited in the same :class:`DocumentEditor`, so drafts, conflicts
and submitting work exactly as for a transcription.
"""

from __future__ import annotations

import threading
from typing import Any

from app.domain.models import Task
from app.player.playback import AudioDeviceError, PlaybackEngine, PlaybackState
from app.services.annotation import DocumentEditor
from app.services.comparisons import ComparisonService, OpenedComparison
from app.wire.schemas import AccessAction, Outcome


class ComparisonOps:
    # Provided by Controller (and AnnotationOps).
    _engine: PlaybackEngine
    _comparisons: ComparisonService
    _downloads: Any
    _opening: tuple[Task, threading.Event] | None
    _shut_down: bool
    comparison_opened: Any
    segment_failed: Any
    segment_closed: Any

    def record(
        self, action: AccessAction, outcome: Outcome = Outcome.OK, reason: str | None = None
    ) -> None:
        raise NotImplementedError

    def _editable(self) -> DocumentEditor | None:
        raise NotImplementedError

    def _on_open_error(self, task: Task, cancel: threading.Event, exc: Exception) -> None:
        raise NotImplementedError

    @property
    def editor(self) -> DocumentEditor | None:
        raise NotImplementedError

    def _init_comparisons(self) -> None:
        self._comparison: OpenedComparison | None = None
        self._clip: str | None = None

    @property
    def comparison(self) -> OpenedComparison | None:
        return self._comparison

    def _comparison_outputs(self, task: Task) -> tuple[str, ...]:
        opened = self._comparison
        if opened is None or opened.task.task_id != task.task_id:
            return ()
        return opened.comparison.output_ids

    def _open_comparison(self, task: Task, cancel: threading.Event) -> None:
        self._downloads.submit(
            f"open:{task.task_id}",
            lambda: self._comparisons.open(task, cancel),
            self._on_comparison,
            lambda exc: self._on_open_error(task, cancel, exc),
        )

    def _on_comparison(self, opened: OpenedComparison) -> None:
        opening = self._opening
        if self._shut_down or opening is None or opening[0] is not opened.task:
            opened.close()  # superseded or cancelled meanwhile
            return
        self._opening = None
        self._comparison = opened
        if self.editor is not None:
            self.editor.outputs = opened.comparison.output_ids
        self.comparison_opened.emit(opened)

    def _close_comparison(self) -> bool:
        """Zero the open comparison (if any); ``True`` if there was one."""
        opened = self._comparison
        if opened is None:
            return False
        self.record(AccessAction.SEGMENT_CLOSED)
        self._comparison = None
        self._clip = None
        self._engine.unload()
        opened.close()
        self.segment_closed.emit()
        return True

    def play_clip(self, key: str) -> None:
        """Play the prompt's or an output's audio (loaded into the engine on first use)."""
        opened = self._comparison
        if opened is None or key not in opened.audio:
            return
        if self._clip != key:
            try:
                self._engine.load(opened.audio[key])
            except AudioDeviceError as exc:
                self.record(AccessAction.AUDIO_DEVICE_FAILED, Outcome.FAILED, "no_output")
                self.segment_failed.emit(exc.user_message)
                return
            self._clip = key
        if self._engine.state is PlaybackState.FINISHED:
            self._engine.seek(0)  # played to the end: again from the start
        if self._engine.state is not PlaybackState.PLAYING:
            self._engine.play()
            self.record(AccessAction.PLAYBACK_STARTED, reason=f"clip_{key}"[:64])

    # -- the judgement --------------------------------------------------------
    def choose(self, choice: str, strength: int | None) -> None:
        editor = self._editable()
        if editor is not None and editor.kind == "pairwise":
            editor.choose(choice, strength)

    def set_reason(self, text: str) -> None:
        editor = self._editable()
        if editor is not None and editor.kind == "pairwise":
            editor.set_reason(text)

    def move_output(self, output_id: str, up: bool) -> None:
        editor = self._editable()
        if editor is not None and editor.kind == "ranking":
            editor.move_output(output_id, up)

    def toggle_tie(self, output_id: str) -> None:
        editor = self._editable()
        if editor is not None and editor.kind == "ranking":
            editor.toggle_tie(output_id)

    def keep_order(self) -> None:
        editor = self._editable()
        if editor is not None and editor.kind == "ranking":
            editor.keep_order()
