"""The annotator's task list.

Task titles can name a caller or an account, so the list exports nothing:
Qt's item views copy the current item's text on Ctrl+C by default, which is
intercepted here (and reported through ``blocked``); drags carry no data.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidgetItem, QWidget

from app.domain.models import Task
from app.ui.no_export import NoExportList
from app.ui.time_format import format_time
from app.wire.schemas import Role, TaskStatus

#: What is still to do, per role: the annotator's open work, the reviewer's queue.
_TO_DO = {
    Role.ANNOTATOR: frozenset({TaskStatus.ASSIGNED, TaskStatus.IN_PROGRESS, TaskStatus.REJECTED}),
    Role.REVIEWER: frozenset({TaskStatus.SUBMITTED}),
    Role.AUDITOR: frozenset[TaskStatus](),
}


class TaskList(NoExportList):
    task_activated = Signal(object)  # Task

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("taskList")
        # One click opens a task, as does Enter (itemActivated; a double click also
        # activates — opening the task already open is a no-op in the controller).
        self.itemClicked.connect(self._on_item)
        self.itemActivated.connect(self._on_item)

    def set_tasks(self, tasks: list[Task]) -> None:
        """Show ``tasks``, keeping the current task selected if it is still there."""
        current = self.task_at(self.currentRow())
        self.clear()
        for task in tasks:
            if task.is_comparison:
                what = f"RLHF {task.kind.value} comparison"
            else:
                channels = "stereo" if task.channels == 2 else f"{task.channels} ch"
                what = f"{format_time(task.duration_s)} · {task.sample_rate // 1000} kHz {channels}"
            status = task.status.value.replace("_", " ")
            if task.role is Role.REVIEWER:  # the queue: who did it, where it stands
                what = f"by {task.annotator_name or 'an annotator'}"
            text = f"{task.title}\n{what} · {status}"
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, task)
            self.addItem(item)
            if current is not None and task.task_id == current.task_id:
                self.setCurrentItem(item)

    def select_next_open(self) -> bool:
        """Select (and focus) the next task still to do after the current one, wrapping.

        Enter then opens it. ``False`` if there is none (the current one is not offered:
        it was just handed in).
        """
        count, current = self.count(), self.currentRow()
        for step in range(1, count):
            row = (current + step) % count
            task = self.task_at(row)
            if task is not None and task.status in _TO_DO[task.role]:
                self.setCurrentRow(row)
                self.setFocus()
                return True
        return False

    def task_at(self, row: int) -> Task | None:
        item = self.item(row)
        if item is None:
            return None
        task: Task = item.data(Qt.ItemDataRole.UserRole)
        return task

    def _on_item(self, item: QListWidgetItem) -> None:
        self.task_activated.emit(item.data(Qt.ItemDataRole.UserRole))
