"""The segment list: one row per segment (time, speaker, text, labels), the transcript view.

A model over the editor's tuple of frozen segments, so a keystroke repaints
one row (segments are compared by identity, a pointer comparison per row) and
a new segmentation resets the rows without copying text. Like every view of
content it exports nothing: Ctrl+C is refused and reported through
``blocked``, drags carry no data, and there is no context menu.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QAbstractTableModel,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QKeyEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from app.domain.label_document import PiiSpan, Segment
from app.domain.project_schema import ProjectSchema
from app.ui.no_export import refuse_copy, seal_view
from app.ui.segment_layer import speaker_colour
from app.ui.time_format import format_time

COLUMNS = ("#", "Time", "Speaker", "Text", "Labels")
Index = QModelIndex | QPersistentModelIndex


class SegmentTableModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self._segments: tuple[Segment, ...] = ()
        self._pii: dict[str, int] = {}
        self._schema = ProjectSchema()
        self._speakers: list[str] = []
        self._rate = 1
        self._channels = 1

    def set_document(
        self,
        segments: tuple[Segment, ...],
        pii: tuple[PiiSpan, ...],
        schema: ProjectSchema,
        rate: int,
        channels: int,
    ) -> None:
        """Show ``segments``; rows whose segment object is unchanged are not repainted."""
        counts: dict[str, int] = {}
        for span in pii:
            if span.segment is not None:
                counts[span.segment] = counts.get(span.segment, 0) + 1
        same_rows = len(segments) == len(self._segments) and all(
            a.id == b.id for a, b in zip(segments, self._segments, strict=True)
        )
        schema_changed = schema is not self._schema
        old, old_pii = self._segments, self._pii
        self._schema, self._rate, self._channels = schema, max(1, rate), channels
        self._speakers = [s.name for s in schema.speakers]
        if not same_rows or schema_changed:
            self.beginResetModel()
            self._segments, self._pii = segments, counts
            self.endResetModel()
            return
        self._segments, self._pii = segments, counts
        last = len(COLUMNS) - 1
        for row, (a, b) in enumerate(zip(segments, old, strict=True)):
            if a is not b or counts.get(a.id) != old_pii.get(a.id):
                self.dataChanged.emit(self.index(row, 0), self.index(row, last))

    def segment_at(self, row: int) -> Segment | None:
        return self._segments[row] if 0 <= row < len(self._segments) else None

    def row_of(self, segment_id: str | None) -> int:
        return next((i for i, s in enumerate(self._segments) if s.id == segment_id), -1)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(self._segments)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(  # noqa: N802 - Qt API
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> str | None:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable  # never draggable

    def mimeData(self, _indexes: object) -> QMimeData:  # noqa: N802 - Qt override
        return QMimeData()

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        segment = self.segment_at(index.row())
        if segment is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(segment, index.row(), index.column())
        if role == Qt.ItemDataRole.BackgroundRole and index.column() == 2:
            return QBrush(QColor(*speaker_colour(self._speakers, segment.speaker), 70))
        return None

    def _text(self, segment: Segment, row: int, column: int) -> str:
        if column == 0:
            return str(row + 1)
        if column == 1:
            start, end = segment.start / self._rate, segment.end / self._rate
            return f"{format_time(start)} to {format_time(end)}"
        if column == 2:
            spec = self._schema.speaker(segment.speaker) if segment.speaker else None
            name = spec.title if spec else (segment.speaker or "—")
            if segment.channel is not None and self._channels == 2:
                name += " (L)" if segment.channel == 0 else " (R)"
            elif segment.channel is not None and self._channels > 2:
                name += f" (ch {segment.channel + 1})"
            return name
        if column == 3:
            return segment.text.replace("\n", " ")
        titles = []
        for name, values in segment.labels:
            field = self._schema.segment_label(name)
            for value in values:
                choice = field.value(value) if field else None
                titles.append(choice.title if choice else value)
        pii = self._pii.get(segment.id, 0)
        if pii:
            titles.append(f"PII x{pii}")
        return ", ".join(titles)


class SegmentTable(QTableView):
    """Rows follow the selection both ways; Enter on a row goes to its text."""

    segment_chosen = Signal(str)  # a row was selected by the annotator
    text_requested = Signal()  # Enter on a row: type its text
    blocked = Signal(str, str)  # access action, reason

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("segmentTable")
        self.table_model = SegmentTableModel()
        self.setModel(self.table_model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        seal_view(self)
        self.setWordWrap(False)
        self.setTabKeyNavigation(False)  # Tab is the window's "next segment"
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        # Fixed widths from the font: ResizeToContents measures every row again on every
        # change, which on 2,000 segments made a keystroke cost ~70 ms.
        header = self.horizontalHeader()
        metrics = self.fontMetrics()
        # The text keeps most of the room; the others are narrow and the user can widen them
        # (an hour-long call's times are elided at the right).
        widths = {0: metrics.horizontalAdvance("0000"), 1: metrics.horizontalAdvance(
            "00:00.00 to 00:00.00") + 8, 2: metrics.horizontalAdvance("Customer (R)") + 8,
            4: metrics.horizontalAdvance("Identity check, Noise") + 8}  # fmt: skip
        header.setMinimumSectionSize(metrics.horizontalAdvance("000"))
        for column in range(len(COLUMNS)):
            stretch = column == 3
            header.setSectionResizeMode(
                column,
                QHeaderView.ResizeMode.Stretch if stretch else QHeaderView.ResizeMode.Interactive,
            )
            if not stretch:
                header.resizeSection(column, widths[column])
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self._updating = False
        self.selectionModel().currentRowChanged.connect(self._on_current)

    def show_document(
        self,
        segments: tuple[Segment, ...],
        pii: tuple[PiiSpan, ...],
        schema: ProjectSchema,
        rate: int,
        channels: int,
        selected: str | None,
    ) -> None:
        self._updating = True
        try:
            self.table_model.set_document(segments, pii, schema, rate, channels)
            row = self.table_model.row_of(selected)
            if row < 0:
                self.clearSelection()
            elif row != self.currentIndex().row() or not self.selectionModel().hasSelection():
                self.selectRow(row)
            if row >= 0:
                self.scrollTo(self.table_model.index(row, 0))
        finally:
            self._updating = False

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        segment = self.table_model.segment_at(current.row())
        if not self._updating and segment is not None:
            self.segment_chosen.emit(segment.id)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if refuse_copy(event, self.blocked):
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not event.modifiers():
            event.accept()
            self.text_requested.emit()
            return
        super().keyPressEvent(event)
