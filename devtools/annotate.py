"""Annotating with the keyboard, as a transcriber does: the tests' and the scripts' hands.

Every step goes through real key events on the real window (window shortcuts,
the schema's hotkeys, the segment text editor), so what these helpers do is
what a user at the keyboard can do.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.jobs.controller import Controller
from app.ui.main_window import MainWindow

ALT = Qt.KeyboardModifier.AltModifier
CTRL = Qt.KeyboardModifier.ControlModifier


def mark_segment_keys(
    window: MainWindow, controller: Controller, start_s: float, end_s: float
) -> None:
    """Alt+Enter at ``start_s`` and at ``end_s`` (ELAN-style segmentation)."""
    controller.seek_seconds(start_s)
    QTest.keyClick(window.editor, Qt.Key.Key_Return, ALT)
    controller.seek_seconds(end_s)
    QTest.keyClick(window.editor, Qt.Key.Key_Return, ALT)


def mark_segment(window: MainWindow, controller: Controller, start_s: float, end_s: float) -> str:
    """:func:`mark_segment_keys`; returns the new segment's id."""
    mark_segment_keys(window, controller, start_s, end_s)
    segment = controller.selected_segment
    if segment is None:
        editor = controller.editor
        raise AssertionError(
            "no segment was marked: "
            f"audio loaded={controller.audio_loaded}, editor={'none' if editor is None else 'open'}"
            f"{', read-only' if editor is not None and editor.read_only else ''}"
        )
    return segment.id


def type_text(window: MainWindow, text: str) -> None:
    """Type into the selected segment's text."""
    window.editor.setFocus()
    QTest.keyClicks(window.editor, text)


def press(window: MainWindow, key: Qt.Key, modifiers: Qt.KeyboardModifier = ALT) -> None:
    """A hotkey (a window shortcut) pressed while typing."""
    QTest.keyClick(window.editor, key, modifiers)


def choose_first(window: MainWindow, field: str) -> None:
    """Ctrl+T to the task fields, then Down on ``field``: its first choice."""
    QTest.keyClick(window.editor, Qt.Key.Key_T, CTRL)
    widget = window.annotation.fields.widgets[field]
    widget.setFocus()
    QTest.keyClick(widget, Qt.Key.Key_Down)


def submit(window: MainWindow) -> None:
    QTest.keyClick(window.editor, Qt.Key.Key_Return, CTRL)
