"""The transcript editor exports nothing: the clipboard never sees its content."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.ui.transcript_editor import TranscriptEditor

SENTINEL = "clipboard-before"
CONTENT = "Maria Lopez, born 14 March 1982, card ending 4419"


def make_editor(qtbot: QtBot) -> TranscriptEditor:
    editor = TranscriptEditor()
    qtbot.addWidget(editor)
    editor.show()
    qtbot.waitExposed(editor)
    editor.setPlainText(CONTENT)
    editor.setFocus()
    return editor


def test_select_all_copy_and_cut_leave_the_clipboard_alone(qtbot: QtBot) -> None:
    clipboard = QGuiApplication.clipboard()
    clipboard.setText(SENTINEL)
    editor = make_editor(qtbot)
    qtbot.keyClick(editor, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(editor, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    QApplication.processEvents()
    assert "4419" not in clipboard.text()
    editor.copy()
    assert "4419" not in clipboard.text()
    qtbot.keyClick(editor, Qt.Key.Key_X, Qt.KeyboardModifier.ControlModifier)
    QApplication.processEvents()
    assert "4419" not in clipboard.text()
    mime = clipboard.mimeData()
    assert all(b"4419" not in bytes(mime.data(f).data()) for f in mime.formats())


def test_drag_data_is_empty_and_there_is_no_context_menu(qtbot: QtBot) -> None:
    editor = make_editor(qtbot)
    editor.selectAll()
    assert editor.createMimeDataFromSelection().formats() == []
    assert editor.contextMenuPolicy() is Qt.ContextMenuPolicy.NoContextMenu
    hints = editor.inputMethodHints()
    assert hints & Qt.InputMethodHint.ImhSensitiveData
    assert hints & Qt.InputMethodHint.ImhNoPredictiveText


def test_clear_content_drops_undo_history(qtbot: QtBot) -> None:
    editor = make_editor(qtbot)
    editor.clear_content()
    editor.undo()
    assert editor.toPlainText() == ""
