"""Waveform view: drawn from the summary (two points per column), click to seek."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from app.player.waveform_summary import WaveformSummary
from app.ui.waveform_view import WaveformView


def make_view(qtbot: QtBot, channels: int = 2, seconds: float = 600.0) -> WaveformView:
    view = WaveformView()
    qtbot.addWidget(view)
    view.resize(800, 300)
    view.show()
    qtbot.waitExposed(view)
    rate = 16000
    rng = np.random.default_rng(0)
    chans = [
        (rng.standard_normal(int(seconds * rate)) * 3000).astype(np.int16) for _ in range(channels)
    ]
    chans[0][min(rate * 300, len(chans[0]) - 1)] = 32767
    view.set_audio([WaveformSummary(c) for c in chans], rate)
    return view


def test_each_channel_is_a_min_max_trace_of_the_widget_width(qtbot: QtBot) -> None:
    view = make_view(qtbot)
    assert view.channel_count == 2
    for curve in view._curves:
        xs, _ys = curve.getData()
        assert len(xs) == 2 * view.width()  # never the 9.6 M raw samples
    _, ys0 = view._curves[0].getData()
    assert ys0.max() > 0.99  # the single-sample peak at 300 s survives the summary


def test_zoom_recomputes_for_the_visible_range(qtbot: QtBot) -> None:
    view = make_view(qtbot)
    view.setXRange(299.9, 300.1, padding=0)
    xs, ys = view._curves[0].getData()
    assert xs.min() >= 299.89 and xs.max() <= 300.11
    assert ys.max() > 0.99


def test_click_requests_a_seek_to_that_time(qtbot: QtBot) -> None:
    view = make_view(qtbot)
    vb = view.getPlotItem().getViewBox()
    target = vb.mapViewToScene(vb.mapToView(vb.rect().center()))
    pos = view.mapFromScene(target)
    with qtbot.waitSignal(view.seek_requested, timeout=2000) as blocker:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(pos.x(), pos.y()))
    assert abs(blocker.args[0] - 300.0) < 5.0


def test_playhead_moves(qtbot: QtBot) -> None:
    view = make_view(qtbot, channels=1, seconds=10)
    view.set_playhead(4.25)
    assert view.playhead.value() == 4.25
    view.clear_audio()
    assert view.channel_count == 0
