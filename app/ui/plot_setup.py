"""Common set-up for Cordon's pyqtgraph plots: no menus, no export, no buttons.

pyqtgraph offers "Export…" (images, CSV of the plotted samples) from its context
menus, which would write audio-derived data to disk. Every plot that shows
audio goes through :func:`lock_down_plot`, so no view can forget it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6.QtCore import Qt

from app.player.waveform_summary import WaveformSummary

BACKGROUND = "#111827"
CHANNEL_COLOURS = ("#3b82f6", "#f97316", "#22c55e", "#a855f7")


def lock_down_plot(widget: pg.PlotWidget) -> pg.PlotItem:
    """Remove menus, export and auto-range buttons; return the plot item."""
    item = widget.getPlotItem()
    item.hideButtons()
    item.setMenuEnabled(False)
    widget.scene().contextMenu = []
    widget.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
    return item


def channel_pen(lane: int) -> object:
    """The pen for channel ``lane`` (the same colour in every view)."""
    return pg.mkPen(CHANNEL_COLOURS[lane % len(CHANNEL_COLOURS)])


def set_min_max_traces(
    curves: list[pg.PlotCurveItem],
    summaries: list[WaveformSummary],
    span: tuple[int, int],
    width: int,
    rate: int,
) -> list[npt.NDArray[np.float64]]:
    """Draw each channel's min/max over samples ``span`` as ``width`` columns, one lane each.

    Lane ``i`` sits at ``-2 i`` (±1 full scale). Returns the arrays handed to the
    curves: they are audio-derived, and the caller zeroes them when it draws
    again or closes (pyqtgraph keeps a reference, not a copy).
    """
    start, end = span
    xs = np.repeat(np.linspace(start, end, width, endpoint=False) / rate, 2)
    traces = []
    for lane, (summary, curve) in enumerate(zip(summaries, curves, strict=True)):
        lo, hi = summary.columns(start, end, width)
        ys = np.empty(width * 2, dtype=np.float64)
        ys[0::2] = lo / 32768.0
        ys[1::2] = hi / 32768.0
        ys -= lane * 2
        lo.fill(0)
        hi.fill(0)
        traces.append(ys)
        curve.setData(xs, ys)
    return traces
