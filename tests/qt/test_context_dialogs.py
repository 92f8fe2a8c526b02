"""Context around a window: the annotator's ask (seconds and a reason) and a reviewer's list."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialogButtonBox
from pytestqt.qtbot import QtBot

from app.ui.context_dialogs import ContextAskDialog, ContextAsksDialog
from app.ui.main_window import MainWindow
from app.ui.shortcuts import BY_ID
from app.ui.transcript_editor import TranscriptEditor
from app.wire.context import PendingContextOut

ALT = Qt.KeyboardModifier.AltModifier


def _nothing(_editor: TranscriptEditor) -> None:
    return None


def test_the_ask_needs_a_reason_and_hands_over_seconds_and_words(
    window: MainWindow, qtbot: QtBot
) -> None:
    answers: list[tuple[int, str]] = []
    dialog = ContextAskDialog(window, 10, _nothing, lambda s, t: answers.append((s, t)))
    dialog.show()
    qtbot.waitExposed(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert dialog.seconds.value() == 5 and dialog.seconds.maximum() == 10
    assert not ok.isEnabled()
    QTest.keyClicks(dialog.editor, "too short")
    assert not ok.isEnabled()  # nine characters
    QTest.keyClicks(dialog.editor, ": the caller refers back")
    assert ok.isEnabled()
    dialog.seconds.setValue(3)
    ok.click()
    assert answers == [(3, "too short: the caller refers back")]
    assert dialog.editor.toPlainText() == ""  # the words leave with the dialog


def _ask(request_id: str, title: str, why: str) -> PendingContextOut:
    return PendingContextOut.model_validate({
        "request": {"request_id": request_id, "task_id": "tsk_1", "seconds": 4,
                    "status": "pending", "created_at": 1},
        "title": title, "annotator_name": "Bo", "justification": why,
    })  # fmt: skip


def test_a_reviewer_grants_and_denies_from_the_keyboard(qtbot: QtBot) -> None:
    dialog = ContextAsksDialog()
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    dialog.show_asks([_ask("ctx_a", "call 00:05-00:12", "refers to an earlier date"),
                      _ask("ctx_b", "call 00:12-00:20", "speaker unclear")])  # fmt: skip
    assert dialog.asks.count() == 2 and dialog.outcome.text() == "2 pending."
    first = dialog.asks.item(0)
    assert first is not None and "refers to an earlier date" in first.text()
    with qtbot.waitSignal(dialog.decide) as sent:
        QTest.keyClick(dialog, Qt.Key.Key_G, ALT)
    assert sent.args == ["ctx_a", True]
    assert not dialog.grant_button.isEnabled()  # until the server answers
    dialog.show_asks([_ask("ctx_b", "call 00:12-00:20", "speaker unclear")])
    with qtbot.waitSignal(dialog.decide) as sent:
        QTest.keyClick(dialog, Qt.Key.Key_D, ALT)
    assert sent.args == ["ctx_b", False]
    dialog.asks.setFocus()
    QApplication.clipboard().setText("before")
    with qtbot.waitSignal(dialog.asks.blocked):
        QTest.keyClick(dialog.asks, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.clipboard().text() == "before"
    dialog.close_and_clear()
    assert dialog.asks.count() == 0
    dialog.deleteLater()


def test_the_context_keys_reach_their_actions(window: MainWindow) -> None:
    window.stack.setCurrentIndex(1)
    seen: list[str] = []
    window.action_triggered.connect(seen.append)
    for action in ("context", "context_asks"):
        combo = QKeySequence(BY_ID[action].default)[0]  # type: ignore[index]
        QTest.keyClick(window, combo.key(), combo.keyboardModifiers())
    assert seen == ["context", "context_asks"]
