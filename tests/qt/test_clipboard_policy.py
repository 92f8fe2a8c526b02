"""The in-app copy buffer and the paste policy of the transcript editor."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from app.ui.transcript_editor import InAppClipboard, TranscriptEditor

CTRL = Qt.KeyboardModifier.ControlModifier


def _editor(qtbot: QtBot, text: str) -> TranscriptEditor:
    editor = TranscriptEditor()
    qtbot.addWidget(editor)
    editor.setPlainText(text)
    editor.show()
    editor.setFocus()
    return editor


def test_in_app_buffer_copies_and_pastes_without_the_system_clipboard(qtbot: QtBot) -> None:
    QGuiApplication.clipboard().setText("outside text")
    editor = _editor(qtbot, "first line\nsecond")
    editor.in_app = InAppClipboard()
    editor.paste_policy = "in_app"
    qtbot.keyClick(editor, Qt.Key.Key_A, CTRL)
    qtbot.keyClick(editor, Qt.Key.Key_X, CTRL)
    assert editor.toPlainText() == ""
    assert editor.in_app.text == "first line\nsecond"
    qtbot.keyClick(editor, Qt.Key.Key_V, CTRL)
    qtbot.keyClick(editor, Qt.Key.Key_V, CTRL)
    assert editor.toPlainText() == "first line\nsecondfirst line\nsecond"
    assert QGuiApplication.clipboard().text() == "outside text"


def test_paste_none_and_drops_are_refused_and_reported(qtbot: QtBot) -> None:
    QGuiApplication.clipboard().setText("outside text")
    editor = _editor(qtbot, "kept")
    editor.paste_policy = "none"
    with qtbot.waitSignal(editor.blocked) as blocked:
        qtbot.keyClick(editor, Qt.Key.Key_V, CTRL)
    assert blocked.args == ["paste_blocked", "paste"]
    dropped = QMimeData()
    dropped.setText("dropped text")
    assert not editor.canInsertFromMimeData(dropped)
    with qtbot.waitSignal(editor.blocked) as blocked:
        editor.insertFromMimeData(dropped)
    assert blocked.args == ["paste_blocked", "drop"]
    assert editor.toPlainText() == "kept"


def test_system_paste_when_policy_allows(qtbot: QtBot) -> None:
    QGuiApplication.clipboard().setText("outside text")
    editor = _editor(qtbot, "")
    editor.paste_policy = "system"
    qtbot.keyClick(editor, Qt.Key.Key_V, CTRL)
    assert editor.toPlainText() == "outside text"
