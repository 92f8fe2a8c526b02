"""Waveform view: one min/max trace (or spectrogram) per channel, a playhead, regions.

Mouse: click seeks, drag draws a new region (as in Label Studio), Ctrl+drag
or middle-drag pans, the wheel zooms; regions move and resize by their body
and edges. The overview (:mod:`app.ui.overview_view`) pans across long calls.

Draws from :class:`~app.player.waveform_summary.WaveformSummary` — two points
per pixel column, recomputed for the visible range on every zoom or pan —
never from raw samples, so redraw cost is independent of the call's length; the
spectrogram likewise computes one FFT per column (:mod:`app.player.spectrogram`).
The arrays handed to pyqtgraph are audio-derived (raw samples when zoomed in
below 256 samples a column); :meth:`clear_audio` zeroes ours, but pyqtgraph's
painter paths and images are ordinary memory until Qt frees them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import QWidget

from app.domain.label_document import PiiSpan, Segment
from app.player.spectrogram import spectrogram_columns
from app.player.waveform_summary import WaveformSummary
from app.ui.plot_setup import (
    BACKGROUND,
    AudioPlot,
    FrequencyAxis,
    TimeAxis,
    channel_pen,
    lock_down_plot,
    set_min_max_traces,
)
from app.ui.segment_layer import SegmentLayer

#: A drag shorter than this many pixels is a click (seek), not a new region.
MIN_DRAG_PX = 4


class _DrawingViewBox(pg.ViewBox):  # type: ignore[misc]
    """Left-drag draws a region (Shift: marks a span for a PII tag); Ctrl+left-drag and
    middle-drag pan as usual."""

    def __init__(self) -> None:
        super().__init__()
        self.on_draw: Callable[[float, float, bool, bool], None] | None = None

    def mouseDragEvent(self, ev: Any, axis: int | None = None) -> None:  # noqa: N802 - Qt
        modifiers = ev.modifiers()
        if (
            ev.button() != Qt.MouseButton.LeftButton
            or modifiers & Qt.KeyboardModifier.ControlModifier
            or self.on_draw is None
        ):
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        if (ev.pos() - ev.buttonDownPos()).manhattanLength() < MIN_DRAG_PX and not ev.isFinish():
            return
        start = float(self.mapToView(ev.buttonDownPos()).x())
        end = float(self.mapToView(ev.pos()).x())
        shift = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
        self.on_draw(min(start, end), max(start, end), bool(ev.isFinish()), shift)


class _SegmentRegion(pg.LinearRegionItem):  # type: ignore[misc]
    """The selected segment's editable region; a Shift+drag over it marks a span instead."""

    def mouseDragEvent(self, ev: Any) -> None:  # noqa: N802 - Qt
        if ev.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            ev.ignore()  # the view box below takes it
            return
        super().mouseDragEvent(ev)


class WaveformView(AudioPlot):
    seek_requested = Signal(float)  # seconds
    region_moved = Signal(str, float, float)  # segment id, start s, end s
    region_drawn = Signal(float, float)  # start s, end s of a new region
    span_marked = Signal(float, float)  # Shift+drag: a span to tag as personal data
    visible_changed = Signal(float, float)  # start s, end s now on screen

    def __init__(self, parent: QWidget | None = None) -> None:
        self._viewbox = _DrawingViewBox()
        super().__init__(
            parent=parent,
            background=BACKGROUND,
            viewBox=self._viewbox,
            axisItems={"bottom": TimeAxis(), "left": FrequencyAxis()},
        )
        self.setObjectName("waveformView")
        self._summaries: list[WaveformSummary] = []
        self._rate = 1
        self._curves: list[pg.PlotCurveItem] = []
        self._traces: list[np.ndarray[Any, np.dtype[np.float64]]] = []
        self._region_items: dict[str, pg.LinearRegionItem] = {}
        self.segment_layer = SegmentLayer()
        self._spectrogram = False
        self._images: list[pg.ImageItem] = []
        self._spectra: list[np.ndarray[Any, np.dtype[np.uint8]]] = []
        self._lut = pg.colormap.get("inferno").getLookupTable(nPts=256)
        self._draft: pg.LinearRegionItem | None = None
        self._marked: pg.LinearRegionItem | None = None  # Shift+drag: a span for a PII tag
        self._viewbox.on_draw = self._on_draw
        item = lock_down_plot(self)
        item.showGrid(x=True, y=False, alpha=0.2)
        self._frequencies: FrequencyAxis = item.getAxis("left")
        self._ruler_pen = item.getAxis("bottom").pen()
        self.setMouseEnabled(x=True, y=False)
        self.playhead = pg.InfiniteLine(pos=0.0, angle=90, pen=pg.mkPen("#f43f5e", width=2))
        self.playhead.setZValue(10)
        self.addItem(self.playhead)
        self.addItem(self.segment_layer)
        item.getViewBox().sigXRangeChanged.connect(self._redraw)
        self.scene().sigMouseClicked.connect(self._on_click)
        self._show_empty(True)

    def _show_empty(self, empty: bool) -> None:
        """With no task open the view reads as empty: no playhead, no ruler labels or grid.

        The axis keeps its height (explicit empty ticks, not hidden), so nothing jumps
        when a task opens.
        """
        self.playhead.setVisible(not empty)
        axis = self.getPlotItem().getAxis("bottom")
        axis.setTicks([[], []] if empty else None)
        axis.setPen(pg.mkPen(None) if empty else self._ruler_pen)

    @property
    def channel_count(self) -> int:
        return len(self._summaries)

    def set_audio(self, summaries: list[WaveformSummary], sample_rate: int) -> None:
        """Show a new segment: one lane per channel, whole segment in view."""
        self.clear_audio()
        self._summaries = summaries
        self._rate = max(1, sample_rate)
        lanes = len(summaries)
        self.segment_layer.set_lanes(lanes)
        for i in range(lanes):
            curve = pg.PlotCurveItem(pen=channel_pen(i), connect="pairs", skipFiniteCheck=True)
            curve.setVisible(not self._spectrogram)
            self.addItem(curve)
            self._curves.append(curve)
            image = pg.ImageItem(axisOrder="col-major")
            image.setLookupTable(self._lut)
            image.setVisible(self._spectrogram)
            self.addItem(image)
            self._images.append(image)
        duration = summaries[0].length / self._rate if summaries else 0.0
        vb = self.getPlotItem().getViewBox()
        vb.setLimits(xMin=0.0, xMax=max(duration, 0.001))
        self.setYRange(-lanes * 2 + 1, 1, padding=0.02)
        self.setXRange(0.0, max(duration, 0.001), padding=0)
        self._show_empty(False)
        self._label_frequencies()
        self._redraw()

    def refresh(self) -> None:
        """Redraw the visible range (more of the segment has been decoded)."""
        self._redraw()

    def clear_audio(self) -> None:
        self.mark_span(None)
        self.set_regions([], None)
        self.set_segments((), (), 1, ())
        self._drop_draft()
        for trace in self._traces:
            trace.fill(0.0)
        for spectrum in self._spectra:
            spectrum.fill(0)
        for curve in self._curves:
            curve.setData([], [])
            self.removeItem(curve)
        for image in self._images:
            image.clear()
            self.removeItem(image)
        self._curves, self._traces, self._images, self._spectra = [], [], [], []
        self._summaries = []
        self.playhead.setValue(0.0)
        self._show_empty(True)
        self._label_frequencies()

    # -- spectrogram ------------------------------------------------------------
    @property
    def spectrogram_shown(self) -> bool:
        return self._spectrogram

    def set_spectrogram(self, shown: bool) -> None:
        """Show a spectrogram per channel instead of the waveform (and back)."""
        self._spectrogram = shown
        for curve in self._curves:
            curve.setVisible(not shown)
        for image in self._images:
            image.setVisible(shown)
        self._label_frequencies()
        self._redraw()

    def _label_frequencies(self) -> None:
        lanes = len(self._summaries) if self._spectrogram else 0
        self._frequencies.show_frequencies(self._rate / 2, lanes)

    def set_playhead(self, seconds: float, *, follow: bool = False) -> None:
        """Move the playhead; with ``follow`` (playing), page the view along with it.

        ELAN-style paging: when the playhead leaves the visible range the view
        jumps one screen on, keeping the zoom, so the transcriber sees what is heard.
        """
        self.playhead.setValue(seconds)
        if not follow or not self._summaries:
            return
        x0, x1 = self.visible_seconds()
        if not x0 <= seconds <= x1:
            self.setXRange(seconds, seconds + (x1 - x0), padding=0)

    # -- regions --------------------------------------------------------------
    def set_segments(
        self,
        segments: tuple[Segment, ...],
        pii: Sequence[PiiSpan],
        rate: int,
        speakers: Sequence[str],
        selected: str | None = None,
    ) -> None:
        """Draw every segment (one painted layer); the selected one is an editable region."""
        self.segment_layer.set_segments(segments, pii, rate, speakers, hidden=selected)
        chosen = next((s for s in segments if s.id == selected), None) if selected else None
        spans = [(chosen.id, chosen.start / rate, chosen.end / rate)] if chosen else []
        self.set_regions(spans, selected)

    def set_regions(self, spans: list[tuple[str, float, float]], selected: str | None) -> None:
        """Editable ``(id, start s, end s)`` regions; the selected one is highlighted."""
        wanted = {region_id for region_id, _s, _e in spans}
        for region_id in list(self._region_items):
            if region_id not in wanted:
                self.removeItem(self._region_items.pop(region_id))
        for region_id, start, end in spans:
            item = self._region_items.get(region_id)
            if item is None:
                item = _SegmentRegion(values=(start, end), movable=True, swapMode="sort")
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

    def region_ids(self) -> list[str]:
        return sorted(self._region_items)

    def _on_region_dragged(self, region_id: str, item: pg.LinearRegionItem) -> None:
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
        self.visible_changed.emit(x0, x1)
        width = self.device_columns()
        start, end = max(0, int(x0 * self._rate)), int(np.ceil(x1 * self._rate))
        end = min(end, self._summaries[0].length)
        if end <= start:
            return
        if self._spectrogram:
            self._draw_spectra(start, end, width)
            return
        for trace in self._traces:
            trace.fill(0.0)
        self._traces = set_min_max_traces(
            self._curves, self._summaries, (start, end), width, self._rate
        )

    def _draw_spectra(self, start: int, end: int, width: int) -> None:
        for spectrum in self._spectra:
            spectrum.fill(0)
        self._spectra = []
        rect_x, rect_w = start / self._rate, (end - start) / self._rate
        for lane, (summary, image) in enumerate(zip(self._summaries, self._images, strict=True)):
            spectrum = spectrogram_columns(summary.decoded(), summary.ready, start, end, width)
            image.setImage(spectrum, autoLevels=False, levels=(0, 255))
            image.setRect(QRectF(rect_x, -lane * 2 - 1, rect_w, 2))
            self._spectra.append(spectrum)

    def _drop_draft(self) -> None:
        """Remove the rubber band of a region being drawn, if any."""
        if self._draft is not None:
            self.removeItem(self._draft)
            self._draft = None

    def _on_draw(self, start: float, end: float, finished: bool, shift: bool = False) -> None:
        """Track a region being drawn; on release, ask for it (if it has a length).

        With Shift the span is *marked* instead (it stays shown, red, until a PII key
        tags it or another span replaces it).
        """
        if self._draft is None and not finished:
            self.mark_span(None)
            self._draft = pg.LinearRegionItem(values=(start, end), movable=False)
            self._draft.setBrush(
                pg.mkBrush(220, 38, 38, 70) if shift else pg.mkBrush(250, 204, 21, 60)
            )
            self._draft.setZValue(6)
            self.addItem(self._draft)
        if self._draft is not None:
            self._draft.setRegion((start, end))
        if not finished:
            return
        duration = self._summaries[0].length / self._rate if self._summaries else 0.0
        start, end = max(0.0, start), min(end, duration)
        if shift and end > start:
            self._marked, self._draft = self._draft, None
            self.span_marked.emit(start, end)
            return
        self._drop_draft()
        if end > start:
            self.region_drawn.emit(start, end)

    def mark_span(self, span: tuple[float, float] | None) -> None:
        """Show (or, ``None``, remove) the span marked for a PII tag."""
        if self._marked is not None and span is None:
            self.removeItem(self._marked)
            self._marked = None
        elif span is not None and self._marked is not None:
            self._marked.setRegion(span)

    def _on_click(self, event: Any) -> None:
        if event.button() != Qt.MouseButton.LeftButton or not self._summaries:
            return
        point = self.getPlotItem().getViewBox().mapSceneToView(event.scenePos())
        self.seek_requested.emit(max(0.0, float(point.x())))
