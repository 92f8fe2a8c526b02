"""A tiled watermark over sensitive views: who is looking, in which session, when.

Capture that cannot be blocked (a phone camera, Linux screenshots) still
carries the annotator's id, the session id the server recorded at sign-in and
the time, so a leaked picture leads back to an audit record. The overlay is
transparent to the mouse and keyboard and repaints its clock every 30 s.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QEvent, QObject, QPointF, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

WATERMARK_COLOUR = QColor(128, 128, 128)
_ANGLE = -24.0
_REFRESH_MS = 30_000
#: The least opacity a data class's watermark strength asks for (server.data_classes).
_STRENGTH_FLOOR = {"light": 0.0, "standard": 0.14, "strong": 0.3}


class Watermark(QWidget):
    """Covers its parent completely; call :meth:`set_identity` after sign-in."""

    def __init__(self, parent: QWidget, opacity_percent: int) -> None:
        super().__init__(parent)
        self.setObjectName("watermark")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.opacity = max(0, min(100, opacity_percent)) / 100
        self._policy_opacity = self.opacity
        self.identity = ""
        self._font = QFont()
        self._font.setPointSize(13)
        self._font.setBold(True)
        parent.installEventFilter(self)
        self._clock = QTimer(self)
        self._clock.timeout.connect(self.update)
        self._clock.start(_REFRESH_MS)
        self.setGeometry(parent.rect())
        self.raise_()

    def set_strength(self, strength: str) -> None:
        """Raise the opacity to what the open recording's data class asks (never lower
        than the policy's own ``watermark_opacity``)."""
        self.opacity = max(self._policy_opacity, _STRENGTH_FLOOR.get(strength, 0.0))
        self.update()

    def set_identity(self, user: str, session: str) -> None:
        self.identity = f"{user} · session {session}"
        self.update()

    def text(self) -> str:
        return f"{self.identity} · {time.strftime('%Y-%m-%d %H:%M')}" if self.identity else ""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        """Follow the parent's size, and stay above children added after us."""
        if event.type() in (QEvent.Type.Resize, QEvent.Type.ChildAdded, QEvent.Type.Show):
            parent = self.parentWidget()
            if parent is not None:
                self.setGeometry(parent.rect())
            self.raise_()
        return False

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        text = self.text()
        if not text or self.opacity <= 0:
            return
        painter = QPainter(self)
        colour = QColor(WATERMARK_COLOUR)
        colour.setAlphaF(self.opacity)
        painter.setPen(colour)
        painter.setFont(self._font)
        metrics = QFontMetrics(self._font)
        step_x = metrics.horizontalAdvance(text) + 80
        step_y = metrics.height() * 5
        painter.translate(self.width() / 2, self.height() / 2)
        painter.rotate(_ANGLE)
        reach = int((self.width() ** 2 + self.height() ** 2) ** 0.5 / 2) + step_x
        for row, y in enumerate(range(-reach, reach, step_y)):
            offset = (step_x // 2) * (row % 2)
            for x in range(-reach - offset, reach, step_x):
                painter.drawText(QPointF(x, y), text)
        painter.end()
