"""Every segment of a call drawn by one graphics item, coloured by speaker.

One ``LinearRegionItem`` per segment costs two lines, a hover handler and a
scene item each: thousands of them make opening a 2-hour call and every
redraw slow. This item paints only what is on screen (found by binary
search over starts, with a running maximum of ends so long segments that
began off screen are not missed) and is not interactive; the one selected
segment is the editable region item in the view. Each segment sits in its
channel's lane (or spans every lane); PII spans are a red bar at the lane's
foot.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRect, QRectF
from PySide6.QtGui import QBrush, QColor, QPainter, QTransform

from app.domain.label_document import PiiSpan, Segment

#: Speaker colours in schema order; a segment without a speaker is amber.
SPEAKER_COLOURS = (
    (59, 130, 246),
    (16, 185, 129),
    (168, 85, 247),
    (249, 115, 22),
    (236, 72, 153),
    (20, 184, 166),
)
NO_SPEAKER = (250, 204, 21)
#: Boundary lines are drawn only while they are at least this far apart on average.
EDGE_SPACING_PX = 4
PII_COLOUR = (220, 38, 38)
#: Audio the project requires to be heard and that was not heard yet.
UNHEARD_COLOUR = (234, 88, 12)


def speaker_colour(speakers: Sequence[str], speaker: str | None) -> tuple[int, int, int]:
    if speaker is None or speaker not in speakers:
        return NO_SPEAKER
    return SPEAKER_COLOURS[speakers.index(speaker) % len(SPEAKER_COLOURS)]


def _runs(x0: np.ndarray[Any, Any], x1: np.ndarray[Any, Any]) -> list[tuple[int, int]]:
    """Merge pixel spans (sorted by start) that touch or overlap into runs."""
    if not len(x0):
        return []
    reach = np.maximum.accumulate(x1)
    breaks = np.flatnonzero(x0[1:] > reach[:-1]) + 1
    firsts = np.concatenate(([0], breaks))
    lasts = np.concatenate((breaks - 1, [len(x0) - 1]))
    return list(zip(x0[firsts].tolist(), reach[lasts].tolist(), strict=True))


class SegmentLayer(pg.GraphicsObject):  # type: ignore[misc]
    """Non-interactive segment bands for a plot whose lane ``i`` spans y in [-2i-1, -2i+1].

    Painted in device pixels: the visible segments' spans are mapped to whole pixel
    columns with numpy and merged per lane and colour, so a zoomed-out 2-hour call with
    thousands of segments costs a few hundred opaque integer rectangles (a transformed,
    translucent ``drawRect`` per segment cost ~70 µs each).
    """

    def __init__(self, lanes: int = 1) -> None:
        super().__init__()
        self._lanes = max(1, lanes)
        self._rate = 1.0
        self._ids: tuple[str, ...] = ()
        self._starts: list[int] = []
        self._reach: list[int] = []  # running maximum of ends, for segments begun off screen
        self._start_s = np.zeros(0)
        self._end_s = np.zeros(0)
        self._lane = np.zeros(0, dtype=np.int64)  # channel, or -1: every lane
        self._colour = np.zeros(0, dtype=np.int64)
        self._brushes: list[QBrush] = []
        self._pii = np.zeros((0, 2))
        self._hidden_index: int | None = None
        self._duration = 0.0
        self._unheard = np.zeros((0, 2))
        self.setZValue(4)

    def set_segments(
        self,
        segments: tuple[Segment, ...],
        pii: Sequence[PiiSpan],
        rate: int,
        speakers: Sequence[str],
        hidden: str | None = None,
    ) -> None:
        """Show ``segments`` (start order); ``hidden`` is drawn by the view's editable item."""
        self.prepareGeometryChange()
        self._rate = float(max(1, rate))
        self._ids = tuple(s.id for s in segments)
        self._starts = [s.start for s in segments]
        reach, top = [], 0
        for s in segments:
            top = max(top, s.end)
            reach.append(top)
        self._reach = reach
        self._start_s = np.array(self._starts, dtype=np.float64) / self._rate
        self._end_s = np.array([s.end for s in segments], dtype=np.float64) / self._rate
        self._lane = np.array(
            [-1 if s.channel is None else s.channel for s in segments], dtype=np.int64
        )
        palette = [*speakers, None]
        self._colour = np.array(
            [
                palette.index(s.speaker) if s.speaker in speakers else len(speakers)
                for s in segments
            ],
            dtype=np.int64,
        )
        # Opaque: translucent fills cost ~30 ns a pixel in Qt's raster engine here (25x an
        # opaque fill), so a segment is a bar along its lane's top and two boundary lines.
        self._brushes = [QBrush(QColor(*speaker_colour(speakers, name))) for name in palette]
        self._pii = np.array([(p.start, p.end) for p in pii], dtype=np.float64).reshape(-1, 2)
        self._pii /= self._rate
        self._hidden_index = self._ids.index(hidden) if hidden in self._ids else None
        self._duration = (reach[-1] / self._rate) if reach else 0.0
        self.update()

    def set_unheard(self, spans_s: Sequence[tuple[float, float]]) -> None:
        """Spans (seconds) still to be heard: an orange band under the top lane's bars."""
        self.prepareGeometryChange()
        self._unheard = np.array(sorted(spans_s), dtype=np.float64).reshape(-1, 2)
        self.update()

    def set_lanes(self, lanes: int) -> None:
        self.prepareGeometryChange()
        self._lanes = max(1, lanes)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        right = max(self._duration, float(self._unheard[:, 1].max()) if len(self._unheard) else 0)
        return QRectF(0.0, -2 * self._lanes + 1, max(right, 1e-3), 2 * self._lanes)

    def visible_indices(self, x0: float, x1: float) -> range:
        """Indices of segments that may overlap [x0, x1] seconds."""
        lo = bisect.bisect_right(self._reach, int(x0 * self._rate))
        hi = bisect.bisect_right(self._starts, int(x1 * self._rate) + 1)
        return range(lo, max(lo, hi))

    def _lane_pixels(self, t: QTransform, lane: int) -> tuple[int, int]:
        """Device rows of ``lane`` (-1: all lanes), top and height."""
        top, bottom = (1.0, -2 * self._lanes + 1) if lane < 0 else (-2 * lane + 1, -2 * lane - 1)
        y0, y1 = sorted((top * t.m22() + t.dy(), bottom * t.m22() + t.dy()))
        return round(y0), max(1, round(y1) - round(y0))

    def paint(self, painter: QPainter, *_args: Any) -> None:
        view = self.getViewBox()
        if view is None:
            return
        t = painter.transform()
        if len(self._unheard):
            painter.save()
            painter.resetTransform()
            self._paint_unheard(painter, t)
            painter.restore()
        (x0, x1), _y = view.viewRange()
        visible = self.visible_indices(x0, x1)
        if not len(self._ids) or not len(visible):
            return
        sel = np.arange(visible.start, visible.stop)
        if self._hidden_index is not None:
            sel = sel[sel != self._hidden_index]
        px0 = np.floor(self._start_s[sel] * t.m11() + t.dx()).astype(np.int64)
        px1 = np.maximum(px0 + 1, np.ceil(self._end_s[sel] * t.m11() + t.dx()).astype(np.int64))
        width = max(1, round((x1 - x0) * t.m11()))
        painter.save()
        painter.resetTransform()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)  # whole pixels only
        lanes, colours = self._lane[sel], self._colour[sel]
        for lane in np.unique(lanes).tolist():
            y, height = self._lane_pixels(t, lane)
            in_lane = lanes == lane
            for colour in np.unique(colours[in_lane]).tolist():
                group = in_lane & (colours == colour)
                self._paint_group(painter, self._brushes[colour], px0[group], px1[group],
                                  (y, height), width)  # fmt: skip
        self._paint_pii(painter, t)
        painter.restore()

    @staticmethod
    def _paint_group(
        painter: QPainter,
        brush: QBrush,
        px0: np.ndarray[Any, Any],
        px1: np.ndarray[Any, Any],
        rows: tuple[int, int],
        width: int,
    ) -> None:
        """One speaker's segments in one lane: a bar along the top, a line at each boundary."""
        y, height = rows
        bar = max(3, min(8, height // 12))
        for a, b in _runs(px0, px1):
            painter.fillRect(QRect(a, y, b - a, bar), brush)
        edges = np.unique(np.concatenate((px0, px1 - 1)))
        if len(edges) * EDGE_SPACING_PX > width:
            return  # zoomed far out: the lines would fill the lane; the bars show it
        for x in edges.tolist():
            painter.fillRect(QRect(x, y, 1, height), brush)

    def _paint_unheard(self, painter: QPainter, t: QTransform) -> None:
        orange = QBrush(QColor(*UNHEARD_COLOUR))
        p0 = np.floor(self._unheard[:, 0] * t.m11() + t.dx()).astype(np.int64)
        p1 = np.maximum(p0 + 1, np.ceil(self._unheard[:, 1] * t.m11() + t.dx()).astype(np.int64))
        y, height = self._lane_pixels(t, -1)
        band = max(3, min(6, height // 16))
        top = y + max(3, min(8, height // 12)) + 1  # just under the segment bars
        for a, b in _runs(p0, p1):
            painter.fillRect(QRect(a, top, b - a, band), orange)

    def _paint_pii(self, painter: QPainter, t: QTransform) -> None:
        """Personal data: a red bar along the foot of the lowest lane."""
        if not len(self._pii):
            return
        red = QBrush(QColor(*PII_COLOUR))
        spans = self._pii[np.argsort(self._pii[:, 0])]
        p0 = np.floor(spans[:, 0] * t.m11() + t.dx()).astype(np.int64)
        p1 = np.maximum(p0 + 1, np.ceil(spans[:, 1] * t.m11() + t.dx()).astype(np.int64))
        y, height = self._lane_pixels(t, -1)
        foot = max(2, height // 16)
        for a, b in _runs(p0, p1):
            painter.fillRect(QRect(a, y + height - foot, b - a, foot), red)
