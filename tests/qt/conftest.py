"""Qt fixtures: widgets are closed and deleted explicitly (PySide6 + pyqtgraph exit crashes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.domain.project_schema import parse_schema
from app.services.annotation import DocumentEditor
from app.ui.main_window import MainWindow
from server.demo import DEMO_SCHEMA
from server.project_schemas import read_file


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    w = MainWindow(["annotator", "reviewer"], "https://127.0.0.1:1")
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()
    w.deleteLater()
    QApplication.processEvents()


def show_document(window: MainWindow, channels: int = 1, segments: int = 1) -> DocumentEditor:
    """Put a demo-schema document with ``segments`` one-second segments in the window;
    the first is selected, so the segment text editor takes typing."""
    schema = parse_schema(read_file(DEMO_SCHEMA), version=1)
    editor = DocumentEditor(schema, frames=16_000 * 60, channels=channels, sample_rate=16_000)
    for i in range(segments):
        editor.add_segment(i * 16_000, (i + 1) * 16_000)
    window.stack.setCurrentIndex(1)
    window.show_document(editor)
    window.show_segments(editor, editor.segments[0].id if segments else None)
    return editor
