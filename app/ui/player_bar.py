"""Transport controls: play/pause, skips, speed, loop, volume, per-channel listen, time."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

from app.ui.time_format import format_time

CHANNEL_NAMES = ("Left", "Right")


class PlayerBar(QWidget):
    play_toggled = Signal()
    skip_requested = Signal(float)
    speed_step_requested = Signal(float)
    loop_toggled = Signal()
    volume_changed = Signal(float)
    channel_gains_changed = Signal(list)  # one gain per channel: 1.0 audible, 0.0 muted

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.back_button = QPushButton("« 2 s")
        self.play_button = QPushButton("Play")
        self.play_button.setObjectName("playButton")
        self.forward_button = QPushButton("2 s »")
        self.slower_button = QPushButton("-")
        self.speed_label = QLabel("1.0x")
        self.speed_label.setObjectName("speedLabel")
        self.faster_button = QPushButton("+")
        self.loop_button = QPushButton("Loop")
        self.loop_button.setCheckable(True)
        self.volume = QSlider(Qt.Orientation.Horizontal)
        self.volume.setRange(0, 200)
        self.volume.setValue(100)
        self.volume.setMinimumWidth(90)
        self.volume.setMaximumWidth(140)
        self.volume.setToolTip("Volume")
        self.channel_buttons = [QPushButton(name) for name in CHANNEL_NAMES]
        for button in self.channel_buttons:
            button.setCheckable(True)
            button.setChecked(True)
            button.setToolTip("Listen to this channel (uncheck to mute)")
            button.hide()
        self.time_label = QLabel(format_time(0.0))
        self.time_label.setObjectName("timeLabel")
        for widget in (
            self.back_button, self.play_button, self.forward_button, self.slower_button,
            self.speed_label, self.faster_button, self.loop_button, self.volume,
            *self.channel_buttons,
        ):  # fmt: skip
            layout.addWidget(widget)
        layout.addStretch(1)
        layout.addWidget(self.time_label)
        self.play_button.clicked.connect(self.play_toggled.emit)
        self.back_button.clicked.connect(lambda: self.skip_requested.emit(-2.0))
        self.forward_button.clicked.connect(lambda: self.skip_requested.emit(2.0))
        self.slower_button.clicked.connect(lambda: self.speed_step_requested.emit(-0.1))
        self.faster_button.clicked.connect(lambda: self.speed_step_requested.emit(0.1))
        self.loop_button.clicked.connect(self.loop_toggled.emit)
        self.volume.valueChanged.connect(lambda v: self.volume_changed.emit(v / 100))
        for button in self.channel_buttons:
            button.toggled.connect(self._channels_toggled)
        self._duration = 0.0
        self.set_enabled(False)
        self._reserve_room()

    def _reserve_room(self) -> None:
        """Take, from the start, the room the bar needs at its widest.

        The clock of a two-hour call and the channel buttons of a stereo call made
        the bar wider when they appeared, and the window's splitter then squeezed
        the task list: room reserved up front keeps the layout where it is.
        """
        metrics = self.time_label.fontMetrics()
        self.time_label.setMinimumWidth(metrics.horizontalAdvance("00:00:00.00 / 00:00:00.00"))
        for button in self.findChildren(QPushButton):
            # Styles give text buttons an 80-px minimum; these short labels need far less.
            widest = max(button.text(), "Pause" if button is self.play_button else "", key=len)
            button.setMinimumWidth(button.fontMetrics().horizontalAdvance(widest) + 24)
        self.time_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        for button in self.channel_buttons:
            button.show()
        self.setMinimumWidth(self.minimumSizeHint().width())
        for button in self.channel_buttons:
            button.hide()

    def set_tooltips(self, keys: dict[str, str]) -> None:
        """Show each button's current shortcut in its tooltip."""
        for widget, title, action in (
            (self.back_button, "Back 2 seconds", "skip_back"),
            (self.play_button, "Play or pause", "play_pause"),
            (self.forward_button, "Forward 2 seconds", "skip_forward"),
            (self.slower_button, "Slower", "speed_down"),
            (self.faster_button, "Faster", "speed_up"),
            (self.loop_button, "Loop the selected region", "loop"),
        ):
            widget.setToolTip(f"{title} ({keys.get(action, '')})")

    def set_enabled(self, enabled: bool) -> None:
        for w in (
            self.back_button, self.play_button, self.forward_button, self.slower_button,
            self.faster_button, self.loop_button, self.volume, *self.channel_buttons,
        ):  # fmt: skip
            w.setEnabled(enabled)

    def set_channels(self, count: int) -> None:
        """Per-channel listen buttons for stereo calls (agent / customer)."""
        for i, button in enumerate(self.channel_buttons):
            button.blockSignals(True)
            button.setChecked(True)
            button.blockSignals(False)
            button.setVisible(count == 2 and i < count)

    def _channels_toggled(self) -> None:
        gains = [1.0 if b.isChecked() else 0.0 for b in self.channel_buttons]
        self.channel_gains_changed.emit(gains)

    def set_duration(self, seconds: float) -> None:
        self._duration = seconds
        self.show_state("paused", 0.0)

    def show_state(self, state: str, position: float) -> None:
        self.play_button.setText("Pause" if state == "playing" else "Play")
        self.time_label.setText(f"{format_time(position)} / {format_time(self._duration)}")

    def show_settings(self, speed: float, volume: float, looping: bool) -> None:
        self.speed_label.setText(f"{speed:.1f}x")
        self.loop_button.setChecked(looping)
        self.volume.blockSignals(True)
        self.volume.setValue(round(volume * 100))
        self.volume.blockSignals(False)
