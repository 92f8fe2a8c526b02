"""Overview (minimap): the whole segment at a glance, with the main view's window on it.

On an hour-long call the main waveform shows seconds; the overview shows where
those seconds are, where the regions lie, and where the playhead is. Dragging
the window pans the main view, dragging its edges zooms it, and a click
centres it there. It draws from the same min/max pyramid as the main view (its
coarsest levels), so it costs the same whatever the length, and it fills in
as decoding advances.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QWidget

from app.domain.label_document import PiiSpan, Segment
from app.player.waveform_summary import WaveformSummary
from app.ui.plot_setup import (
    BACKGROUND,
    AudioPlot,
    channel_pen,
    lock_down_plot,
    set_min_max_traces,
)
from app.ui.segment_layer import SegmentLayer

HEIGHT = 64


class OverviewView(AudioPlot):
    window_moved = Signal(float, float)  # start s, end s the main view should show
    centre_requested = Signal(float)  # seconds

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent=parent, background=BACKGROUND)
        self.setObjectName("overviewView")
        self.setFixedHeight(HEIGHT)
        item = lock_down_plot(self)
        item.getAxis("left").hide()
        item.getAxis("bottom").hide()
        item.setContentsMargins(0, 0, 0, 0)
        self.setMouseEnabled(x=False, y=False)
        self._summaries: list[WaveformSummary] = []
        self._rate = 1
        self._duration = 0.0
        self._curves: list[pg.PlotCurveItem] = []
        self._traces: list[np.ndarray[Any, np.dtype[np.float64]]] = []
        self.segments = SegmentLayer(lanes=1)
        self.window = pg.LinearRegionItem(values=(0.0, 1.0), movable=True, swapMode="sort")
        self.window.setBrush(pg.mkBrush(255, 255, 255, 40))
        self.window.setZValue(10)
        self.window.sigRegionChanged.connect(self._on_window_dragged)
        self.window.setVisible(False)
        self.addItem(self.window)
        self.playhead = pg.InfiniteLine(pos=0.0, angle=90, pen=pg.mkPen("#f43f5e", width=1))
        self.playhead.setZValue(11)
        self.playhead.setVisible(False)  # until a task opens
        self.addItem(self.playhead)
        self.addItem(self.segments)
        self._updating = False
        self.scene().sigMouseClicked.connect(self._on_click)

    def set_audio(self, summaries: list[WaveformSummary], sample_rate: int) -> None:
        self.clear_audio()
        self._summaries = summaries
        self._rate = max(1, sample_rate)
        self._duration = max(summaries[0].length / self._rate if summaries else 0.0, 0.001)
        for lane in range(len(summaries)):
            curve = pg.PlotCurveItem(pen=channel_pen(lane), connect="pairs", skipFiniteCheck=True)
            self.addItem(curve)
            self._curves.append(curve)
        self.getPlotItem().getViewBox().setLimits(xMin=0.0, xMax=self._duration)
        self.setXRange(0.0, self._duration, padding=0)
        self.setYRange(-len(summaries) * 2 + 1, 1, padding=0.02)
        self.segments.set_lanes(len(summaries))
        self.set_window(0.0, self._duration)
        self.window.setVisible(True)
        self.playhead.setVisible(True)
        self.refresh()

    def refresh(self) -> None:
        """Redraw the whole segment (more of it has been decoded)."""
        if not self._summaries:
            return
        width = self.device_columns()
        for trace in self._traces:
            trace.fill(0.0)
        span = (0, self._summaries[0].length)
        self._traces = set_min_max_traces(self._curves, self._summaries, span, width, self._rate)

    def clear_audio(self) -> None:
        for trace in self._traces:
            trace.fill(0.0)
        for curve in self._curves:
            curve.setData([], [])
            self.removeItem(curve)
        self._curves, self._traces, self._summaries = [], [], []
        self.set_segments((), (), 1, ())
        self.window.setVisible(False)
        self.playhead.setValue(0.0)
        self.playhead.setVisible(False)

    def set_window(self, start: float, end: float) -> None:
        """Show the main view's visible range (does not echo back as a move)."""
        self._updating = True
        try:
            self.window.setRegion((start, end))
        finally:
            self._updating = False

    def set_playhead(self, seconds: float) -> None:
        self.playhead.setValue(seconds)

    def set_segments(
        self,
        segments: tuple[Segment, ...],
        pii: Sequence[PiiSpan],
        rate: int,
        speakers: Sequence[str],
    ) -> None:
        """Every segment as a thin, non-interactive band (they are edited in the main view)."""
        self.segments.set_segments(segments, pii, rate, speakers)

    def _on_window_dragged(self) -> None:
        if self._updating or not self._summaries:
            return
        start, end = self.window.getRegion()
        self.window_moved.emit(float(start), float(end))

    def _on_click(self, event: Any) -> None:
        if event.button() != Qt.MouseButton.LeftButton or not self._summaries:
            return
        point = self.getPlotItem().getViewBox().mapSceneToView(event.scenePos())
        self.centre_requested.emit(min(max(0.0, float(point.x())), self._duration))
