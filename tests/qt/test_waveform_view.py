"""Waveform view: drawn from the summary (two points per column), click to seek, drag to draw.

Also the spectrogram mode and the overview that pans the view.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from app.player.waveform_summary import WaveformSummary
from app.ui.overview_view import OverviewView
from app.ui.plot_setup import CLOCK_STEPS, clock_tick_spacing, hertz_label
from app.ui.time_format import clock_label, format_time
from app.ui.waveform_view import WaveformView
from tests.gestures import drag, point_at
from tests.qt.dpr_probe import probe


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


def test_dragging_draws_a_region_over_the_dragged_time(qtbot: QtBot) -> None:
    view = make_view(qtbot, channels=1, seconds=60)
    drawn: list[tuple[float, float]] = []
    view.region_drawn.connect(lambda s, e: drawn.append((s, e)))
    before = view.visible_seconds()
    drag(qtbot, view.viewport(), point_at(view, 40.0), point_at(view, 20.0))  # right to left
    assert len(drawn) == 1
    start, end = drawn[0]
    pixel = 60.0 / view.width()
    assert abs(start - 20.0) < 2 * pixel and abs(end - 40.0) < 2 * pixel
    assert view.visible_seconds() == before  # a plain drag does not pan
    assert view._draft is None  # the rubber band is gone


def test_ctrl_drag_pans_instead_of_drawing(qtbot: QtBot) -> None:
    view = make_view(qtbot, channels=1, seconds=60)
    view.setXRange(20.0, 30.0, padding=0)
    drawn: list[tuple[float, float]] = []
    view.region_drawn.connect(lambda s, e: drawn.append((s, e)))
    ctrl = Qt.KeyboardModifier.ControlModifier
    drag(qtbot, view.viewport(), point_at(view, 28.0), point_at(view, 22.0), modifiers=ctrl)
    assert drawn == []
    x0, x1 = view.visible_seconds()
    assert x0 > 24.0 and abs((x1 - x0) - 10.0) < 0.01  # panned right by ~6 s, same zoom


def test_spectrogram_shows_a_tone_at_its_frequency_and_is_zeroed_on_clear(qtbot: QtBot) -> None:
    view = make_view(qtbot, channels=1, seconds=10)
    rate = 16000
    t = np.arange(rate * 10) / rate
    tone = (np.sin(2 * np.pi * 1000.0 * t) * 20000).astype(np.int16)
    view.set_audio([WaveformSummary(tone)], rate)
    view.set_spectrogram(True)
    assert not view._curves[0].isVisible() and view._images[0].isVisible()
    spectrum = view._spectra[0]
    assert spectrum.shape == (view.width(), 257)  # a column per pixel, never per sample
    peak_bins = spectrum.argmax(axis=1)
    assert np.all(np.abs(peak_bins - 1000 / (rate / 512)) <= 1)  # bin 32 = 1 kHz
    view.set_spectrogram(False)
    assert view._curves[0].isVisible() and not view._images[0].isVisible()
    view.set_spectrogram(True)
    kept = view._spectra[0]
    view.clear_audio()
    assert not kept.any()


def test_overview_follows_the_view_and_pans_it(qtbot: QtBot) -> None:
    overview = OverviewView()
    view = make_view(qtbot, channels=2, seconds=600)
    qtbot.addWidget(overview)
    overview.resize(800, 64)
    overview.show()
    view.visible_changed.connect(overview.set_window)
    overview.window_moved.connect(lambda s, e: view.setXRange(s, e, padding=0))
    overview.set_audio(view._summaries, 16000)
    assert len(overview._curves) == 2
    xs, _ys = overview._curves[0].getData()
    assert xs.max() > 590  # the whole segment
    view.setXRange(100.0, 160.0, padding=0)
    assert overview.window.getRegion() == pytest.approx((100.0, 160.0))
    overview.window.setRegion((300.0, 360.0))  # as a drag of the window does
    assert view.visible_seconds() == pytest.approx((300.0, 360.0))
    overview.clear_audio()
    assert overview._curves == [] and overview._traces == []


def test_playing_pages_the_view_along_with_the_playhead(qtbot: QtBot) -> None:
    view = make_view(qtbot, channels=1, seconds=600)
    view.setXRange(100.0, 130.0, padding=0)
    view.set_playhead(140.0)  # paused (a seek): the view stays where the user put it
    assert view.visible_seconds() == pytest.approx((100.0, 130.0))
    view.set_playhead(129.0, follow=True)  # playing, still in view
    assert view.visible_seconds() == pytest.approx((100.0, 130.0))
    view.set_playhead(130.5, follow=True)  # playing past the right edge: next page
    assert view.visible_seconds() == pytest.approx((130.5, 160.5))


def test_time_ruler_reads_clock_time() -> None:
    assert clock_label(7199.0, 600) == "1:59:59"
    assert clock_label(65.0, 5) == "1:05"
    assert clock_label(65.25, 0.25) == "1:05.2"  # one decimal at 0.1-1 s spacing
    assert clock_label(65.25, 0.05) == "1:05.25"
    assert clock_label(0.0005, 0.001) == "0:00.000"  # half-even: 0.5 ms rounds down
    assert clock_label(59.96, 0.5) == "1:00.0"  # carries into the minute
    assert format_time(7200.0) == "2:00:00.00" and format_time(61.5) == "1:01.50"
    assert format_time(59.999) == "1:00.00"  # carries, never "00:60.00"
    assert format_time(-1.0) == "0:00.00"


def test_ruler_ticks_fall_on_round_clock_intervals_at_every_zoom() -> None:
    # From 10 ms to 10 h on a 1,000-pixel ruler: majors are clock steps, never 1000 s.
    span = 0.01
    while span < 36_000:
        levels = clock_tick_spacing(span, 1000)
        major = levels[0][0]
        assert major in CLOCK_STEPS, span
        assert 1000 * major / span >= 90  # labels never crowd
        assert span / major <= 1000 / 90 + 1
        if major >= 60:
            assert major % 60 == 0  # whole minutes
        if len(levels) > 1:
            assert (major / levels[1][0]).is_integer()
        span *= 1.37
    assert clock_tick_spacing(7200, 1000)[0][0] == 900  # a 2 h call: every 15 min
    assert clock_tick_spacing(0, 1000) == []


def test_before_a_task_opens_the_views_read_as_empty(qtbot: QtBot) -> None:
    view, overview = WaveformView(), OverviewView()
    for widget in (view, overview):
        qtbot.addWidget(widget)
        widget.resize(800, 200)
        widget.show()
    axis = view.getPlotItem().getAxis("bottom")

    def labels() -> int:
        """Bright pixels in the ruler strip, as drawn: tick labels and marks.

        A row bright all along is the axis line itself, which stays (it is not a label).
        """
        qtbot.wait(50)
        image = view.grab().toImage()
        columns = range(0, image.width(), 2)
        total = 0
        for y in range(image.height() - int(axis.height()), image.height()):
            bright = sum(1 for x in columns if image.pixelColor(x, y).lightness() > 120)
            if bright < 0.9 * len(columns):
                total += bright
        return total

    assert not view.playhead.isVisible() and not overview.playhead.isVisible()
    assert labels() == 0  # no "-0:00.4 … 0:00.4" ruler for nothing
    height = axis.height()
    rate = 8000
    summary = WaveformSummary(np.zeros(rate * 3, dtype=np.int16))
    view.set_audio([summary], rate)
    overview.set_audio([summary], rate)
    assert view.playhead.isVisible() and overview.playhead.isVisible()
    assert labels() > 50
    assert axis.height() == height  # the layout does not jump
    view.clear_audio()
    overview.clear_audio()
    assert not view.playhead.isVisible() and not overview.playhead.isVisible()
    assert labels() == 0


def test_the_spectrogram_has_a_frequency_ruler_per_channel(qtbot: QtBot) -> None:
    view = make_view(qtbot, channels=2, seconds=2.0)  # 16 kHz: Nyquist 8 kHz
    axis = view.getPlotItem().getAxis("left")
    width = axis.width()

    def ruler() -> list[str]:
        levels = axis.tickValues(*view.getPlotItem().getViewBox().viewRange()[1], 300)
        return [label for _step, ys in levels for label in axis.tickStrings(ys, 1.0, 1.0)]

    assert ruler() == []  # the waveform has no frequency ruler
    view.set_spectrogram(True)
    assert ruler() == ["2k", "4k", "6k", "2k", "4k", "6k"]  # both lanes, 0 Hz at the bottom
    assert axis.width() == width  # switching does not move the plot
    ys = [y for _step, values in axis.tickValues(-3, 1, 300) for y in values]
    assert ys[:3] == [-0.5, 0.0, 0.5]  # lane 0 spans -1 (0 Hz) to 1 (8 kHz)
    view.set_spectrogram(False)
    assert ruler() == []
    assert [hertz_label(h) for h in (250, 1000, 2500, 10_000)] == ["250", "1k", "2.5k", "10k"]


@pytest.mark.parametrize("scale", ["1", "1.25", "1.5", "2"])
def test_the_waveform_is_solid_at_fractional_and_double_scaling(scale: str) -> None:
    """One segment per device pixel: at 1.5 the waveform used to be a comb of 1-px bars."""
    drawn = probe({**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": scale})
    assert drawn["dpr"] == float(scale)
    assert drawn["columns"] > 400
    assert drawn["gaps"] == 0, drawn
