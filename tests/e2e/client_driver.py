"""Drive the real client the way an annotator does: clicks and keys on real widgets."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import Qt, SignalInstance
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.domain.models import Task
from app.main import ClientApp, build
from devtools.audio_tap import TappedOutput
from tests.e2e.conftest import LiveServer

LONG = 60_000


@contextmanager
def running_client(
    server: LiveServer, tap: TappedOutput, outbox_root: Path | None = None
) -> Iterator[ClientApp]:
    """A real client window; ``outbox_root`` apart lets two run side by side."""
    client = build(server.url, server.ca_file, tap.factory, outbox_root=outbox_root)
    client.window.show()
    try:
        yield client
    finally:
        client.shutdown()
        client.window.deleteLater()
        QApplication.processEvents()


def sign_in(qtbot: QtBot, client: ClientApp, account: str = "annotator") -> list[Task]:
    login = client.window.login
    login.account.setCurrentText(account)
    with qtbot.waitSignal(client.controller.tasks_loaded, timeout=LONG) as loaded:
        qtbot.mouseClick(login.sign_in_button, Qt.MouseButton.LeftButton)
    tasks: list[Task] = loaded.args[0]
    return tasks


def _enter_row(qtbot: QtBot, client: ClientApp, row: int, opened: SignalInstance) -> None:
    tasks = client.window.tasks
    tasks.setCurrentRow(row)
    tasks.setFocus()
    with qtbot.waitSignal(opened, timeout=LONG):
        qtbot.keyClick(tasks, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: client.controller.editor is not None, timeout=LONG)


def open_row(qtbot: QtBot, client: ClientApp, row: int) -> None:
    """Enter on a task row; returns once it plays and its document is in the editor."""
    _enter_row(qtbot, client, row, client.controller.segment_opened)


def open_comparison_row(qtbot: QtBot, client: ClientApp, row: int) -> None:
    """Enter on an RLHF comparison row; returns once its bundle and document are open."""
    _enter_row(qtbot, client, row, client.controller.comparison_opened)
