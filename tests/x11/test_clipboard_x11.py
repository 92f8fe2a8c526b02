"""Nothing in a content widget reaches the X11 CLIPBOARD or PRIMARY selection.

Keys and mouse come from outside through the X server (xdotool, XTEST), and
the selections are read from outside (xclip), the way another program on the
workstation would. A plain QPlainTextEdit is the control: it leaks, so the
check is shown to be able to fail.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QPlainTextEdit, QWidget
from pytestqt.qtbot import QtBot

from app.domain.models import ProjectId, SegmentId, Task, TaskId
from app.player.waveform_summary import WaveformSummary
from app.ui.main_window import MainWindow
from app.wire.schemas import Role, TaskStatus
from devtools.synthetic_audio import decoded_speech
from tests.qt.conftest import show_document
from tests.x11.helpers import selection, settle, xdotool

SENTINEL = "SENTINEL-4417 account 5520 1234"


def _focus(widget: QWidget) -> None:
    window = widget.window()
    xdotool("windowfocus", "--sync", str(int(window.winId())))
    widget.setFocus()
    settle()


def _leaked() -> list[str]:
    found = []
    for name in ("clipboard", "primary"):
        if b"SENTINEL" in selection(name):
            found.append(name)
    qt = QGuiApplication.clipboard()
    if "SENTINEL" in qt.text():
        found.append("QClipboard")
    return found


def _drag_across(widget: QWidget) -> None:
    """Press, move and release the left button over ``widget`` through the X server."""
    start = widget.mapToGlobal(QPoint(8, 12))
    end = widget.mapToGlobal(QPoint(widget.width() - 10, 40))
    xdotool("mousemove", str(start.x()), str(start.y()), "mousedown", "1")
    xdotool("mousemove", str(end.x()), str(end.y()))
    xdotool("mouseup", "1")


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    win = MainWindow(["annotator"], "https://127.0.0.1")
    win.move(0, 0)
    win.resize(1000, 700)
    win.stack.setCurrentIndex(1)
    task = Task(
        TaskId("t1"), ProjectId("p1"), "Project", SegmentId("s1"), SENTINEL,
        Role.ANNOTATOR, TaskStatus.ASSIGNED, 3.0, 16000, 1, 1000,
    )  # fmt: skip
    win.show_tasks([task])
    audio = decoded_speech(3.0, 16000, 1)
    summary = WaveformSummary(audio.channels[0])
    win.show_segment(task, [summary], 16000)
    show_document(win)  # one segment selected: its text is what is typed
    win.editor.setPlainText(SENTINEL + "\n" + SENTINEL)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()
    summary.close()
    audio.close()


def test_the_check_can_fail_a_plain_editor_leaks(qtbot: QtBot) -> None:
    plain = QPlainTextEdit()
    plain.setPlainText(SENTINEL)
    plain.move(0, 0)
    plain.resize(500, 200)
    plain.show()
    qtbot.waitExposed(plain)
    _focus(plain)
    xdotool("key", "ctrl+a")
    assert "primary" in _leaked()
    xdotool("key", "ctrl+c")
    assert "clipboard" in _leaked()
    plain.close()


@pytest.mark.parametrize("keys", ["ctrl+a", "ctrl+a ctrl+c", "ctrl+a ctrl+x", "ctrl+a ctrl+Insert"])
def test_transcript_keys_export_nothing(window: MainWindow, keys: str) -> None:
    _focus(window.editor)
    xdotool("key", *keys.split())
    assert _leaked() == []
    assert SENTINEL in window.editor.toPlainText(), "a refused cut must not delete text"


def test_transcript_mouse_selection_exports_nothing(window: MainWindow) -> None:
    _focus(window.editor)
    _drag_across(window.editor.viewport())
    assert window.editor.textCursor().hasSelection(), "the drag selected text"
    assert _leaked() == []


def test_transcript_drag_out_carries_nothing(window: MainWindow) -> None:
    """Qt builds a drag's data with the same hook as copy; it is empty."""
    window.editor.selectAll()
    assert window.editor.createMimeDataFromSelection().formats() == []


def test_task_list_exports_nothing(window: MainWindow) -> None:
    window.tasks.setCurrentRow(0)
    _focus(window.tasks)
    xdotool("key", "ctrl+a", "ctrl+c", "ctrl+x")
    _drag_across(window.tasks.viewport())
    assert _leaked() == []
    assert window.tasks.mimeData([window.tasks.item(0)]).formats() == []


def test_waveform_exports_nothing(window: MainWindow) -> None:
    _focus(window.waveform)
    xdotool("key", "ctrl+a", "ctrl+c")
    _drag_across(window.waveform.viewport())
    assert _leaked() == []
