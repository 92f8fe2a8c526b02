"""The PII proposals strip under the segment text: confirm or dismiss each one.

Keyboard first: Return in the list (or the keymap's ``pii_confirm``, Ctrl+Alt+Y,
anywhere in the window) tags the chosen proposal as PII, Delete (or
``pii_dismiss``, Ctrl+Alt+X) dismisses it. Hidden while there is nothing to propose. The list
shows the proposed words, so it is content: redacted for screen readers like
the transcript (``app.main``), and it offers no copy.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.project_schema import ProjectSchema
from app.services.pii_suggestions import Suggestion


class SuggestionList(QListWidget):
    """Return confirms, Delete dismisses the current row."""

    confirm_current = Signal()
    dismiss_current = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.confirm_current.emit()
        elif event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.dismiss_current.emit()
        else:
            super().keyPressEvent(event)


class PiiSuggestionPanel(QWidget):
    confirm_requested = Signal(object)  # Suggestion
    dismiss_requested = Signal(object)  # Suggestion

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("piiSuggestions")
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(2)
        # One row for the title and the two buttons, then a short list: the strip should
        # not push the task fields out of sight.
        row = QHBoxLayout()
        self.title = QLabel("")
        self.title.setStyleSheet("color: #b45309; font-weight: bold;")
        row.addWidget(self.title, 1)
        self.confirm_button = QPushButton("Tag as PII")
        self.dismiss_button = QPushButton("Dismiss")
        row.addWidget(self.confirm_button)
        row.addWidget(self.dismiss_button)
        col.addLayout(row)
        self.list = SuggestionList()
        self.list.setMaximumHeight(48)
        self.list.setWordWrap(True)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        col.addWidget(self.list)
        self.confirm_button.clicked.connect(self._confirm)
        self.dismiss_button.clicked.connect(self._dismiss)
        self.list.confirm_current.connect(self._confirm)
        self.list.dismiss_current.connect(self._dismiss)
        self._items: list[Suggestion] = []
        self._schema = ProjectSchema()
        self.setVisible(False)

    def set_schema(self, schema: ProjectSchema) -> None:
        self._schema = schema

    def show_suggestions(self, items: list[Suggestion]) -> None:
        chosen = self.list.currentRow()
        self._items = list(items)
        self.list.clear()
        for s in self._items:
            spec = self._schema.pii_category(s.category)
            title = spec.title if spec is not None else s.category
            kind = s.kind.replace("_", " ")
            text = f"Segment {s.segment_index + 1} · {title} · “{s.words}” ({kind})"
            self.list.addItem(QListWidgetItem(text))
        if self._items:
            self.list.setCurrentRow(min(max(chosen, 0), len(self._items) - 1))
        n = len(self._items)
        self.title.setText(f"{n} possible PII {'span' if n == 1 else 'spans'}")
        self.setVisible(bool(self._items))

    def current(self) -> Suggestion | None:
        row = self.list.currentRow()
        return self._items[row] if 0 <= row < len(self._items) else None

    def set_tooltips(self, keys: dict[str, str]) -> None:
        """The keymap's keys for the two buttons (they can be remapped)."""
        self.confirm_button.setText(f"Tag ({keys.get('pii_confirm', '')})")
        self.dismiss_button.setText(f"Dismiss ({keys.get('pii_dismiss', '')})")
        self.confirm_button.setToolTip("Tag the chosen span as PII")
        self.dismiss_button.setToolTip("Not PII: do not propose it again")

    def confirm_chosen(self) -> None:
        self._confirm()

    def dismiss_chosen(self) -> None:
        self._dismiss()

    def _confirm(self) -> None:
        chosen = self.current()
        if chosen is not None and self.isVisible():
            self.confirm_requested.emit(chosen)

    def _dismiss(self) -> None:
        chosen = self.current()
        if chosen is not None and self.isVisible():
            self.dismiss_requested.emit(chosen)
