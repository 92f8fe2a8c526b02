"""Real mouse gestures for Qt tests: press, moves with the button held, release.

``QTest.mouseMove`` carries no pressed buttons, so a drag has to be built from
``QMouseEvent``s sent to the widget that receives them (a graphics view's
viewport). pyqtgraph drops move events closer than 10 ms apart, so the moves
are spaced out with the event loop running.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

NO_MODIFIER = Qt.KeyboardModifier.NoModifier


def _send(
    target: QWidget,
    kind: QEvent.Type,
    at: QPointF,
    button: Qt.MouseButton,
    buttons: Qt.MouseButton,
    modifiers: Qt.KeyboardModifier,
) -> None:
    event = QMouseEvent(kind, at, target.mapToGlobal(at), button, buttons, modifiers)
    QApplication.sendEvent(target, event)


def drag(
    qtbot: QtBot,
    target: QWidget,
    start: QPointF,
    end: QPointF,
    *,
    button: Qt.MouseButton = Qt.MouseButton.LeftButton,
    modifiers: Qt.KeyboardModifier = NO_MODIFIER,
    steps: int = 8,
) -> None:
    """Press at ``start``, move to ``end`` in ``steps`` moves, release there."""
    none = Qt.MouseButton.NoButton
    _send(target, QEvent.Type.MouseButtonPress, start, button, button, modifiers)
    for i in range(1, steps + 1):
        qtbot.wait(15)
        at = start + (end - start) * (i / steps)
        _send(target, QEvent.Type.MouseMove, at, none, button, modifiers)
    qtbot.wait(15)
    _send(target, QEvent.Type.MouseButtonRelease, end, button, none, modifiers)


def point_at(plot: pg.PlotWidget, x: float) -> QPointF:
    """The viewport pixel of data x-coordinate ``x``, half-way down the plot."""
    vb = plot.getPlotItem().getViewBox()
    (_x0, _x1), (y0, y1) = vb.viewRange()
    point = plot.mapFromScene(vb.mapViewToScene(QPointF(x, (y0 + y1) / 2)))
    return QPointF(point.x(), point.y())
