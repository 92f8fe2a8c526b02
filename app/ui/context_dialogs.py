"""Context around a windowed task: the annotator's ask, and a reviewer's pending asks.

The ask is a number of seconds and a reason typed in the locked-down editor (copy and
paste follow policy), like a reviewer's comment. A reviewer's list shows each pending
ask's recording, annotator, seconds and reason in a view that exports nothing; Alt+G
grants the selected ask, Alt+D denies it.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.ui.no_export import NoExportList
from app.ui.review_panel import ReviewTextDialog
from app.ui.transcript_editor import TranscriptEditor
from app.wire.context import PendingContextOut

#: The server's floor for a reason (``app.wire.context.Justification``).
MIN_REASON = 10


class ContextAskDialog(ReviewTextDialog):
    """Seconds either side, and why: the reason the project's reviewers read."""

    def __init__(
        self, parent: QWidget, max_s: int, configure: Callable[[TranscriptEditor], None],
        answer: Callable[[int, str], None],
    ) -> None:  # fmt: skip
        self.seconds = QSpinBox()
        self.seconds.setObjectName("contextSeconds")
        self.seconds.setRange(1, max(1, max_s))
        self.seconds.setValue(min(5, max(1, max_s)))
        self.seconds.setSuffix(" s either side")
        super().__init__(
            parent, "Hear more around this window",
            "Why do you need more context? Your reason is recorded and shown to the project's "
            f"reviewers (at least {MIN_REASON} characters):",
            configure, lambda text: answer(self.seconds.value(), text),
        )  # fmt: skip
        self.setObjectName("contextAskDialog")
        self.editor.setPlaceholderText(
            "Your reason, e.g. the caller refers to something said earlier."
        )
        row = QHBoxLayout()
        label = QLabel("&How much:")
        label.setBuddy(self.seconds)
        row.addWidget(label)
        row.addWidget(self.seconds)
        row.addStretch(1)
        self.column.insertLayout(0, row)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(False)
        self.editor.textChanged.connect(
            lambda: ok.setEnabled(len(self.editor.toPlainText().strip()) >= MIN_REASON)
        )


class ContextAsksDialog(QDialog):
    """A reviewer's pending context asks; each decision goes to the server."""

    decide = Signal(str, bool)  # request id, grant

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("contextAsksDialog")
        self.setWindowTitle("Context asks")
        self.resize(720, 420)
        col = QVBoxLayout(self)
        col.addWidget(QLabel("Annotators of windowed tasks asking to hear more, oldest first:"))
        self.asks = NoExportList()
        self.asks.setObjectName("contextAsks")
        self.asks.setWordWrap(True)
        self.asks.setAccessibleName("Context asks")
        col.addWidget(self.asks, 1)
        row = QHBoxLayout()
        self.grant_button = QPushButton("&Grant")
        self.deny_button = QPushButton("&Deny")
        self.grant_button.clicked.connect(lambda: self._decide(True))
        self.deny_button.clicked.connect(lambda: self._decide(False))
        row.addWidget(self.grant_button)
        row.addWidget(self.deny_button)
        row.addStretch(1)
        col.addLayout(row)
        self.outcome = QLabel("Loading…")
        self.outcome.setWordWrap(True)
        col.addWidget(self.outcome)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        col.addWidget(close)

    def show_asks(self, asks: list[PendingContextOut]) -> None:
        self.asks.clear()
        for ask in asks:
            item = QListWidgetItem(
                f"{ask.title} — {ask.annotator_name} — {ask.request.seconds} s either side\n"
                f"{ask.justification}"
            )
            item.setData(Qt.ItemDataRole.UserRole, ask.request.request_id)
            self.asks.addItem(item)
        if asks:
            self.asks.setCurrentRow(0)
        self.outcome.setText(f"{len(asks)} pending." if asks else "Nothing is pending.")
        self._enable(bool(asks))

    def show_result(self, words: str) -> None:
        self.outcome.setText(words)
        self._enable(self.asks.count() > 0)

    def close_and_clear(self) -> None:
        """Closed, with no reason left in it (sign-out, lock)."""
        self.reject()
        self.asks.clear()

    def _decide(self, grant: bool) -> None:
        item = self.asks.currentItem()
        if item is None:
            return
        self._enable(False)  # one decision at a time; the fresh list enables them again
        self.outcome.setText("Sending…")
        self.decide.emit(str(item.data(Qt.ItemDataRole.UserRole)), grant)

    def _enable(self, on: bool) -> None:
        self.grant_button.setEnabled(on)
        self.deny_button.setEnabled(on)
