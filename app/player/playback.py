"""Playback through one sounddevice output stream.

The stream opens when a segment is loaded and stays open (silence while
paused) so play starts without device start-up latency. The callback does only
slicing and copying of prepared int16 frames and a few integer updates: no
allocation, no locks held, no logging. Play, pause and seek are single-word
writes the callback reads at its next period.

PortAudio is loaded when the engine first opens a stream, so a machine with no
audio stack gets a clear :class:`AudioDeviceError`, not an import crash.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from app.player.decoded_audio import DecodedAudio

logger = logging.getLogger(__name__)


class AudioDeviceError(Exception):
    """No usable audio output (no PortAudio, no device, or the device went away)."""

    user_message = "No audio output is available. Check the headset or speakers."


class PlaybackState(enum.Enum):
    STOPPED = "stopped"
    PLAYING = "playing"
    PAUSED = "paused"
    FINISHED = "finished"


class OutputStream(Protocol):
    """The part of ``sounddevice.OutputStream`` the engine uses."""

    latency: float

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def close(self) -> None: ...


StreamFactory = Callable[..., OutputStream]


def sounddevice_stream(**kwargs: Any) -> OutputStream:
    """Open a real PortAudio output stream (the production factory)."""
    try:
        import sounddevice as sd  # noqa: PLC0415 - load PortAudio only when needed
    except OSError as exc:
        raise AudioDeviceError("PortAudio is not installed") from exc
    try:
        stream: OutputStream = sd.OutputStream(**kwargs)
    except (sd.PortAudioError, ValueError) as exc:
        raise AudioDeviceError(str(exc)) from exc
    return stream


class PlaybackEngine:
    """Plays one :class:`DecodedAudio` at a time."""

    def __init__(self, stream_factory: StreamFactory = sounddevice_stream) -> None:
        self._factory = stream_factory
        self._stream: OutputStream | None = None
        self._audio: DecodedAudio | None = None
        self._channels: list[np.ndarray[Any, np.dtype[np.int16]]] = []
        self._frames = 0
        self._position = 0
        self._playing = False
        self._finished = False
        self._seek_target = 0
        self._seek_gen = 0
        self._seek_applied = 0
        self.frames_delivered = 0
        self.underflows = 0
        self._lock = threading.Lock()

    # -- control (any thread but the callback) ------------------------------
    def load(self, audio: DecodedAudio) -> None:
        """Open a stream for ``audio`` (paused at 0). Raises :class:`AudioDeviceError`."""
        self.unload()
        stream = self._factory(
            samplerate=audio.sample_rate,
            channels=audio.channel_count,
            dtype="int16",
            latency="high",
            callback=self._callback,
        )
        with self._lock:
            self._audio = audio
            self._channels = list(audio.channels)
            self._frames = audio.frames
            self._position = 0
            self._seek_applied = self._seek_gen
            self._playing = False
            self._finished = False
            self.frames_delivered = 0
            self.underflows = 0
            self._stream = stream
        try:
            stream.start()
        except Exception as exc:
            self.unload()
            raise AudioDeviceError(type(exc).__name__) from exc

    def unload(self) -> None:
        """Stop and close the stream; forget the audio (the caller closes it)."""
        with self._lock:
            stream, self._stream = self._stream, None
            self._playing = False
            self._channels = []
            self._audio = None
            self._frames = 0
        if stream is not None:
            try:
                stream.stop()
            finally:
                stream.close()

    @property
    def loaded(self) -> bool:
        return self._stream is not None

    @property
    def state(self) -> PlaybackState:
        if self._stream is None:
            return PlaybackState.STOPPED
        if self._finished:
            return PlaybackState.FINISHED
        return PlaybackState.PLAYING if self._playing else PlaybackState.PAUSED

    @property
    def position_frames(self) -> int:
        """Frames handed to the device so far (a pending seek counts as done)."""
        if self._seek_gen != self._seek_applied:
            return self._seek_target
        return self._position

    @property
    def sample_rate(self) -> int:
        return self._audio.sample_rate if self._audio else 0

    @property
    def output_latency_s(self) -> float:
        return float(self._stream.latency) if self._stream is not None else 0.0

    def play(self) -> None:
        if self._stream is None:
            return
        if self._finished or self.position_frames >= self._frames:
            self.seek(0)
        self._finished = False
        self._playing = True

    def pause(self) -> None:
        self._playing = False

    def toggle(self) -> None:
        if self.state is PlaybackState.PLAYING:
            self.pause()
        else:
            self.play()

    def seek(self, frame: int) -> None:
        """Move the play position; the callback applies it at its next period.

        The target is written before the generation counter, and the callback
        reads the counter first, so a seek racing a callback is applied one
        period later instead of being lost.
        """
        self._seek_target = max(0, min(int(frame), self._frames))
        self._seek_gen += 1
        self._finished = False

    # -- audio thread ---------------------------------------------------------
    def _callback(self, outdata: Any, frames: int, _time: Any, status: Any) -> None:
        if status and getattr(status, "output_underflow", False):
            self.underflows += 1
        channels = self._channels
        gen = self._seek_gen
        if gen != self._seek_applied:
            self._position = self._seek_target
            self._seek_applied = gen
        pos = self._position
        if not self._playing or not channels:
            outdata.fill(0)
            return
        n = max(0, min(frames, self._frames - pos))
        for c, samples in enumerate(channels):
            outdata[:n, c] = samples[pos : pos + n]
        if n < frames:
            outdata[n:].fill(0)
            self._playing = False
            self._finished = True
        self._position = pos + n
        self.frames_delivered += n
