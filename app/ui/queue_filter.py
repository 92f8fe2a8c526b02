"""The reviewer's queue filter: which status, which annotator (the server filters).

Shown above the task list only to someone who reviews; the annotators offered are
those seen in the queue this session, so narrowing to one does not lose the others.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from app.domain.models import Task
from app.domain.review import QueueFilter
from app.wire.schemas import Role, TaskStatus

#: (shown, status): ``None`` is the default queue, work waiting for a decision.
STATUSES: tuple[tuple[str, TaskStatus | None], ...] = (
    ("Waiting for review", None),
    ("Submitted", TaskStatus.SUBMITTED),
    ("In review", TaskStatus.IN_REVIEW),
    ("Accepted", TaskStatus.ACCEPTED),
    ("Rejected", TaskStatus.REJECTED),
)


class QueueFilterBar(QWidget):
    changed = Signal(object)  # QueueFilter

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("queueFilter")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Queue:"))
        self.status = QComboBox()
        self.status.setObjectName("queueStatus")
        for text, status in STATUSES:
            self.status.addItem(text, status)
        self.annotator = QComboBox()
        self.annotator.setObjectName("queueAnnotator")
        self.annotator.addItem("Everyone", "")
        row.addWidget(self.status, 1)
        row.addWidget(self.annotator, 1)
        self._known: dict[str, str] = {}
        self.status.activated.connect(self._emit)
        self.annotator.activated.connect(self._emit)
        self.setVisible(False)

    def current(self) -> QueueFilter:
        return QueueFilter(self.status.currentData(), self.annotator.currentData() or None)

    def show_tasks(self, tasks: list[Task], reviews: bool) -> None:
        """Learn the annotators in the queue; shown only to someone who reviews."""
        self.setVisible(reviews)
        for task in tasks:
            if task.role is Role.REVIEWER and task.annotator_id not in self._known:
                self._known[task.annotator_id] = task.annotator_name
                self.annotator.addItem(task.annotator_name, task.annotator_id)

    def focus(self) -> None:
        if self.isVisible():
            self.status.setFocus()
            self.status.showPopup()

    def _emit(self, _index: int) -> None:
        self.changed.emit(self.current())
