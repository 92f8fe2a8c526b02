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
from PySide6.QtGui import QFontMetrics

from app.player.waveform_summary import WaveformSummary
from app.ui.time_format import clock_label

BACKGROUND = "#111827"
CHANNEL_COLOURS = ("#3b82f6", "#f97316", "#22c55e", "#a855f7")


class AudioPlot(pg.PlotWidget):  # type: ignore[misc]
    """A plot of audio-derived data: :meth:`clear_audio` zeroes it, :meth:`dispose` ends it."""

    def device_columns(self) -> int:
        """Pixel columns as the screen has them (at 150 % scaling, 1.5 per logical pixel).

        One min/max segment per *device* column: one per logical pixel drew a comb of
        1-px bars with gaps between them at scale factors 1.25, 1.5 and 2.
        """
        return max(64, round(float(self.width()) * float(self.devicePixelRatioF())))

    def clear_audio(self) -> None:
        raise NotImplementedError

    def dispose(self) -> None:
        """Zero the data and tear the plot down (once; the view is unusable afterwards).

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


def lock_down_plot(widget: pg.PlotWidget) -> pg.PlotItem:
    """Remove menus, export and auto-range buttons; return the plot item."""
    item = widget.getPlotItem()
    item.hideButtons()
    item.setMenuEnabled(False)
    widget.scene().contextMenu = []
    widget.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
    return item


class TimeAxis(pg.AxisItem):  # type: ignore[misc]
    """A time ruler in ``m:ss`` / ``h:mm:ss`` (with fractions when zoomed in), not "ks" or "ms".

    pyqtgraph's default axis scales seconds with SI prefixes, which reads "7 ks"
    for a two-hour call; transcribers read clock time.
    """

    def __init__(self) -> None:
        super().__init__(orientation="bottom")
        self.enableAutoSIPrefix(False)
        # A fixed height: pyqtgraph sizes an axis by the labels it last drew, so the
        # plot would jump when the empty view (no labels) gets a task.
        self.setHeight(QFontMetrics(self.font()).height() + 8)

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        return [clock_label(v, spacing) for v in values]

    def tickSpacing(  # noqa: N802 - pyqtgraph's name; it passes the values positionally
        self, min_value: float, max_value: float, size: float
    ) -> list[tuple[float, float]]:
        return clock_tick_spacing(abs(max_value - min_value), size)


class FrequencyAxis(pg.AxisItem):  # type: ignore[misc]
    """The spectrogram's frequency ruler: a few round frequencies in every channel's lane.

    Lane ``i`` spans y from ``-2i - 1`` (0 Hz) to ``-2i + 1`` (Nyquist), as the
    spectrogram images are placed. With no spectrogram shown it draws nothing but
    keeps its width, so the plot does not jump when it is switched on.
    """

    WIDTH = 40

    def __init__(self) -> None:
        super().__init__(orientation="left")
        self.enableAutoSIPrefix(False)
        self.setWidth(self.WIDTH)
        self._nyquist = 0.0
        self._lanes = 0
        self._line_pen = self.pen()
        self.setPen(pg.mkPen(None))

    def show_frequencies(self, nyquist: float, lanes: int) -> None:
        """Label ``lanes`` lanes from 0 to ``nyquist`` Hz (``lanes`` 0: draw nothing)."""
        self._nyquist, self._lanes = nyquist, lanes
        self.setPen(self._line_pen if lanes else pg.mkPen(None))  # no bare line either
        self.picture = None  # pyqtgraph caches the drawn ticks
        self.update()

    def tickValues(  # noqa: N802 - pyqtgraph's name
        self, min_value: float, max_value: float, size: float
    ) -> list[tuple[float, list[float]]]:
        if self._lanes == 0 or self._nyquist <= 0:
            return []
        step = frequency_step(self._nyquist)
        inside = [step * k for k in range(1, int(self._nyquist // step) + 1)]
        inside = [f for f in inside if f < self._nyquist]
        ys = [-2 * lane - 1 + 2 * f / self._nyquist for lane in range(self._lanes) for f in inside]
        return [(step, [y for y in ys if min_value <= y <= max_value])]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        labels = []
        for y in values:
            lane = int((1 - y) // 2)
            hertz = (y + 2 * lane + 1) / 2 * self._nyquist
            labels.append(hertz_label(hertz))
        return labels


def frequency_step(nyquist: float) -> float:
    """A round step that puts two to four labels in a lane from 0 Hz to ``nyquist``."""
    for step in (250.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0):
        if nyquist / step <= 4:
            return step
    return 20000.0


def hertz_label(hertz: float) -> str:
    """``500``, ``1k``, ``2.5k``: short enough for a narrow ruler."""
    rounded = round(hertz)
    if rounded < 1000:
        return str(rounded)
    return f"{rounded / 1000:g}k"


#: Tick intervals a clock reads as round: decimal steps below a second, then seconds,
#: minutes and hours in the steps a transcriber counts in (never "every 1000 s").
CLOCK_STEPS: tuple[float, ...] = (
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5,
    1, 2, 5, 10, 15, 30,
    60, 120, 300, 600, 900, 1800,
    3600, 7200, 10800, 21600, 43200, 86400,
)  # fmt: skip
#: Pixels a major tick needs at least (room for "1:59:59.5").
MAJOR_TICK_PX = 90.0
MINOR_TICK_PX = 8.0


def clock_tick_spacing(span_s: float, size_px: float) -> list[tuple[float, float]]:
    """Major and minor tick intervals for ``span_s`` seconds over ``size_px`` pixels.

    The major interval is the smallest clock step that leaves :data:`MAJOR_TICK_PX`
    per tick; the minor one the largest smaller step that divides it evenly and
    leaves :data:`MINOR_TICK_PX`. Offsets are 0: ticks fall on multiples of the step.
    """
    if span_s <= 0 or size_px <= 0:
        return []
    per_px = span_s / size_px
    major = next((step for step in CLOCK_STEPS if step / per_px >= MAJOR_TICK_PX), CLOCK_STEPS[-1])
    levels = [(float(major), 0.0)]
    for step in reversed(CLOCK_STEPS):
        ratio = major / step
        if step < major and abs(ratio - round(ratio)) < 1e-9 and step / per_px >= MINOR_TICK_PX:
            levels.append((float(step), 0.0))
            break
    return levels


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
