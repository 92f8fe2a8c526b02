"""Signals between the controller and the window for review, listening and reports.

The role decides the screen: the review queue's filter, the review panel (diff,
comments, the five review keys and their dialogs), the orange unheard band, and a
manager's quality report. Only connections here; the work is the controller's.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer

from app.domain.review import Comment
from app.jobs.controller import Controller
from app.ui.context_wiring import wire_context
from app.ui.main_window import MainWindow
from app.ui.manage_wiring import wire_manage
from app.ui.review_panel import ReviewTextDialog


def wire_review(c: Controller, w: MainWindow) -> None:
    """The review queue and the open task's review: diff, comments, decisions, keys."""
    w.queue_filter.changed.connect(c.filter_queue)
    diff_timer = QTimer(w)  # the diff follows a correction, a moment after the typing
    diff_timer.setSingleShot(True)
    diff_timer.setInterval(400)

    def show(_review: object = None) -> None:
        editor = c.editor
        w.review.show_review(
            c.review, base=c.review_base(), current=editor.snapshot() if editor else None,
            correcting=c.correcting, rate=editor.rate if editor else 1,
        )  # fmt: skip

    diff_timer.timeout.connect(show)
    c.review_loaded.connect(show)
    c.document_changed.connect(lambda: diff_timer.start() if c.correcting else None)
    c.segments_changed.connect(lambda _e, _s: diff_timer.start() if c.correcting else None)
    c.review_failed.connect(w.show_banner)
    c.unheard_changed.connect(w.waveform.segment_layer.set_unheard)
    c.review_done.connect(lambda text: w.show_banner(text, error=False))

    def ask(title: str, prompt: str, answer: Callable[[str], None]) -> None:
        configure = w.annotation.fields.configure_editor
        ReviewTextDialog(w, title, prompt, configure, answer).open()

    def comment() -> None:
        cursor = w.editor.textCursor()
        chars = (cursor.selectionStart(), cursor.selectionEnd()) if cursor.hasSelection() else None
        ask("Comment", "Your comment, for the annotator (on the selected words, the span "
            "marked on the waveform, the selected segment, or the task):",
            lambda text: c.add_comment(text, chars))  # fmt: skip

    actions: dict[str, Callable[[], object]] = {
        "review_correct": c.start_correcting,
        "review_accept": c.accept,
        "review_release": c.release,
        "review_comment": comment,
        "review_reject": lambda: ask(
            "Reject",
            "Why is it sent back? The annotator reads this with your comments:",
            c.reject,
        ),
    }
    w.action_triggered.connect(lambda action_id: actions.get(action_id, lambda: None)())

    def go_to(note: Comment) -> None:
        editor = c.editor
        if note.segment is not None and editor is not None and editor.get(note.segment):
            c.select_segment(note.segment, play=True)
        elif note.start_frame is not None and editor is not None:
            c.seek_seconds(note.start_frame / editor.rate)

    w.review.comment_chosen.connect(go_to)

    wire_manage(c, w)
    wire_context(c, w)
