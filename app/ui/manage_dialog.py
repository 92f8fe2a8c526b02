"""A project manager's desk: who works on what, and the project's policy.

Titles, names and statuses only — a manager hears and reads no recording. Every
change is asked of the server (the dialog emits it; the controller sends it) and the
table is redrawn from the server's answer, so it never shows a change the server
refused; the refusal is shown in the server's words at the bottom. All of it works
from the keyboard: Alt+H hands the selected task over, Alt+A assigns, Alt+P saves
the policy.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.lifecycle import REASSIGNABLE
from app.ui.no_export import NoExportTable
from app.wire.manage import PolicyIn, ProjectTasksOut

COLUMNS = ("Recording", "Annotator", "Status", "Gold")
LOADING = "Loading the project…"


def _status_words(status: str) -> str:
    return status.replace("_", " ")


class ManageDialog(QDialog):
    #: recording (segment) id, annotator id, (start s, end s) of a window or None
    assign_requested = Signal(str, str, object)
    reassign_requested = Signal(str, str)  # task id, annotator id
    policy_requested = Signal(object)  # PolicyIn

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("manageDialog")
        self.setWindowTitle("Manage project")
        self.resize(860, 640)
        self._plan: ProjectTasksOut | None = None
        col = QVBoxLayout(self)
        col.addWidget(QLabel(
            "Recording titles, annotators and statuses only: managers hear and read no "
            "recording. Gold tasks are marked here and nowhere an annotator looks."
        ))  # fmt: skip
        self.table = NoExportTable(0, len(COLUMNS))
        self.table.setObjectName("manageTasks")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        col.addWidget(self.table, 1)
        col.addLayout(self._handover_row())
        col.addLayout(self._assign_row())
        col.addWidget(self._policy_group())
        self.outcome = QLabel(LOADING)
        self.outcome.setObjectName("manageResult")
        self.outcome.setWordWrap(True)
        col.addWidget(self.outcome)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        col.addWidget(buttons)
        self._enable(False)

    def _handover_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.handover_to = QComboBox()
        self.handover_to.setObjectName("handoverTo")
        label = QLabel("Hand the selected task &to:")
        label.setBuddy(self.handover_to)
        self.handover_button = QPushButton("&Hand over")
        self.handover_button.clicked.connect(self._hand_over)
        row.addWidget(label)
        row.addWidget(self.handover_to, 1)
        row.addWidget(self.handover_button)
        return row

    def _assign_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.recording = QComboBox()
        self.recording.setObjectName("assignRecording")
        self.assign_to = QComboBox()
        self.assign_to.setObjectName("assignTo")
        label = QLabel("&Recording:")
        label.setBuddy(self.recording)
        self.assign_button = QPushButton("&Assign")
        self.assign_button.clicked.connect(self._assign)
        # Least exposure: only a stretch of the recording (0 and 0: all of it).
        self.window_from, self.window_to = QDoubleSpinBox(), QDoubleSpinBox()
        for spin, whole in ((self.window_from, "start"), (self.window_to, "end")):
            spin.setRange(0.0, 86_400.0)
            spin.setDecimals(1)
            spin.setSuffix(" s")
            spin.setSpecialValueText(whole)
        self.window_from.setObjectName("windowFrom")
        self.window_to.setObjectName("windowTo")
        window = QLabel("&only from")
        window.setBuddy(self.window_from)
        row.addWidget(label)
        row.addWidget(self.recording, 2)
        row.addWidget(window)
        row.addWidget(self.window_from)
        row.addWidget(QLabel("to"))
        row.addWidget(self.window_to)
        row.addWidget(QLabel("for"))
        row.addWidget(self.assign_to, 1)
        row.addWidget(self.assign_button)
        return row

    def _policy_group(self) -> QGroupBox:
        group = QGroupBox("Policy")
        form = QFormLayout(group)
        self.submit_coverage = QCheckBox("&Every segment heard by its annotator before hand-in")
        self.accept_coverage = QSpinBox()
        self.accept_coverage.setRange(0, 100)
        self.accept_coverage.setSuffix(" %")
        self.gold_rate = QSpinBox()
        self.gold_rate.setRange(0, 50)
        self.gold_rate.setSuffix(" %")
        self.context_max = QSpinBox()
        self.context_max.setRange(0, 600)
        self.context_max.setSuffix(" s")
        self.context_max.setSpecialValueText("no unlock")
        self.context_approval = QCheckBox("a revie&wer grants each ask")
        self.per_recording = QSpinBox()
        self.per_recording.setRange(1, 5)
        self.policy_button = QPushButton("Save &policy")
        self.policy_button.clicked.connect(self._save_policy)
        form.addRow(self.submit_coverage)
        form.addRow("Heard by the reviewer before an a&ccept:", self.accept_coverage)
        form.addRow("&Independent annotations per recording:", self.per_recording)
        form.addRow("&Gold tasks in each annotator's queue:", self.gold_rate)
        context = QHBoxLayout()
        context.addWidget(self.context_max)
        context.addWidget(self.context_approval, 1)
        form.addRow("Conte&xt a windowed task may ask for, either side:", context)
        form.addRow(self.policy_button)
        return group

    # -- from the server ----------------------------------------------------------
    def set_plan(self, plan: ProjectTasksOut) -> None:
        """Redraw from the server's answer, keeping the selected task and choices."""
        keep_task = self.selected_task_id()
        keep_recording, keep_to = self.recording.currentData(), self.assign_to.currentData()
        self._plan = plan
        self.setWindowTitle(f"Manage project — {plan.project_name}")
        self.table.setRowCount(len(plan.tasks))
        for row, task in enumerate(plan.tasks):
            cells = (task.title, task.assignee_name, _status_words(task.status.value),
                     "gold" if task.gold else "")  # fmt: skip
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, task.task_id)
                self.table.setItem(row, column, item)
            if task.task_id == keep_task:
                self.table.selectRow(row)
        self.table.resizeColumnsToContents()
        for combo in (self.handover_to, self.assign_to):
            combo.clear()
            for person in plan.annotators:
                combo.addItem(person.name, person.user_id)
        self.recording.clear()
        for rec in plan.recordings:
            words = f"{rec.title} ({rec.duration_s:.0f} s, {rec.tasks} task(s)"
            self.recording.addItem(words + (", gold answer)" if rec.gold else ")"), rec.segment_id)
        self._choose(self.recording, keep_recording)
        self._choose(self.assign_to, keep_to)
        self.submit_coverage.setChecked(plan.policy.submit_coverage)
        self.accept_coverage.setValue(plan.policy.accept_coverage)
        if self.outcome.text() == LOADING:  # an earlier change's words stay
            self.outcome.setText(
                f"{len(plan.tasks)} task(s) on {len(plan.recordings)} recording(s)."
            )
        self.gold_rate.setValue(plan.policy.gold_rate)
        self.context_max.setValue(plan.policy.context_max_s)
        self.context_approval.setChecked(plan.policy.context_approval)
        self.per_recording.setValue(plan.policy.annotations_per_recording)
        self._enable(True)

    def show_result(self, words: str, ok: bool) -> None:
        """What the last change came to: done, or refused in the server's words."""
        self.outcome.setText(words)
        self.outcome.setProperty("refused", not ok)
        self.outcome.setStyleSheet("" if ok else "color: #b3261e;")
        self._enable(self._plan is not None)

    def close_and_clear(self) -> None:
        """Closed, with no title, name or status left in it."""
        self.reject()
        self._plan = None
        self.table.setRowCount(0)
        for combo in (self.handover_to, self.assign_to, self.recording):
            combo.clear()
        self.setWindowTitle("Manage project")
        self._enable(False)

    # -- the manager's choices ------------------------------------------------------
    def selected_task_id(self) -> str | None:
        items = self.table.selectedItems()
        return str(items[0].data(Qt.ItemDataRole.UserRole)) if items else None

    def _selected_status(self) -> str | None:
        plan, task_id = self._plan, self.selected_task_id()
        if plan is None or task_id is None:
            return None
        return next((t.status.value for t in plan.tasks if t.task_id == task_id), None)

    def _selection_changed(self) -> None:
        status = self._selected_status()
        movable = status is not None and status in {s.value for s in REASSIGNABLE}
        self.handover_button.setEnabled(movable)
        if status is not None and not movable:
            self.outcome.setText(
                f"This task is {_status_words(status)}: it stays with its annotator."
            )

    def _hand_over(self) -> None:
        task_id, to = self.selected_task_id(), self.handover_to.currentData()
        if task_id is not None and to is not None:
            self._sending("Handing the task over…")
            self.reassign_requested.emit(task_id, str(to))

    def _assign(self) -> None:
        segment, to = self.recording.currentData(), self.assign_to.currentData()
        start, end = self.window_from.value(), self.window_to.value()
        window = (start, end) if end > 0 else None
        if segment is not None and to is not None:
            self._sending("Assigning…")
            self.assign_requested.emit(str(segment), str(to), window)

    def _save_policy(self) -> None:
        self._sending("Saving the policy…")
        self.policy_requested.emit(
            PolicyIn(
                submit_coverage=self.submit_coverage.isChecked(),
                accept_coverage=self.accept_coverage.value(),
                gold_rate=self.gold_rate.value(),
                context_max_s=self.context_max.value(),
                context_approval=self.context_approval.isChecked(),
                annotations_per_recording=self.per_recording.value(),
            )
        )

    def _sending(self, words: str) -> None:
        self.outcome.setText(words)
        self.outcome.setStyleSheet("")
        self._enable(False)  # one change at a time; the answer enables them again

    def _enable(self, on: bool) -> None:
        for widget in (self.assign_button, self.policy_button):
            widget.setEnabled(on)
        status = self._selected_status() if on else None
        self.handover_button.setEnabled(
            status is not None and status in {s.value for s in REASSIGNABLE}
        )

    @staticmethod
    def _choose(combo: QComboBox, data: object) -> None:
        index = combo.findData(data)
        if index >= 0:
            combo.setCurrentIndex(index)
