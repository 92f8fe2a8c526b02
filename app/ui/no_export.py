"""Item views of content export nothing: no Ctrl+C, no drag data, no context menu.

Qt's item views copy the current item's text on Ctrl+C by default; these
refuse it and report the attempt through ``blocked`` (audited and said once in
the status bar by the lockdown controller). Text editors have their own hook
(:mod:`app.ui.transcript_editor`).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QMimeData, Qt, Signal, SignalInstance
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListWidget,
    QListWidgetItem,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from app.ui.transcript_editor import copy_or_cut


def refuse_copy(event: QKeyEvent, blocked: SignalInstance) -> bool:
    """``True`` (and reported) if ``event`` is a copy or cut, which never happens here."""
    kind = copy_or_cut(event)
    if kind is None:
        return False
    event.accept()
    blocked.emit("clipboard_blocked", kind)
    return True


def seal_view(view: QAbstractItemView) -> None:
    """No drags out, no context menu (no Copy entry)."""
    view.setDragEnabled(False)
    view.setDragDropMode(QAbstractItemView.DragDropMode.NoDragDrop)
    view.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)


class NoExportList(QListWidget):
    """A list whose items are content."""

    blocked = Signal(str, str)  # access action, reason

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        seal_view(self)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if not refuse_copy(event, self.blocked):
            super().keyPressEvent(event)

    def mimeData(self, items: Sequence[QListWidgetItem]) -> QMimeData:  # noqa: N802 - Qt override
        """A drag out of the list carries nothing."""
        return QMimeData()


class NoExportTable(QTableWidget):
    """A table of titles and names (a manager's): copied nowhere, like the task list."""

    blocked = Signal(str, str)  # access action, reason

    def __init__(self, rows: int, columns: int, parent: QWidget | None = None) -> None:
        super().__init__(rows, columns, parent)
        seal_view(self)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if not refuse_copy(event, self.blocked):
            super().keyPressEvent(event)

    def mimeData(self, items: Sequence[QTableWidgetItem]) -> QMimeData:  # noqa: N802 - Qt override
        """A drag out of the table carries nothing."""
        return QMimeData()
