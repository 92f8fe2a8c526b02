"""Qt fixtures: widgets are closed and deleted explicitly (PySide6 + pyqtgraph exit crashes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    w = MainWindow(["annotator", "reviewer"], "https://127.0.0.1:1")
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()
    w.deleteLater()
    QApplication.processEvents()
