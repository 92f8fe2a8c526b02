"""Asking the server for PII proposals while the annotator types, off the GUI thread.

A segment's text is sent a moment after the typing pauses (and every segment's
text when a document opens for editing); the reply lands in a
:class:`~app.services.pii_suggestions.SuggestionBook` and the window is told.
Read-only documents (a reviewer's reading copy, accepted work) ask nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from app.api.client import CordonApi
from app.domain.models import Task
from app.services.annotation import DocumentEditor
from app.services.pii_suggestions import Suggestion, SuggestionBook

logger = logging.getLogger(__name__)
#: How long typing must pause before the segment's text is sent.
PAUSE_MS = 1_200

EditorSource = Callable[[], tuple[DocumentEditor | None, Task | None]]


class PiiSuggester(QObject):
    changed = Signal(list)  # [Suggestion]

    def __init__(
        self, api: CordonApi, network: Any, editor_of: EditorSource,
        after_tag: Callable[[], None], parent: QObject | None = None,
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self._api, self._network, self._editor_of = api, network, editor_of
        self._after_tag = after_tag
        self.book = SuggestionBook()
        self._pending: set[str] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PAUSE_MS)
        self._timer.timeout.connect(self._ask)

    def document_loaded(self, editor: DocumentEditor | None) -> None:
        self.book.clear()
        self._pending = {s.id for s in editor.segments if s.text} if editor is not None else set()
        self.changed.emit([])
        if self._pending:
            self._timer.start(0)

    def text_changed(self, segment_id: str | None) -> None:
        if segment_id is None:
            return
        self.book.edited(segment_id)
        self._pending.add(segment_id)
        self._timer.start()
        self.changed.emit(self.book.all())

    def _ask(self) -> None:
        editor, task = self._editor_of()
        pending, self._pending = self._pending, set()
        if editor is None or task is None or editor.read_only:
            return
        sent = {}
        for segment_id in sorted(pending):
            segment = editor.get(segment_id)
            if segment is not None and segment.text:
                sent[segment_id] = segment.text
        if not sent:
            return
        version = editor.schema.version

        def done(answer: Any) -> None:
            current, now_task = self._editor_of()
            if current is editor and now_task is not None and now_task.task_id == task.task_id:
                self.book.answered(editor, sent, answer)
                self.changed.emit(self.book.all())

        def failed(exc: Exception) -> None:  # a proposal is a help, not a step: stay quiet
            logger.info("PII suggestions unavailable: %s", type(exc).__name__)

        self._network.submit(
            f"pii:{task.task_id}",
            lambda: self._api.pii_suggestions(task.task_id, version, sent), done, failed,
        )  # fmt: skip

    def confirm(self, suggestion: Suggestion) -> None:
        editor, _task = self._editor_of()
        if editor is not None and not editor.read_only:
            try:
                self.book.confirm(editor, suggestion)
            except (KeyError, ValueError):
                logger.info("a PII proposal no longer fits its segment")
            self._after_tag()
        self.changed.emit(self.book.all())

    def dismiss(self, suggestion: Suggestion) -> None:
        self.book.dismiss(suggestion)
        self.changed.emit(self.book.all())
