"""Playback for the controller: play, seek, speed, loop, volume, channels — each recorded.

A mixin like the other ``*_ops`` modules. Every change that affects what is heard is an
access event with the playhead position (speed and loop ranges in its reason), which is
also the trace listen coverage is counted from (:mod:`app.domain.coverage`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from app.domain.coverage import loop_reason, speed_reason
from app.player.playback import AudioDeviceError, PlaybackEngine, PlaybackState
from app.services.listening import ListenTracker
from app.services.segments import OpenedSegment
from app.wire.schemas import AccessAction, Outcome

#: While playing, the unheard spans are recomputed this often.
UNHEARD_EVERY_S = 0.5


class PlaybackOps:
    # Provided by Controller.
    _engine: PlaybackEngine
    _opened: OpenedSegment | None
    _listening: ListenTracker
    _last_state: tuple[str, float]
    _channel_gains: list[float]
    playback_changed: Any
    player_settings_changed: Any
    segment_failed: Any

    def record(
        self, action: AccessAction, outcome: Outcome = Outcome.OK, reason: str | None = None
    ) -> None:
        raise NotImplementedError

    def pause(self) -> None:
        raise NotImplementedError

    # ListeningOps and ContextOps (declared only: a stub would shadow them in the MRO).
    _emit_unheard: Callable[[], None]
    in_context: bool
    toggle_context_playback: Callable[[], None]
    #: When the unheard spans were last recomputed while playing.
    _unheard_at = 0.0

    @property
    def audio_loaded(self) -> bool:
        """The open task's audio is in the output engine (``False`` if the device failed)."""
        return self._engine.loaded

    def toggle_playback(self) -> None:
        if self.in_context:  # the context around the window plays in its place
            self.toggle_context_playback()
            return
        if not self._engine.loaded:
            return
        if self._engine.state is PlaybackState.PLAYING:
            self.pause()
        else:
            self._engine.play()
            self.record(AccessAction.PLAYBACK_STARTED)
        self._poll_playback()

    def seek_seconds(self, seconds: float) -> None:
        if not self._engine.loaded or self.in_context:
            return
        self._engine.seek(int(max(0.0, seconds) * self._engine.sample_rate))
        self.record(AccessAction.PLAYBACK_SEEKED)
        self._poll_playback()

    def skip_seconds(self, delta: float) -> None:
        rate = self._engine.sample_rate
        if rate:
            self.seek_seconds(self._engine.position_frames / rate + delta)

    def _poll_playback(self) -> None:
        if self.in_context:
            return  # the waveform stays on the window; the context is heard, not shown
        if self._listening.playing and self._engine.state is not PlaybackState.PLAYING:
            self.record(AccessAction.PLAYBACK_PAUSED, reason="ended")  # it played to the end
        elif self._listening.playing and time.monotonic() - self._unheard_at > UNHEARD_EVERY_S:
            self._unheard_at = time.monotonic()
            self._emit_unheard()  # the orange band shrinks as it is heard
        rate = self._engine.sample_rate
        state = (self._engine.state.value, self._engine.position_frames / rate if rate else 0.0)
        if state != self._last_state:
            self._last_state = state
            self.playback_changed.emit(*state)
        if self._engine.device_error is not None and self._opened is not None:
            # The engine reopens the device at the next load; keep the segment and
            # its regions (they stay editable), stop trying to play into a dead stream.
            self.record(AccessAction.AUDIO_DEVICE_FAILED, Outcome.FAILED, "device_lost")
            self._engine.unload()
            self.segment_failed.emit(AudioDeviceError.user_message)

    def change_speed(self, delta: float) -> None:
        self.set_speed(round(self._engine.speed + delta, 2))

    def set_speed(self, speed: float) -> None:
        self._engine.set_speed(speed)
        self.record(AccessAction.PLAYBACK_SPEED, reason=speed_reason(self._engine.speed))
        self._emit_player_settings()

    def _set_loop(self, start: int | None, end: int | None) -> None:
        """Loop ``[start, end)`` frames (``None``: stop looping); the trace says so."""
        self._engine.set_loop(start, end)
        rate = self._engine.sample_rate or 1
        span = None if start is None or end is None else (start * 1000 // rate, end * 1000 // rate)
        self.record(AccessAction.PLAYBACK_LOOP, reason=loop_reason(span))

    def set_volume(self, volume: float) -> None:
        self._engine.set_volume(volume)
        self._emit_player_settings()

    def set_channel_gains(self, gains: list[float]) -> None:
        self._channel_gains = list(gains)
        self._engine.set_channel_gains(gains)

    def _emit_player_settings(self) -> None:
        looping = self._engine.loop is not None
        self.player_settings_changed.emit(self._engine.speed, self._engine.volume, looping)
