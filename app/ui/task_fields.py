"""Task-level fields from the project schema: choices, ratings, free text, and a comment.

Built anew for each document from its schema. Tab moves between fields here
(the window gives Tab back to this panel while it has focus); every change
goes out as ``field_changed`` and the controller's editor keeps the value.
Text fields are :class:`TranscriptEditor` s: they export nothing, like the
segment text.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel, QWidget

from app.domain.label_document import FieldValue
from app.domain.project_schema import ProjectSchema, TaskLabel
from app.ui.transcript_editor import TranscriptEditor

UNSET = "—"


class TaskFieldsPanel(QWidget):
    field_changed = Signal(str, object)  # name, FieldValue | None
    comment_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("taskFields")
        self._form = QFormLayout(self)
        self._form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.widgets: dict[str, QWidget] = {}
        #: Applies the clipboard policy to each text editor this panel creates.
        self.configure_editor: Callable[[TranscriptEditor], None] = lambda _e: None
        self.comment = TranscriptEditor()
        self._loading = False
        self.set_schema(ProjectSchema(), {}, "")

    def text_editors(self) -> list[TranscriptEditor]:
        """Every editor holding content (for the clipboard policy and its audit)."""
        return [
            self.comment,
            *(w for w in self.widgets.values() if isinstance(w, TranscriptEditor)),
        ]

    def set_schema(
        self, schema: ProjectSchema, values: dict[str, FieldValue], comment: str
    ) -> None:
        """Rebuild the form for ``schema`` showing ``values``."""
        self._loading = True
        try:
            while self._form.rowCount():
                self._form.removeRow(0)  # deletes the widgets; the comment is re-created below
            self.widgets = {}
            for spec in schema.task_labels:
                widget = self._widget(spec, values.get(spec.name))
                widget.setObjectName(f"field_{spec.name}")
                self.widgets[spec.name] = widget
                title = QLabel(spec.title + (" *" if spec.required else ""))
                title.setTextFormat(Qt.TextFormat.PlainText)
                title.setBuddy(widget)
                self._form.addRow(title, widget)
            comment_editor = TranscriptEditor()
            self.configure_editor(comment_editor)
            comment_editor.setObjectName("taskComment")
            comment_editor.setPlaceholderText("A comment for the reviewer (optional).")
            comment_editor.setMaximumHeight(70)
            comment_editor.setPlainText(comment)
            comment_editor.textChanged.connect(
                lambda: self.comment_changed.emit(comment_editor.toPlainText())
            )
            self.comment = comment_editor
            self._form.addRow("Comment", comment_editor)
        finally:
            self._loading = False

    def _widget(self, spec: TaskLabel, value: FieldValue | None) -> QWidget:
        name = spec.name
        if spec.kind in ("choice", "rating"):
            box = QComboBox()
            options = (
                [(c.name, c.title) for c in spec.values]
                if spec.kind == "choice"
                else [(str(n), str(n)) for n in range(1, spec.max + 1)]
            )
            box.addItem(UNSET, None)
            for key, title in options:
                box.addItem(title, key)
            if value is not None:
                box.setCurrentIndex(max(0, box.findData(str(value))))

            def chosen(_i: int) -> None:
                data = box.currentData()
                if spec.kind == "rating" and data is not None:
                    data = int(data)
                self._emit(name, data)

            box.currentIndexChanged.connect(chosen)
            return box
        if spec.kind == "multi":
            row = QWidget()
            layout = QHBoxLayout(row)
            layout.setContentsMargins(0, 0, 0, 0)
            chosen_values = set(value) if isinstance(value, tuple) else set()
            boxes: list[tuple[str, QCheckBox]] = []
            for choice in spec.values:
                check = QCheckBox(choice.title)
                check.setChecked(choice.name in chosen_values)
                layout.addWidget(check)
                boxes.append((choice.name, check))

            def toggled(_state: int) -> None:
                self._emit(name, tuple(n for n, c in boxes if c.isChecked()) or None)

            for _n, check in boxes:
                check.stateChanged.connect(toggled)
            return row
        text = TranscriptEditor()
        self.configure_editor(text)
        text.setPlaceholderText(f"Up to {spec.max_chars} characters.")
        text.setMaximumHeight(60)
        text.setPlainText(value if isinstance(value, str) else "")
        text.textChanged.connect(lambda: self._emit(name, text.toPlainText() or None))
        return text

    def _emit(self, name: str, value: FieldValue | None) -> None:
        if not self._loading:
            self.field_changed.emit(name, value)

    def choose(self, name: str, value: str) -> bool:
        """A schema hotkey chose ``value`` for the choice field ``name``."""
        widget = self.widgets.get(name)
        if isinstance(widget, QComboBox):
            index = widget.findData(value)
            if index >= 0:
                widget.setCurrentIndex(0 if widget.currentIndex() == index else index)
                return True
        return False

    def first_field(self) -> QWidget:
        return next(iter(self.widgets.values()), self.comment)
