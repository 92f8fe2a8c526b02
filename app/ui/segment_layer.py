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

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter

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
PII_COLOUR = (220, 38, 38)


def speaker_colour(speakers: Sequence[str], speaker: str | None) -> tuple[int, int, int]:
    if speaker is None or speaker not in speakers:
        return NO_SPEAKER
    return SPEAKER_COLOURS[speakers.index(speaker) % len(SPEAKER_COLOURS)]


class SegmentLayer(pg.GraphicsObject):  # type: ignore[misc]
    """Non-interactive segment bands for a plot whose lane ``i`` spans y in [-2i-1, -2i+1]."""

    def __init__(self, lanes: int = 1, alpha: int = 60) -> None:
        super().__init__()
        self._lanes = max(1, lanes)
        self._alpha = alpha
        self._rate = 1.0
        self._segments: tuple[Segment, ...] = ()
        self._starts: list[int] = []
        self._reach: list[int] = []  # running maximum of ends, for segments begun off screen
        self._brushes: list[QBrush] = []
        self._pii: list[PiiSpan] = []
        self._hidden: str | None = None
        self._duration = 0.0
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
        self._segments = segments
        self._rate = float(max(1, rate))
        self._starts = [s.start for s in segments]
        reach, top = [], 0
        for s in segments:
            top = max(top, s.end)
            reach.append(top)
        self._reach = reach
        self._brushes = [
            QBrush(QColor(*speaker_colour(speakers, s.speaker), self._alpha)) for s in segments
        ]
        self._pii = list(pii)
        self._hidden = hidden
        self._duration = (reach[-1] / self._rate) if reach else 0.0
        self.update()

    def set_lanes(self, lanes: int) -> None:
        self.prepareGeometryChange()
        self._lanes = max(1, lanes)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        return QRectF(0.0, -2 * self._lanes + 1, max(self._duration, 1e-3), 2 * self._lanes)

    def visible_indices(self, x0: float, x1: float) -> range:
        """Indices of segments that may overlap [x0, x1] seconds."""
        lo = bisect.bisect_right(self._reach, int(x0 * self._rate))
        hi = bisect.bisect_right(self._starts, int(x1 * self._rate) + 1)
        return range(lo, max(lo, hi))

    def _lane_rect(self, channel: int | None, start: float, end: float) -> QRectF:
        if channel is None or channel >= self._lanes:
            return QRectF(start, -2 * self._lanes + 1, end - start, 2 * self._lanes)
        return QRectF(start, -2 * channel - 1, end - start, 2)

    def paint(self, painter: QPainter, *_args: Any) -> None:
        view = self.getViewBox()
        if view is None or not self._segments:
            return
        (x0, x1), _y = view.viewRange()
        rate = self._rate
        painter.setPen(Qt.PenStyle.NoPen)
        for i in self.visible_indices(x0, x1):
            seg = self._segments[i]
            if seg.end / rate < x0 or seg.id == self._hidden:
                continue
            painter.setBrush(self._brushes[i])
            painter.drawRect(self._lane_rect(seg.channel, seg.start / rate, seg.end / rate))
        if self._pii:
            painter.setBrush(QBrush(QColor(*PII_COLOUR, 170)))
            for span in self._pii:
                start, end = span.start / rate, span.end / rate
                if end < x0 or start > x1:
                    continue
                lane = -2 * self._lanes + 1  # the foot of the lowest lane
                painter.drawRect(QRectF(start, lane, end - start, 0.12))
