"""A manager's desk: the plan as the server sent it, each change from the keyboard, refusals."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QTableWidgetItem
from pytestqt.qtbot import QtBot

from app.ui.main_window import MainWindow
from app.ui.manage_dialog import ManageDialog
from app.ui.shortcuts import BY_ID
from app.wire.manage import PolicyIn, ProjectTasksOut

ALT = Qt.KeyboardModifier.AltModifier

PLAN = ProjectTasksOut.model_validate({
    "project_id": "prj_1", "project_name": "Claims",
    "tasks": [
        {"task_id": "tsk_a", "segment_id": "seg_a", "title": "call-a", "assignee_id": "usr_ada",
         "assignee_name": "Ada", "status": "submitted", "gold": False, "created_at": 1},
        {"task_id": "tsk_b", "segment_id": "seg_b", "title": "call-b", "assignee_id": "usr_ada",
         "assignee_name": "Ada", "status": "assigned", "gold": False, "created_at": 2},
        {"task_id": "tsk_g", "segment_id": "seg_g", "title": "voicemail", "assignee_id": "usr_bo",
         "assignee_name": "Bo", "status": "in_progress", "gold": True, "created_at": 3},
    ],
    "recordings": [
        {"segment_id": "seg_a", "title": "call-a", "duration_s": 12.0, "tasks": 1, "gold": False},
        {"segment_id": "seg_c", "title": "call-c", "duration_s": 30.4, "tasks": 0, "gold": False},
        {"segment_id": "seg_g", "title": "voicemail", "duration_s": 9.0, "tasks": 1, "gold": True},
    ],
    "annotators": [{"user_id": "usr_ada", "name": "Ada"}, {"user_id": "usr_bo", "name": "Bo"}],
    "policy": {"project_id": "prj_1", "submit_coverage": True, "accept_coverage": 100,
               "gold_rate": 10},
})  # fmt: skip


@pytest.fixture
def desk(qtbot: QtBot) -> Iterator[ManageDialog]:
    dialog = ManageDialog()
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    yield dialog
    dialog.close()
    dialog.deleteLater()
    QApplication.processEvents()


def _text(item: QTableWidgetItem | None) -> str:
    assert item is not None
    return item.text()


def _rows(desk: ManageDialog) -> list[list[str]]:
    t = desk.table
    return [[_text(t.item(r, c)) for c in range(t.columnCount())] for r in range(t.rowCount())]


def test_the_plan_shows_tasks_recordings_people_and_policy(desk: ManageDialog) -> None:
    assert not desk.assign_button.isEnabled()  # nothing to act on before the plan arrives
    desk.set_plan(PLAN)
    assert desk.windowTitle() == "Manage project — Claims"
    assert _rows(desk) == [
        ["call-a", "Ada", "submitted", ""], ["call-b", "Ada", "assigned", ""],
        ["voicemail", "Bo", "in progress", "gold"],
    ]  # fmt: skip
    recordings = [desk.recording.itemText(i) for i in range(desk.recording.count())]
    assert recordings == ["call-a (12 s, 1 task(s))", "call-c (30 s, 0 task(s))",
                          "voicemail (9 s, 1 task(s), gold answer)"]  # fmt: skip
    assert [desk.assign_to.itemText(i) for i in range(desk.assign_to.count())] == ["Ada", "Bo"]
    assert desk.submit_coverage.isChecked() and desk.accept_coverage.value() == 100
    assert desk.gold_rate.value() == 10
    assert desk.outcome.text() == "3 task(s) on 3 recording(s)."
    desk.show_result("The task was assigned.", ok=True)
    desk.set_plan(PLAN)  # the fresh plan after a change keeps the change's words
    assert desk.outcome.text() == "The task was assigned."


def test_a_handed_in_task_cannot_be_handed_over_an_assigned_one_can(
    desk: ManageDialog, qtbot: QtBot
) -> None:
    desk.set_plan(PLAN)
    desk.table.selectRow(0)
    assert not desk.handover_button.isEnabled()
    assert desk.outcome.text() == "This task is submitted: it stays with its annotator."
    desk.table.selectRow(1)
    assert desk.handover_button.isEnabled()
    desk.handover_to.setCurrentIndex(1)
    with qtbot.waitSignal(desk.reassign_requested) as sent:
        QTest.keyClick(desk, Qt.Key.Key_H, ALT)
    assert sent.args == ["tsk_b", "usr_bo"]
    # One change at a time: nothing is clickable until the server answers.
    assert not desk.handover_button.isEnabled() and not desk.assign_button.isEnabled()
    desk.show_result("The task is in review: it stays with its annotator.", ok=False)
    assert desk.outcome.text().startswith("The task is in review")
    assert desk.outcome.property("refused") is True and desk.assign_button.isEnabled()


def test_assign_and_policy_are_sent_from_the_keyboard(desk: ManageDialog, qtbot: QtBot) -> None:
    desk.set_plan(PLAN)
    desk.recording.setCurrentIndex(1)
    desk.assign_to.setCurrentIndex(1)
    with qtbot.waitSignal(desk.assign_requested) as sent:
        QTest.keyClick(desk, Qt.Key.Key_A, ALT)
    assert sent.args == ["seg_c", "usr_bo", None]
    desk.show_result("The task was assigned.", ok=True)
    desk.window_from.setValue(5.0)
    desk.window_to.setValue(12.5)
    with qtbot.waitSignal(desk.assign_requested) as sent:
        QTest.keyClick(desk, Qt.Key.Key_A, ALT)
    assert sent.args == ["seg_c", "usr_bo", (5.0, 12.5)]
    desk.show_result("The task was assigned.", ok=True)
    desk.gold_rate.setValue(25)
    desk.accept_coverage.setValue(80)
    desk.submit_coverage.setChecked(False)
    with qtbot.waitSignal(desk.policy_requested) as sent:
        QTest.keyClick(desk, Qt.Key.Key_P, ALT)
    assert sent.args == [PolicyIn(submit_coverage=False, accept_coverage=80, gold_rate=25,
                                  context_max_s=10, context_approval=False,
                                  annotations_per_recording=1)]  # fmt: skip
    # A fresh plan keeps what the manager had chosen.
    desk.set_plan(PLAN)
    assert desk.recording.currentData() == "seg_c" and desk.assign_to.currentData() == "usr_bo"


def test_copying_from_the_table_is_refused_and_reported(desk: ManageDialog, qtbot: QtBot) -> None:
    desk.set_plan(PLAN)
    desk.table.selectRow(0)
    desk.table.setFocus()
    QApplication.clipboard().setText("before")
    with qtbot.waitSignal(desk.table.blocked) as sent:
        QTest.keyClick(desk.table, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert sent.args[0] == "clipboard_blocked"
    assert QApplication.clipboard().text() == "before"


def test_closing_on_sign_out_leaves_no_title_behind(desk: ManageDialog) -> None:
    desk.set_plan(PLAN)
    desk.close_and_clear()
    assert desk.table.rowCount() == 0 and desk.recording.count() == 0
    assert desk.handover_to.count() == 0 and desk.windowTitle() == "Manage project"


def test_the_manage_key_asks_for_the_desk(window: MainWindow) -> None:
    window.stack.setCurrentIndex(1)
    seen: list[str] = []
    window.action_triggered.connect(seen.append)
    combo = QKeySequence(BY_ID["manage_project"].default)[0]  # type: ignore[index]
    QTest.keyClick(window, combo.key(), combo.keyboardModifiers())
    assert seen == ["manage_project"]


def test_signing_out_leaves_no_name_or_length_behind(window: MainWindow) -> None:
    window.player.set_duration(7.0)
    window.show_closed()
    assert window.player.time_label.text() == "0:00.00 / 0:00.00"
    window.user_label.setText("Signed in as Bo")
    window.show_session_expired("You signed out.")
    assert window.user_label.text() == "Signed out"
