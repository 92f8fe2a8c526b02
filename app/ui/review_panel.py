"""The review of the open task: where it stands, the reviewer's changes, comments, decisions.

Shown under the workspace when a task has a review: to a reviewer (the task's
status, the diff of their correction against the annotator's revision, their
comments, and the five actions, each also a key), and to an annotator whose
task was reviewed (the reason and the comments). Comments, reasons and the diff
are content: the views export nothing (no selection, no copy, no drag).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidgetItem,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.domain.label_document import LabelDocument
from app.domain.lifecycle import Step
from app.domain.review import Comment, Review
from app.domain.revision_diff import DocumentDiff, SegmentDiff, diff_documents
from app.ui.no_export import NoExportList
from app.ui.time_format import format_time
from app.ui.transcript_editor import TranscriptEditor
from app.wire.schemas import Role, TaskStatus

#: Review actions: id, button text, the lifecycle step that must be allowed.
REVIEW_BUTTONS: tuple[tuple[str, str, Step], ...] = (
    ("review_correct", "Correct", Step.CORRECT),
    ("review_comment", "Comment…", Step.CORRECT),
    ("review_accept", "Accept", Step.ACCEPT),
    ("review_reject", "Reject…", Step.REJECT),
    ("review_release", "Put back", Step.RELEASE),
)


def _at(frames: int | None, rate: int) -> str:
    return format_time((frames or 0) / max(1, rate))


def anchor_words(comment: Comment, document: LabelDocument | None, rate: int) -> str:
    """Where a comment points, as the reader finds it (times, never the quoted text)."""
    if comment.segment is not None:
        segment = document.segment(comment.segment) if document is not None else None
        where = f"segment at {_at(segment.start, rate)}" if segment else "a removed segment"
        if comment.char_start is not None:
            where += f", characters {comment.char_start + 1}-{comment.char_end}"
        return where
    if comment.start_frame is not None:
        return f"{_at(comment.start_frame, rate)}-{_at(comment.end_frame, rate)}"
    return "the task"


def _segment_html(d: SegmentDiff, rate: int) -> str:
    seg = d.after or d.before
    if seg is None:  # pragma: no cover - a diff always has one side
        return ""
    head = f"<b>{d.change.value.capitalize()}</b> segment at {_at(seg.start, rate)}"
    notes = []
    if d.moved and d.before is not None and d.after is not None:
        notes.append(
            f"moved from {_at(d.before.start, rate)}-{_at(d.before.end, rate)} "
            f"to {_at(d.after.start, rate)}-{_at(d.after.end, rate)}"
        )
    if d.speaker_changed and d.before is not None and d.after is not None:
        notes.append(f"speaker {html.escape(str(d.before.speaker))} → "
                     f"{html.escape(str(d.after.speaker))}")  # fmt: skip
    if d.channel_changed:
        notes.append("channel changed")
    if d.labels_changed and d.before is not None and d.after is not None:
        old = ", ".join(f"{k}={'/'.join(v)}" for k, v in d.before.labels) or "none"
        new = ", ".join(f"{k}={'/'.join(v)}" for k, v in d.after.labels) or "none"
        notes.append(f"labels {html.escape(old)} → {html.escape(new)}")
    words = []
    for op in d.text:
        text = html.escape(op.text)
        if op.op == "delete":
            words.append(f"<span style='color:#b00020;text-decoration:line-through'>{text}</span>")
        elif op.op == "insert":
            words.append(f"<span style='color:#006400;font-weight:bold'>{text}</span>")
        else:
            words.append(text)
    body = "; ".join(notes)
    return f"<p>{head}{': ' + body if body else ''}<br>{' '.join(words)}</p>"


def diff_html(diff: DocumentDiff, rate: int) -> str:
    """The diff as the reviewer and the annotator read it (content escaped, never markup)."""
    if diff.empty:
        return "<p>No changes to the annotator's revision.</p>"
    parts = [_segment_html(d, rate) for d in diff.segments]
    for f in diff.fields:
        parts.append(f"<p><b>Field</b> {html.escape(f.name)}: {html.escape(str(f.before))} → "
                     f"{html.escape(str(f.after))}</p>")  # fmt: skip
    if diff.pii_added or diff.pii_removed:
        parts.append(f"<p><b>PII tags</b>: {diff.pii_added} added, {diff.pii_removed} removed</p>")
    return "".join(parts)


def _status_words(review: Review) -> str:
    status = review.status.value.replace("_", " ")
    handed = review.handed_in
    revision = f"revision {handed.revision}" if handed else "no revision yet"
    if handed is not None and handed.author_role is Role.REVIEWER:
        revision += " (a reviewer's correction)"
    holder = ""
    if review.status is TaskStatus.IN_REVIEW:
        holder = " by you" if review.holder_id == review.user_id else " by another reviewer"
    who = f" · annotated by {review.task.annotator_name}" if review.task.annotator_name else ""
    return f"Review: {status}{holder} · {revision}{who}"


class CommentList(NoExportList):
    """A task's review comments (a reviewer's words about a recording: content)."""


class DiffView(QTextBrowser):
    """The correction shown against the annotator's revision (transcript words: content)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # No selection at all: nothing to copy, drag or print from the diff.
        self.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)


class ReviewPanel(QWidget):
    """The open task's review; hidden when the task has none."""

    action_requested = Signal(str)  # a review action id (app.ui.shortcuts)
    comment_chosen = Signal(object)  # Comment: show where it points

    def __init__(self, parent: QWidget | None = None, **signals: Any) -> None:
        super().__init__(parent, **signals)  # e.g. action_requested=slot
        self.setObjectName("reviewPanel")
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        self.status = QLabel("")
        self.status.setObjectName("reviewStatus")
        self.reason = QLabel("")
        self.reason.setObjectName("reviewReason")
        self.reason.setWordWrap(True)
        for label in (self.status, self.reason):
            label.setTextFormat(Qt.TextFormat.PlainText)  # names and reasons are data
        col.addWidget(self.status)
        col.addWidget(self.reason)
        row = QHBoxLayout()
        self.comments = CommentList()
        self.comments.setObjectName("reviewComments")
        self.comments.setWordWrap(True)
        self.comments.itemActivated.connect(self._on_comment)
        self.comments.itemClicked.connect(self._on_comment)
        self.diff = DiffView()
        self.diff.setObjectName("reviewDiff")
        row.addWidget(self.comments, 1)
        row.addWidget(self.diff, 2)
        col.addLayout(row, 1)
        buttons = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for action_id, text, _step in REVIEW_BUTTONS:
            button = QPushButton(text)
            button.setObjectName(action_id)
            button.clicked.connect(lambda _c=False, a=action_id: self.action_requested.emit(a))
            buttons.addWidget(button)
            self.buttons[action_id] = button
        buttons.addStretch(1)
        col.addLayout(buttons)
        self.review: Review | None = None
        self.setVisible(False)

    def set_tooltips(self, keys: dict[str, str]) -> None:
        for action_id, button in self.buttons.items():
            if keys.get(action_id):
                button.setToolTip(f"{button.text().rstrip('…')} ({keys[action_id]})")

    def show_review(
        self, review: Review | None, *, base: LabelDocument | None,
        current: LabelDocument | None, correcting: bool, rate: int,
    ) -> None:  # fmt: skip
        """Show ``review``; the diff is ``current`` against ``base`` when there is a base."""
        self.review = review
        self.setVisible(review is not None)
        if review is None:
            self.comments.clear()
            self.diff.clear()
            return
        self.status.setText(_status_words(review))
        decision = review.last_decision
        reason = ""
        if decision is not None and decision.reason:
            reason = f"Reason given when {decision.to_status.value}: {decision.reason}"
        self.reason.setText(reason)
        self.reason.setVisible(bool(reason))
        self.comments.clear()
        for comment in review.comments:
            where = anchor_words(comment, current, rate)
            item = QListWidgetItem(f"{where} (revision {comment.revision}): {comment.text}")
            item.setData(Qt.ItemDataRole.UserRole, comment)
            self.comments.addItem(item)
        if not review.comments:
            self.comments.addItem("No comments.")
        self.diff.setVisible(base is not None and current is not None)
        if base is not None and current is not None:
            self.diff.setHtml(diff_html(diff_documents(base, current), rate))
        steps = review.steps
        for action_id, _text, step in REVIEW_BUTTONS:
            button = self.buttons[action_id]
            button.setVisible(review.task.role is Role.REVIEWER)
            button.setEnabled(step in steps and not (action_id == "review_correct" and correcting))

    def _on_comment(self, item: QListWidgetItem) -> None:
        comment = item.data(Qt.ItemDataRole.UserRole)
        if isinstance(comment, Comment):
            self.comment_chosen.emit(comment)


class ReviewTextDialog(QDialog):
    """A reason or a comment, typed in a locked-down editor (copy and paste follow policy)."""

    def __init__(
        self, parent: QWidget, title: str, prompt: str,
        configure: Callable[[TranscriptEditor], None], answer: Callable[[str], None],
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("reviewTextDialog")
        self.setWindowTitle(title)
        col = QVBoxLayout(self)
        label = QLabel(prompt)
        label.setWordWrap(True)
        col.addWidget(label)
        self.editor = TranscriptEditor()
        self.editor.setObjectName("reviewText")
        configure(self.editor)
        col.addWidget(self.editor)
        box = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        box.accepted.connect(self.accept)
        box.rejected.connect(self.reject)
        col.addWidget(box)
        self.column, self.buttons = col, box
        self.editor.setPlaceholderText(prompt.split(":", maxsplit=1)[0] + ".")
        self.accepted.connect(lambda: answer(self.editor.toPlainText()))
        self.finished.connect(lambda _r: self._done(parent))

    def _done(self, parent: QWidget) -> None:
        self.editor.clear()  # the words leave with the dialog
        # Back to the window, so its shortcuts act at once (without a window manager
        # nobody else re-activates it).
        parent.activateWindow()
