"""The workspace widgets: every schema hotkey, and the list linked both ways with the waveform."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from app.player.waveform_summary import WaveformSummary
from app.ui.main_window import MainWindow
from tests.qt.conftest import show_document


def _press(window: MainWindow, key: str) -> None:
    combo = QKeySequence(key)[0]  # type: ignore[index]
    QTest.keyClick(window.editor, combo.key(), combo.keyboardModifiers())


def test_every_schema_hotkey_reaches_its_action(window: MainWindow, qtbot: QtBot) -> None:
    editor = show_document(window, channels=2)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    panel, schema = window.annotation, editor.schema
    heard: list[tuple[str, ...]] = []
    panel.speaker_requested.connect(lambda name: heard.append(("speaker", name)))
    panel.label_requested.connect(lambda f, v: heard.append(("label", f, v)))
    panel.pii_requested.connect(lambda c, chars: heard.append(("pii", c, str(chars))))
    panel.field_changed.connect(lambda n, v: heard.append(("field", n, str(v))))
    expected: list[tuple[str, ...]] = []
    for speaker in schema.speakers:
        assert speaker.hotkey is not None
        _press(window, speaker.hotkey)
        expected.append(("speaker", speaker.name))
    for field in schema.segment_labels:
        for value in field.values:
            assert value.hotkey is not None
            _press(window, value.hotkey)
            expected.append(("label", field.name, value.name))
    window.editor.setPlainText("call Maria back")
    cursor = window.editor.textCursor()
    cursor.setPosition(5)
    cursor.setPosition(10, cursor.MoveMode.KeepAnchor)
    window.editor.setTextCursor(cursor)
    for category in schema.pii:
        assert category.hotkey is not None
        _press(window, category.hotkey)
        expected.append(("pii", category.name, "(5, 10)"))
    assert heard == expected
    assert len(panel.keys.text().split(" · ")) == len(expected)  # each one is listed
    assert panel.hotkey_conflicts == []


def test_a_hotkey_the_keymap_uses_is_left_to_the_keymap(window: MainWindow) -> None:
    editor = show_document(window)
    window.keymap.set_key("loop", QKeySequence("Alt+1"))  # the agent's key
    window.apply_keymap()
    window.show_document(editor)
    assert window.annotation.hotkey_conflicts == ["Alt+1"]
    assert "Alt+1" in window.statusBar().currentMessage()
    window.keymap.reset()


def test_the_list_and_the_waveform_follow_each_other(window: MainWindow, qtbot: QtBot) -> None:
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(16_000 * 60) * 3000).astype(np.int16)
    window.stack.setCurrentIndex(1)
    window.waveform.set_audio([WaveformSummary(audio)], 16_000)
    editor = show_document(window, segments=5)
    third = editor.segments[2]
    table = window.annotation.table
    with qtbot.waitSignal(table.segment_chosen) as chosen:  # a row chosen: its id goes out
        row = table.visualRect(table.model().index(2, 3)).center()
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=row)
    assert chosen.args == [third.id]
    window.show_segments(editor, editor.segments[4].id)  # a region chosen: its row is selected
    assert table.currentIndex().row() == 4
    assert window.waveform.region_ids() == [editor.segments[4].id]
    assert window.editor.segment_id == editor.segments[4].id
    info = window.annotation.info.text()
    assert info.startswith("Segment 5 of 5 · 0:04.00 to 0:05.00")


def test_a_reading_copy_gets_no_editing_keys(window: MainWindow) -> None:
    editor = show_document(window)
    assert window.annotation.keys.text()
    editor.read_only = True
    window.show_document(editor)
    assert window.annotation.keys.text() == ""
    assert not window.annotation.fields.isEnabled() and window.editor.isReadOnly()
