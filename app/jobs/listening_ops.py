"""Listen coverage for the controller: what is still to be heard, marked before a refusal.

A mixin like the other ``*_ops`` modules. The project may require every segment to be
heard before a hand-in and the whole recording before an accept; the server enforces
it from the events it holds. Here the same rule runs on the trace of this session plus
what the server counted when the task opened, so the waveform marks the unheard spans
in orange and a hand-in is stopped with words instead of sent to be refused.
"""

from __future__ import annotations

import logging
from typing import Any

from app.api.client import CordonApi
from app.domain.models import Task
from app.services.annotation import DocumentEditor
from app.services.listening import ListenTracker
from app.wire.schemas import Role

logger = logging.getLogger(__name__)


class ListeningOps:
    # Provided by Controller.
    _api: CordonApi
    _network: Any
    unheard_changed: Any

    def _current_task(self) -> Task | None:
        raise NotImplementedError

    def _position_ms(self) -> int:
        raise NotImplementedError

    @property
    def editor(self) -> DocumentEditor | None:
        raise NotImplementedError

    def _init_listening(self) -> None:
        self._listening = ListenTracker()
        self._shown_unheard: list[tuple[float, float]] = []

    def _load_coverage(self, task: Task) -> None:
        """What the server already counts as heard for this task (earlier sessions)."""
        self._listening.reset(task.task_id, round(task.duration_s * 1000), self._position_ms)
        self._emit_unheard()
        self._network.submit(
            f"coverage:{task.task_id}",
            lambda: self._api.coverage(task.task_id),
            lambda out: self._known_coverage(task.task_id, out.heard),
            lambda exc: logger.info("coverage not loaded: %s", type(exc).__name__),
        )

    def _drop_listening(self) -> None:
        """Leaving the task: forget its trace and clear the orange band."""
        self._listening.reset(None, 0, self._position_ms)
        self._emit_unheard()

    def _known_coverage(self, task_id: str, heard: list[tuple[int, int]]) -> None:
        self._listening.add_known(task_id, heard)
        self._emit_unheard()

    def required_unheard(self) -> list[tuple[int, int]]:
        """The audio (ms) the project requires this user to hear and they have not yet."""
        task, editor = self._current_task(), self.editor
        if task is None or task.is_comparison or task.task_id != self._listening.task_id:
            return []
        if task.role is Role.ANNOTATOR and task.submit_coverage and editor is not None:
            rate = editor.rate
            spans = [(s.start * 1000 // rate, s.end * 1000 // rate) for s in editor.segments]
            return self._listening.unheard(spans)
        if task.role is Role.REVIEWER and task.accept_coverage > 0:
            return self._listening.unheard([(0, self._listening.duration_ms)])
        return []

    def _emit_unheard(self) -> None:
        spans = [(a / 1000, b / 1000) for a, b in self.required_unheard()]
        if spans != self._shown_unheard:
            self._shown_unheard = spans
            self.unheard_changed.emit(spans)

    def accept_shortfall(self) -> list[tuple[int, int]]:
        """The unheard spans, if the reviewer heard less than the project asks before an accept."""
        task = self._current_task()
        if task is None or task.is_comparison or task.accept_coverage <= 0:
            return []
        duration = self._listening.duration_ms
        gaps = self._listening.unheard([(0, duration)])
        missing = sum(b - a for a, b in gaps)
        return gaps if duration - missing < duration * task.accept_coverage // 100 else []
