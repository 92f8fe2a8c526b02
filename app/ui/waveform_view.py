"""Waveform view: one min/max trace per channel, a playhead, click to seek.

Draws from :class:`~app.player.waveform_summary.WaveformSummary` — two points
per pixel column, recomputed for the visible range on every zoom or pan —
never from raw samples, so redraw cost is independent of the call's length.
The arrays handed to pyqtgraph are audio-derived (raw samples when zoomed in
below 256 samples a column); :meth:`clear_audio` zeroes ours, but pyqtgraph's
painter paths are ordinary memory until Qt frees them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QWidget

from app.player.waveform_summary import WaveformSummary

_COLOURS = ("#3b82f6", "#f97316", "#22c55e", "#a855f7")


class WaveformView(pg.PlotWidget):  # type: ignore[misc]
    seek_requested = Signal(float)  # seconds
    region_moved = Signal(int, float, float)  # region id, start s, end s

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent=parent, background="#111827")
        self.setObjectName("waveformView")
        self._summaries: list[WaveformSummary] = []
        self._rate = 1
        self._curves: list[pg.PlotCurveItem] = []
        self._traces: list[np.ndarray[Any, np.dtype[np.float64]]] = []
        self._region_items: dict[int, pg.LinearRegionItem] = {}
        item = self.getPlotItem()
        item.hideButtons()
        # pyqtgraph's menus offer "Export..." (images, CSV of the samples) to disk: none.
        item.setMenuEnabled(False)
        self.scene().contextMenu = []
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        item.showGrid(x=True, y=False, alpha=0.2)
        item.getAxis("left").hide()
        item.setLabel("bottom", "time", units="s")
        self.setMouseEnabled(x=True, y=False)
        self.playhead = pg.InfiniteLine(pos=0.0, angle=90, pen=pg.mkPen("#f43f5e", width=2))
        self.playhead.setZValue(10)
        self.addItem(self.playhead)
        item.getViewBox().sigXRangeChanged.connect(self._redraw)
        self.scene().sigMouseClicked.connect(self._on_click)

    @property
    def channel_count(self) -> int:
        return len(self._summaries)

    def set_audio(self, summaries: list[WaveformSummary], sample_rate: int) -> None:
        """Show a new segment: one lane per channel, whole segment in view."""
        self.clear_audio()
        self._summaries = summaries
        self._rate = max(1, sample_rate)
        lanes = len(summaries)
        for i in range(lanes):
            curve = pg.PlotCurveItem(
                pen=pg.mkPen(_COLOURS[i % len(_COLOURS)]), connect="pairs", skipFiniteCheck=True
            )
            self.addItem(curve)
            self._curves.append(curve)
        duration = summaries[0].length / self._rate if summaries else 0.0
        vb = self.getPlotItem().getViewBox()
        vb.setLimits(xMin=0.0, xMax=max(duration, 0.001))
        self.setYRange(-lanes * 2 + 1, 1, padding=0.02)
        self.setXRange(0.0, max(duration, 0.001), padding=0)
        self._redraw()

    def refresh(self) -> None:
        """Redraw the visible range (more of the segment has been decoded)."""
        self._redraw()

    def clear_audio(self) -> None:
        self.set_regions([], None)
        for trace in self._traces:
            trace.fill(0.0)
        for curve in self._curves:
            curve.setData([], [])
            self.removeItem(curve)
        self._curves = []
        self._traces = []
        self._summaries = []
        self.playhead.setValue(0.0)

    def dispose(self) -> None:
        """Zero the traces and tear the plot down (once; the view is unusable afterwards).

        pyqtgraph's items must be removed while Python still holds them: leaving it
        to Qt's scene teardown during the window's deletion crashed about one exit in six.
        """
        if self.plotItem is None:
            return
        self.clear_audio()
        super().close()

    def close(self) -> bool:
        """Idempotent (pyqtgraph's own ``close`` fails the second time)."""
        self.dispose()
        return True

    def set_playhead(self, seconds: float) -> None:
        self.playhead.setValue(seconds)

    # -- regions --------------------------------------------------------------
    def set_regions(self, spans: list[tuple[int, float, float]], selected: int | None) -> None:
        """Show ``(id, start s, end s)`` spans; the selected one is highlighted."""
        wanted = {region_id for region_id, _s, _e in spans}
        for region_id in list(self._region_items):
            if region_id not in wanted:
                self.removeItem(self._region_items.pop(region_id))
        for region_id, start, end in spans:
            item = self._region_items.get(region_id)
            if item is None:
                item = pg.LinearRegionItem(values=(start, end), movable=True, swapMode="sort")
                item.setZValue(5)
                item.sigRegionChangeFinished.connect(
                    lambda it, rid=region_id: self._on_region_dragged(rid, it)
                )
                self.addItem(item)
                self._region_items[region_id] = item
            elif item.getRegion() != (start, end):
                item.blockSignals(True)
                item.setRegion((start, end))
                item.blockSignals(False)
            colour = (244, 63, 94, 70) if region_id == selected else (250, 204, 21, 40)
            item.setBrush(pg.mkBrush(colour))

    def region_ids(self) -> list[int]:
        return sorted(self._region_items)

    def _on_region_dragged(self, region_id: int, item: pg.LinearRegionItem) -> None:
        start, end = item.getRegion()
        self.region_moved.emit(region_id, float(start), float(end))

    # -- zoom -----------------------------------------------------------------
    def zoom(self, factor: float, around: float | None = None) -> None:
        """Scale the visible span by ``factor`` (<1 zooms in) around ``around`` seconds."""
        x0, x1 = self.visible_seconds()
        centre = (x0 + x1) / 2 if around is None else around
        span = max((x1 - x0) * factor, 64 / self._rate)
        self.setXRange(centre - span / 2, centre + span / 2, padding=0)

    def zoom_fit(self) -> None:
        duration = self._summaries[0].length / self._rate if self._summaries else 0.001
        self.setXRange(0.0, max(duration, 0.001), padding=0)

    def zoom_to(self, start: float, end: float) -> None:
        if end > start:
            self.setXRange(start, end, padding=0.02)

    def visible_seconds(self) -> tuple[float, float]:
        (x0, x1), _ = self.getPlotItem().getViewBox().viewRange()
        return float(x0), float(x1)

    def _redraw(self, *_args: Any) -> None:
        if not self._summaries:
            return
        x0, x1 = self.visible_seconds()
        width = max(64, int(self.width()))
        start, end = max(0, int(x0 * self._rate)), int(np.ceil(x1 * self._rate))
        end = min(end, self._summaries[0].length)
        if end <= start:
            return
        xs = np.repeat(np.linspace(start, end, width, endpoint=False) / self._rate, 2)
        for trace in self._traces:
            trace.fill(0.0)
        self._traces = []
        for lane, (summary, curve) in enumerate(zip(self._summaries, self._curves, strict=True)):
            lo, hi = summary.columns(start, end, width)
            ys = np.empty(width * 2, dtype=np.float64)
            ys[0::2] = lo / 32768.0
            ys[1::2] = hi / 32768.0
            ys -= lane * 2
            lo.fill(0)
            hi.fill(0)
            self._traces.append(ys)
            curve.setData(xs, ys)

    def _on_click(self, event: Any) -> None:
        if event.button() != Qt.MouseButton.LeftButton or not self._summaries:
            return
        point = self.getPlotItem().getViewBox().mapSceneToView(event.scenePos())
        self.seek_requested.emit(max(0.0, float(point.x())))
