"""The curtain: an opaque cover over every sensitive view while Cordon is not in front.

Opaque, not blurred (small blurred text can be recovered). Shown when the
application loses focus, is minimized, or the session locks the screen (which
takes focus away); lifted when focus returns. The controller pauses audio and
records both transitions.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

CURTAIN_COLOUR = QColor("#1f2937")


class Curtain(QWidget):
    """Covers ``parent`` completely when shown; hidden by default."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("curtain")
        self.setAutoFillBackground(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        layout = QVBoxLayout(self)
        message = QLabel("Cordon is hidden while it is not the active window.")
        message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        message.setStyleSheet("color: #9ca3af; font-size: 16px;")
        layout.addWidget(message)
        parent.installEventFilter(self)
        self.hide()

    def cover(self) -> None:
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect())
        self.raise_()
        self.show()
        self.repaint()  # paint now: a screenshot may come before the next event loop turn

    def lift(self) -> None:
        self.hide()

    @property
    def covering(self) -> bool:
        return self.isVisible()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Resize and self.isVisible():
            parent = self.parentWidget()
            if parent is not None:
                self.setGeometry(parent.rect())
        return False

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.fillRect(self.rect(), CURTAIN_COLOUR)
        painter.end()
