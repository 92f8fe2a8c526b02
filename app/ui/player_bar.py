"""Transport controls: play/pause, skips and the time readout."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget


def format_time(seconds: float) -> str:
    seconds = max(0.0, seconds)
    minutes, secs = divmod(seconds, 60.0)
    return f"{int(minutes):02d}:{secs:05.2f}"


class PlayerBar(QWidget):
    play_toggled = Signal()
    skip_requested = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.back_button = QPushButton("« 2 s")
        self.play_button = QPushButton("Play")
        self.play_button.setObjectName("playButton")
        self.forward_button = QPushButton("2 s »")
        self.time_label = QLabel(format_time(0.0))
        self.time_label.setObjectName("timeLabel")
        self.back_button.setToolTip("Back 2 seconds (Alt+Left)")
        self.play_button.setToolTip("Play or pause (Ctrl+Space)")
        self.forward_button.setToolTip("Forward 2 seconds (Alt+Right)")
        for w in (self.back_button, self.play_button, self.forward_button):
            layout.addWidget(w)
        layout.addStretch(1)
        layout.addWidget(self.time_label)
        self.play_button.clicked.connect(self.play_toggled.emit)
        self.back_button.clicked.connect(lambda: self.skip_requested.emit(-2.0))
        self.forward_button.clicked.connect(lambda: self.skip_requested.emit(2.0))
        self._duration = 0.0
        self.set_enabled(False)

    def set_enabled(self, enabled: bool) -> None:
        for w in (self.back_button, self.play_button, self.forward_button):
            w.setEnabled(enabled)

    def set_duration(self, seconds: float) -> None:
        self._duration = seconds
        self.show_state("paused", 0.0)

    def show_state(self, state: str, position: float) -> None:
        self.play_button.setText("Pause" if state == "playing" else "Play")
        self.time_label.setText(f"{format_time(position)} / {format_time(self._duration)}")
