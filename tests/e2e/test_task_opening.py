"""Opening tasks as a new annotator does: one click opens; clicking it again keeps the work."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from devtools import annotate
from devtools.audio_tap import TappedOutput
from tests.e2e.client_driver import LONG, open_row, running_client, sign_in
from tests.e2e.conftest import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("secret_service")]


def test_one_click_opens_and_a_second_click_keeps_the_typed_text(
    qtbot: QtBot, server: LiveServer
) -> None:
    with running_client(server, TappedOutput()) as client:
        sign_in(qtbot, client)
        tasks = client.window.tasks
        first = tasks.visualItemRect(tasks.item(0)).center()
        with qtbot.waitSignal(client.controller.segment_opened, timeout=LONG):
            qtbot.mouseClick(tasks.viewport(), Qt.MouseButton.LeftButton, pos=first)
        qtbot.waitUntil(lambda: client.controller.editor is not None, timeout=LONG)
        annotate.mark_segment(client.window, client.controller, 0.2, 1.0)
        editor = client.window.editor
        annotate.type_text(client.window, "typed before a stray click")
        with qtbot.assertNotEmitted(client.controller.segment_opening, wait=500):
            qtbot.mouseClick(tasks.viewport(), Qt.MouseButton.LeftButton, pos=first)
            qtbot.mouseDClick(tasks.viewport(), Qt.MouseButton.LeftButton, pos=first)
        assert editor.toPlainText() == "typed before a stray click"
        second = tasks.visualItemRect(tasks.item(1)).center()
        with qtbot.waitSignal(client.controller.segment_opened, timeout=LONG) as opened:
            qtbot.mouseClick(tasks.viewport(), Qt.MouseButton.LeftButton, pos=second)
        wanted = tasks.task_at(1)
        assert wanted is not None and opened.args[0].task.task_id == wanted.task_id


def test_after_submitting_the_next_task_is_one_key_away(qtbot: QtBot, server: LiveServer) -> None:
    with running_client(server, TappedOutput()) as client:
        sign_in(qtbot, client)
        open_row(qtbot, client, 0)
        annotate.mark_segment(client.window, client.controller, 0.2, 1.0)
        annotate.type_text(client.window, "done with the first")
        annotate.press(client.window, Qt.Key.Key_1)
        annotate.choose_first(client.window, "outcome")
        with qtbot.waitSignal(client.controller.label_saved, timeout=LONG):
            annotate.submit(client.window)
        tasks = client.window.tasks
        assert "Press Enter to open the next task" in client.window.banner.text()
        assert tasks.currentRow() == 1 and tasks.hasFocus()
        with qtbot.waitSignal(client.controller.segment_opened, timeout=LONG) as opened:
            qtbot.keyClick(tasks, Qt.Key.Key_Return)
        wanted = tasks.task_at(1)
        assert wanted is not None and opened.args[0].task.task_id == wanted.task_id
