"""Keyboard workflow: every action has a key, keys can be remapped, regions show and move."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QKeySequence
from pytestqt.qtbot import QtBot

from app.domain.project_schema import parse_schema
from app.player.waveform_summary import WaveformSummary
from app.services.annotation import DocumentEditor
from app.ui.main_window import MainWindow
from app.ui.shortcut_dialogs import ShortcutEditor, ShortcutSheet
from app.ui.shortcuts import ACTIONS, Keymap
from server.demo import DEMO_SCHEMA
from server.project_schemas import read_file
from tests.gestures import point_at
from tests.qt.conftest import show_document

SCHEMA = parse_schema(read_file(DEMO_SCHEMA), version=1)

ALT = Qt.KeyboardModifier.AltModifier
CTRL = Qt.KeyboardModifier.ControlModifier


def ready(window: MainWindow, qtbot: QtBot) -> None:
    rng = np.random.default_rng(0)
    channels = [(rng.standard_normal(16000 * 60) * 3000).astype(np.int16) for _ in range(2)]
    window.stack.setCurrentIndex(1)
    window.waveform.set_audio([WaveformSummary(c) for c in channels], 16000)
    show_document(window, channels=2)
    window.activateWindow()
    window.editor.setFocus()
    qtbot.waitUntil(window.editor.hasFocus)


def test_every_action_has_a_distinct_default_key(tmp_path: object) -> None:
    keymap = Keymap(QSettings(str(tmp_path) + "/k.ini", QSettings.Format.IniFormat))
    keys = [keymap.key(spec.action_id).toString() for spec in ACTIONS]
    assert all(keys) and len(set(keys)) == len(keys)
    assert keymap.conflicts() == []


def test_region_and_speed_keys_reach_the_controller_while_typing(
    window: MainWindow, qtbot: QtBot
) -> None:
    ready(window, qtbot)
    seen: list[str] = []
    window.action_triggered.connect(seen.append)
    qtbot.keyClicks(window.editor, "agent speaking")
    qtbot.keyClick(window.editor, Qt.Key.Key_Return, ALT)
    qtbot.keyClick(window.editor, Qt.Key.Key_Tab)
    qtbot.keyClick(window.editor, Qt.Key.Key_Tab, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(window.editor, Qt.Key.Key_BracketRight, CTRL)
    qtbot.keyClick(window.editor, Qt.Key.Key_L, CTRL)
    assert seen == ["mark_boundary", "next_region", "previous_region", "speed_up", "loop"]
    assert window.editor.toPlainText() == "agent speaking"  # none of them typed anything


def test_zoom_keys_change_the_view(window: MainWindow, qtbot: QtBot) -> None:
    ready(window, qtbot)
    x0, x1 = window.waveform.visible_seconds()
    qtbot.keyClick(window.editor, Qt.Key.Key_Equal, CTRL)
    z0, z1 = window.waveform.visible_seconds()
    assert (z1 - z0) < 0.6 * (x1 - x0)
    qtbot.keyClick(window.editor, Qt.Key.Key_0, CTRL)
    assert window.waveform.visible_seconds() == (x0, x1)


def test_remapped_key_takes_effect(window: MainWindow, qtbot: QtBot) -> None:
    ready(window, qtbot)
    window.keymap.set_key("loop", QKeySequence("Ctrl+K"))
    window.apply_keymap()
    seen: list[str] = []
    window.action_triggered.connect(seen.append)
    qtbot.keyClick(window.editor, Qt.Key.Key_K, CTRL)
    qtbot.keyClick(window.editor, Qt.Key.Key_L, CTRL)
    assert seen == ["loop"]
    window.keymap.reset()


def test_editor_refuses_a_key_used_twice(window: MainWindow, qtbot: QtBot) -> None:
    editor = ShortcutEditor(window.keymap, window)
    qtbot.addWidget(editor)
    editor.editors["loop"].setKeySequence(QKeySequence("Ctrl+Space"))  # play/pause's key
    editor.save()
    assert "twice" in editor.message.text()
    assert window.keymap.key("loop").toString() == "Ctrl+L"
    sheet = ShortcutSheet(window.keymap, window)
    qtbot.addWidget(sheet)
    assert sheet.table.rowCount() == len(ACTIONS)


def test_segments_are_drawn_and_only_the_selected_one_is_editable(
    window: MainWindow, qtbot: QtBot
) -> None:
    ready(window, qtbot)
    editor = DocumentEditor(SCHEMA, 16_000 * 60, 2, 16_000)
    first = editor.add_segment(16_000, 40_000, speaker="agent")
    second = editor.add_segment(32_000, 64_000, speaker="customer")
    window.show_segments(editor, second.id)
    assert window.waveform.region_ids() == [second.id]  # one editable item, not one per segment
    assert window.waveform.segment_layer.visible_indices(0.0, 60.0) == range(2)
    assert window.region_label.text() == "2 segments"
    item = window.waveform._region_items[second.id]
    with qtbot.waitSignal(window.waveform.region_moved) as moved:
        item.setRegion((1.5, 3.0))
        item.sigRegionChangeFinished.emit(item)
    assert moved.args == [second.id, 1.5, 3.0]
    window.show_segments(editor, None)
    assert window.waveform.region_ids() == []
    assert first.id not in window.waveform.region_ids()


def test_enter_splits_only_while_typing_a_segment(window: MainWindow, qtbot: QtBot) -> None:
    ready(window, qtbot)
    seen: list[str] = []
    window.action_triggered.connect(seen.append)
    qtbot.keyClicks(window.editor, "first half")
    qtbot.keyClick(window.editor, Qt.Key.Key_Return)
    assert seen == ["split_segment"]
    assert window.editor.toPlainText() == "first half"  # no newline typed
    window.annotation.table.setFocus()
    qtbot.waitUntil(window.annotation.table.hasFocus)
    qtbot.keyClick(window.annotation.table, Qt.Key.Key_Return)  # Enter on a row: to its text
    assert seen == ["split_segment"]
    qtbot.waitUntil(window.editor.hasFocus)


def test_spectrogram_key_and_overview_in_the_window(window: MainWindow, qtbot: QtBot) -> None:
    ready(window, qtbot)
    window.overview.set_audio(window.waveform._summaries, 16000)
    assert not window.waveform.spectrogram_shown
    qtbot.keyClick(window.editor, Qt.Key.Key_G, CTRL)  # while typing, as every player key
    assert window.waveform.spectrogram_shown
    qtbot.keyClick(window.editor, Qt.Key.Key_G, CTRL)
    assert not window.waveform.spectrogram_shown
    # The overview's window tracks the view; clicking the overview centres the view there.
    window.waveform.setXRange(10.0, 20.0, padding=0)
    assert window.overview.window.getRegion() == pytest.approx((10.0, 20.0))
    at = point_at(window.overview, 40.0).toPoint()
    qtbot.mouseClick(window.overview.viewport(), Qt.MouseButton.LeftButton, pos=at)
    x0, x1 = window.waveform.visible_seconds()
    pixel = 60.0 / window.overview.width()
    assert abs((x0 + x1) / 2 - 40.0) < 2 * pixel and x1 - x0 == pytest.approx(10.0)
    editor = show_document(window, channels=2, segments=3)
    assert window.overview.segments.visible_indices(0.0, 60.0) == range(3)
    assert len(editor) == 3
    window.show_closed()
    assert window.overview._curves == []
