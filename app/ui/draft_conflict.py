"""The annotator's choice when a local draft and a newer server revision disagree.

Shown when the task opens: the draft on this workstation was made on an
older revision than the server's newest (a reviewer corrected it, or the
annotator worked on another workstation). Both are summarised side by side —
counts and times, never content in a dialog title or log — and nothing is
discarded until the annotator chooses; the other version stays where it is
(the server keeps every revision; the draft stays on disk until a submit).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtWidgets import QMessageBox, QWidget

from app.domain.label_document import LabelDocument


def summary(document: LabelDocument) -> str:
    words = sum(len(s.text.split()) for s in document.segments)
    return f"{len(document.segments)} segments, {words} words, {len(document.pii)} PII tags"


def ask(
    parent: QWidget,
    *,
    draft: LabelDocument,
    draft_saved_at: float,
    draft_base: int | None,
    revision: int,
    stored: LabelDocument,
    answer: Callable[[bool], None],
) -> QMessageBox:
    """Open the question (non-blocking); ``answer(True)`` keeps the draft."""
    saved = time.strftime("%Y-%m-%d %H:%M", time.localtime(draft_saved_at))
    based = f"revision {draft_base}" if draft_base else "no earlier revision"
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "Two versions of this task",
        "The server has a newer revision than the one your draft on this workstation "
        "started from.\n\n"
        f"Your draft (saved {saved}, based on {based}): {summary(draft)}\n"
        f"Server revision {revision}: {summary(stored)}\n\n"
        "Which one do you want to continue?",
        QMessageBox.StandardButton.NoButton,
        parent,
    )
    box.setObjectName("draftConflict")
    keep = box.addButton("Continue my draft", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(f"Open revision {revision}", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(keep)
    box.finished.connect(lambda _r: answer(box.clickedButton() is keep))
    # Back to the window, so its shortcuts act at once (without a window manager nobody
    # else re-activates it).
    box.finished.connect(lambda _r: parent.activateWindow())
    box.open()
    return box
