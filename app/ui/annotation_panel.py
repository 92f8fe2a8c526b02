"""The annotation workspace under the waveform: segment list | segment text, task fields.

The panel shows the controller's document and reports what the annotator
does; it holds no document of its own. The schema's hotkeys (speakers,
segment labels, PII categories, task choices) become window shortcuts while
the document is open; a hotkey that the annotator's own keymap already uses
is left to the keymap and named in ``hotkey_conflicts``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from app.domain.label_document import Segment
from app.domain.project_schema import ProjectSchema
from app.services.annotation import DocumentEditor
from app.ui.pii_suggestions import PiiSuggestionPanel
from app.ui.segment_table import SegmentTable
from app.ui.task_fields import TaskFieldsPanel
from app.ui.time_format import format_time
from app.ui.transcript_editor import TranscriptEditor


class SegmentTextEditor(TranscriptEditor):
    """The selected segment's text. Enter (remappable) splits it; a segment's text is one line."""

    escape_pressed = Signal()
    split_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("segmentText")
        self.segment_id: str | None = None
        #: The keymap's "split_segment" key (the window sets it from the keymap).
        self.split_key = QKeySequence("Return")
        self.setPlaceholderText(
            "Select a segment to type its text: drag on the waveform, or press Alt+Enter "
            "while listening to mark where each one ends."
        )

    def show_segment(self, segment: Segment | None) -> None:
        """Bind to ``segment``; its text is loaded only when it is another segment's or changed."""
        if segment is None:
            self.segment_id = None
            self.blockSignals(True)
            self.clear_content()
            self.blockSignals(False)
            self.setReadOnly(True)
            return
        self.setReadOnly(False)
        if segment.id == self.segment_id and segment.text == self.toPlainText():
            return
        moved = segment.id != self.segment_id
        self.segment_id = segment.id
        self.blockSignals(True)
        self.setPlainText(segment.text)
        self.blockSignals(False)
        if moved:
            cursor = self.textCursor()
            cursor.movePosition(cursor.MoveOperation.End)
            self.setTextCursor(cursor)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() == Qt.Key.Key_Escape:
            event.accept()
            self.escape_pressed.emit()
            return
        if QKeySequence(event.keyCombination()) == self.split_key:
            event.accept()
            self.split_requested.emit()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not event.modifiers():
            event.accept()  # a segment's text is one line
            return
        super().keyPressEvent(event)

    def selected_chars(self) -> tuple[int, int] | None:
        cursor = self.textCursor()
        if not cursor.hasSelection():
            return None
        return cursor.selectionStart(), cursor.selectionEnd()


class AnnotationPanel(QWidget):
    text_edited = Signal(str, str)  # segment id, text
    speaker_requested = Signal(str)
    label_requested = Signal(str, str)  # field, value
    pii_requested = Signal(str, object)  # category, (start, end) characters or None
    field_changed = Signal(str, object)
    comment_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("annotationPanel")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        outer.addWidget(splitter)
        self.table = SegmentTable()
        splitter.addWidget(self.table)
        right = QWidget()
        col = QVBoxLayout(right)
        col.setContentsMargins(0, 0, 0, 0)
        self.info = QLabel("")
        self.info.setObjectName("segmentInfo")
        self.info.setTextFormat(Qt.TextFormat.PlainText)
        self.info.setWordWrap(True)
        col.addWidget(self.info)
        self.text = SegmentTextEditor()
        self.text.setMaximumHeight(110)
        self.text.textChanged.connect(self._on_text)
        col.addWidget(self.text)
        self.keys = QLabel("")
        self.keys.setObjectName("schemaKeys")
        self.keys.setTextFormat(Qt.TextFormat.PlainText)
        self.keys.setWordWrap(True)
        self.keys.setStyleSheet("color: #64748b;")
        col.addWidget(self.keys)
        self.suggestions = PiiSuggestionPanel()
        col.addWidget(self.suggestions)
        self.fields = TaskFieldsPanel()
        self.fields.field_changed.connect(self.field_changed)
        self.fields.comment_changed.connect(self.comment_changed)
        col.addWidget(self.fields, 1)
        splitter.addWidget(right)
        splitter.setSizes([640, 360])
        self.table.text_requested.connect(self.focus_text)
        self.text.escape_pressed.connect(self.table.setFocus)
        self._shortcuts: list[QShortcut] = []
        self.hotkey_conflicts: list[str] = []
        self._schema = ProjectSchema()
        self._editor: DocumentEditor | None = None
        self.read_only = False
        self.setEnabled(False)

    # -- the document ---------------------------------------------------------------
    def show_document(self, editor: DocumentEditor | None) -> None:
        """A new document (or none): rebuild the fields for its schema, empty the views."""
        self._editor = editor
        self.setEnabled(editor is not None)
        self.read_only = editor is not None and editor.read_only
        schema = editor.schema if editor is not None else ProjectSchema()
        values = dict(editor.snapshot().fields) if editor is not None else {}
        self.fields.set_schema(schema, values, editor.comment if editor is not None else "")
        self.suggestions.set_schema(schema)
        self.fields.setEnabled(not self.read_only)
        self._schema = schema
        self.show_segments(editor, None)

    def show_segments(self, editor: DocumentEditor | None, selected: str | None) -> None:
        if editor is None:
            self.table.show_document((), (), ProjectSchema(), 1, 1, None)
            self.text.show_segment(None)
            self.info.setText("")
            return
        self.table.show_document(
            editor.segments, editor.pii, editor.schema, editor.rate, editor.channels, selected
        )
        segment = editor.get(selected) if selected else None
        self.text.show_segment(segment)
        if self.read_only:
            self.text.setReadOnly(True)
        self.info.setText(self._describe(editor, segment) if segment else
                          f"{len(editor)} segments. Select one to type its text.")  # fmt: skip

    @staticmethod
    def _describe(editor: DocumentEditor, segment: Segment) -> str:
        index = editor.index_of(segment.id) or 0
        rate = editor.rate
        spec = editor.schema.speaker(segment.speaker) if segment.speaker else None
        parts = [
            f"Segment {index + 1} of {len(editor)}",
            f"{format_time(segment.start / rate)} to {format_time(segment.end / rate)}",
            spec.title if spec else "no speaker",
        ]
        for name, values in segment.labels:
            field = editor.schema.segment_label(name)
            titles = [(field.value(v).title if field and field.value(v) else v) for v in values]  # type: ignore[union-attr]
            parts.append(f"{field.title if field else name}: {', '.join(titles)}")
        pii = editor.pii_in(segment.id)
        if pii:
            parts.append(f"PII x{len(pii)}")
        return " · ".join(parts)

    def _on_text(self) -> None:
        if self.text.segment_id is not None and not self.text.isReadOnly():
            self.text_edited.emit(self.text.segment_id, self.text.toPlainText())

    def focus_text(self) -> None:
        if self.text.segment_id is not None:
            self.text.setFocus()

    def focus_fields(self) -> None:
        self.fields.first_field().setFocus()

    def fields_have_focus(self) -> bool:
        widget = self.focusWidget()
        return widget is not None and self.fields.isAncestorOf(widget)

    def text_editors(self) -> list[TranscriptEditor]:
        return [self.text, *self.fields.text_editors()]

    def _tag(self, category: str) -> None:
        self.pii_requested.emit(category, self.text.selected_chars())

    def _choose(self, name: str, value: str) -> None:
        self.fields.choose(name, value)

    # -- schema hotkeys -----------------------------------------------------------------
    def install_hotkeys(self, window: QWidget, taken: Callable[[str], bool]) -> None:
        """Window shortcuts for the schema's hotkeys; ``taken(key)``: the keymap uses it."""
        for shortcut in self._shortcuts:
            shortcut.setEnabled(False)
            shortcut.deleteLater()
        self._shortcuts = []
        self.hotkey_conflicts = []
        hints: list[str] = []
        # A reviewer's reading copy takes no edits, so it gets no editing keys either.
        schema = ProjectSchema() if self.read_only else self._schema
        for key, title, action in self._hotkey_actions(schema):
            if taken(key):
                self.hotkey_conflicts.append(key)
                continue
            shortcut = QShortcut(QKeySequence(key), window)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(action)
            self._shortcuts.append(shortcut)
            hints.append(f"{key} {title}")
        self.keys.setText(" · ".join(hints))

    def _hotkey_actions(
        self, schema: ProjectSchema
    ) -> Iterator[tuple[str, str, Callable[[], None]]]:
        """(key, title, action) for every hotkey the schema declares."""
        for speaker in schema.speakers:
            if speaker.hotkey:
                yield (
                    speaker.hotkey,
                    speaker.title,
                    partial(self.speaker_requested.emit, speaker.name),
                )
        for category in schema.pii:
            if category.hotkey:
                yield category.hotkey, f"PII: {category.title}", partial(self._tag, category.name)
        yield from self._choice_hotkeys(schema)

    def _choice_hotkeys(
        self, schema: ProjectSchema
    ) -> Iterator[tuple[str, str, Callable[[], None]]]:
        """The hotkeys of segment label values and task field choices."""
        for field in schema.segment_labels:
            for value in field.values:
                if value.hotkey:
                    action = partial(self.label_requested.emit, field.name, value.name)
                    yield value.hotkey, value.title, action
        for task_field in schema.task_labels:
            for value in task_field.values:
                if value.hotkey:
                    choose = partial(self._choose, task_field.name, value.name)
                    yield value.hotkey, value.title, choose
