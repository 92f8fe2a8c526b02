"""The playback engine: one warm output stream, a producer thread, a copy-only callback.

- One sounddevice stream at 48 kHz stereo float32, opened at the first load and
  kept open (silence when idle) until :meth:`PlaybackEngine.close`, so play and
  seek never wait for a device to start.
- A producer thread prepares frames ahead into a :class:`FrameRing`: reads the
  segment (within what has been decoded, within the loop region), applies
  channel solo/mute, time-stretches with pitch kept when the speed is not 1,
  resamples to 48 kHz and applies the volume.
- The callback only copies from the ring, counts, and notes the DAC time of
  the block; the playhead is derived from that timing, not from a wall clock.
- Commands (seek, loop, speed) flush the ring; the callback drops stale frames
  at its next period, so a change is heard within one period plus the output
  latency.

PortAudio is loaded at the first stream, so a machine without audio gets a
clear :class:`AudioDeviceError`, not an import crash.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from app.player.decoded_audio import DecodedAudio
from app.player.frame_ring import FrameRing
from app.player.resampler import Resampler
from app.player.time_stretch import MAX_SPEED, MIN_SPEED, TimeStretcher

logger = logging.getLogger(__name__)

DEVICE_RATE = 48000
DEVICE_CHANNELS = 2
RING_FRAMES = DEVICE_RATE // 2  # 500 ms of room
FILL_TARGET = DEVICE_RATE // 5  # keep 200 ms prepared
PRODUCE_FRAMES = 1024
#: GIL switch interval for a process that plays audio. The callback is Python:
#: with the default 5 ms it can wait several intervals for the GIL behind the
#: GUI, the decoder and the producer, and miss its deadline; 1 ms keeps it on time.
AUDIO_SWITCH_INTERVAL_S = 0.001

Float32Array = npt.NDArray[np.float32]
Int64Array = npt.NDArray[np.int64]


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
    active: bool
    time: float

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


class _Settings:
    """What the GUI asked for; the producer applies a new generation at once."""

    def __init__(self) -> None:
        self.generation = 0
        self.seek_to: int | None = None
        self.loop: tuple[int, int] | None = None
        self.speed = 1.0
        self.volume = 1.0
        self.gains: list[float] = []


class PlaybackEngine:
    """Plays one :class:`DecodedAudio` at a time on a stream kept warm across segments."""

    def __init__(
        self, stream_factory: StreamFactory = sounddevice_stream, device_rate: int = DEVICE_RATE
    ) -> None:
        self._factory = stream_factory
        self.device_rate = device_rate
        self._stream: OutputStream | None = None
        self._ring = FrameRing(RING_FRAMES, DEVICE_CHANNELS)
        self._cond = threading.Condition()
        self._settings = _Settings()
        self._applied = -1
        self._audio: DecodedAudio | None = None
        self._playing = False
        self._source_ended = False
        self._finished = False
        self._read_pos = 0
        self._resampler: Resampler | None = None
        self._stretcher: TimeStretcher | None = None
        self._producer: threading.Thread | None = None
        self._work = threading.Lock()  # held by the producer while it reads the audio
        self._stop = False
        self.device_error: str | None = None
        # written by the callback only
        self.frames_delivered = 0
        self.underflows = 0
        self.starved = 0
        self._dac_time = 0.0
        self._period_first = 0

    # -- lifecycle -------------------------------------------------------------
    def _ensure_stream(self) -> None:
        if self._stream is not None and self.device_error is None:
            return
        if self._stream is not None:
            self._close_stream()
        self.device_error = None
        stream = self._factory(
            samplerate=self.device_rate,
            channels=DEVICE_CHANNELS,
            dtype="float32",
            latency="high",
            callback=self._callback,
            finished_callback=self._on_stream_finished,
        )
        try:
            stream.start()
        except Exception as exc:
            stream.close()
            raise AudioDeviceError(type(exc).__name__) from exc
        self._stream = stream
        if self._producer is None:
            self._stop = False
            self._producer = threading.Thread(
                target=self._produce_loop, name="cordon-audio-producer", daemon=True
            )
            self._producer.start()

    def _on_stream_finished(self) -> None:
        if not self._stop:
            self.device_error = "the audio device stopped"

    def load(self, audio: DecodedAudio) -> None:
        """Make ``audio`` current, paused at 0. Raises :class:`AudioDeviceError`."""
        self._ensure_stream()
        with self._cond:
            self._audio = audio
            self._playing = False
            self._finished = False
            self._source_ended = False
            self._resampler = Resampler(audio.sample_rate, self.device_rate, DEVICE_CHANNELS)
            self._stretcher = TimeStretcher(audio.sample_rate, DEVICE_CHANNELS)
            s = self._settings
            s.loop, s.seek_to, s.speed = None, 0, 1.0
            s.gains = [1.0] * audio.channel_count
            self._bump()
        self.frames_delivered = 0
        self.underflows = 0
        self.starved = 0

    def unload(self) -> None:
        """Forget the audio (silence); the stream stays warm. The caller closes the audio."""
        with self._cond:
            self._audio = None
            self._playing = False
            self._ring.flush()
            self._bump()
        with self._work:
            # The producer has let go of the old audio; zero what it prepared from it.
            self._ring.zero()
            if self._resampler is not None:
                self._resampler.reset()
            if self._stretcher is not None:
                self._stretcher.reset()

    def close(self) -> None:
        """Stop the producer and the stream (application exit)."""
        self.unload()
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._producer is not None:
            self._producer.join(5)
            self._producer = None
        self._close_stream()

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        try:
            stream.stop()
            stream.close()
        except Exception as exc:  # noqa: BLE001 - a lost device may not close cleanly
            logger.warning("closing the audio stream failed: %s", type(exc).__name__)

    def _bump(self) -> None:
        """Publish changed settings to the producer (call with the condition held)."""
        self._settings.generation += 1
        self._cond.notify_all()

    # -- queries ---------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        return self._audio is not None and self._stream is not None

    @property
    def state(self) -> PlaybackState:
        if self._audio is None:
            return PlaybackState.STOPPED
        if self._finished:
            return PlaybackState.FINISHED
        return PlaybackState.PLAYING if self._playing else PlaybackState.PAUSED

    @property
    def sample_rate(self) -> int:
        return self._audio.sample_rate if self._audio else 0

    @property
    def speed(self) -> float:
        return self._settings.speed

    @property
    def volume(self) -> float:
        return self._settings.volume

    @property
    def loop(self) -> tuple[int, int] | None:
        return self._settings.loop

    @property
    def output_latency_s(self) -> float:
        return float(self._stream.latency) if self._stream is not None else 0.0

    @property
    def position_frames(self) -> int:
        """The source frame being heard now, from the output stream's clock."""
        audio, stream = self._audio, self._stream
        if audio is None:
            return 0
        if self._settings.seek_to is not None and self._applied != self._settings.generation:
            return self._settings.seek_to
        first = self._period_first
        if stream is None or not self._playing:
            return min(max(first, 0), audio.frames)
        try:
            elapsed = max(0.0, float(stream.time) - self._dac_time)
        except Exception:  # noqa: BLE001 - a closing stream has no clock
            elapsed = 0.0
        ahead = elapsed * audio.sample_rate * self._settings.speed
        return int(min(max(first + ahead, 0), audio.frames))

    # -- commands (GUI thread) -------------------------------------------------
    def play(self) -> None:
        with self._cond:
            if self._audio is None:
                return
            if self._finished or (self._settings.seek_to is None and self._at_end()):
                self._settings.seek_to = self._settings.loop[0] if self._settings.loop else 0
                self._bump()
            if not self._playing and self._stream is not None:
                # The clock restarts here: until the first new period is heard, the
                # playhead stays where it was paused (the last period's clock is stale and
                # would put it as far ahead as the pause lasted).
                try:
                    self._dac_time = float(self._stream.time) + self.output_latency_s
                except Exception:  # noqa: BLE001 - a closing stream has no clock
                    self._dac_time = 0.0
            self._finished = False
            self._playing = True
            self._cond.notify_all()

    def _at_end(self) -> bool:
        return self._audio is not None and self._read_pos >= self._audio.frames

    def pause(self) -> None:
        with self._cond:
            self._playing = False
            self._settings.seek_to = self.position_frames
            self._bump()

    def toggle(self) -> None:
        if self.state is PlaybackState.PLAYING:
            self.pause()
        else:
            self.play()

    def seek(self, frame: int) -> None:
        with self._cond:
            if self._audio is None:
                return
            self._settings.seek_to = max(0, min(int(frame), self._audio.frames))
            self._finished = False
            self._bump()

    def set_loop(self, start: int | None, end: int | None) -> None:
        """Loop ``[start, end)`` sample-exactly; ``None`` ends looping."""
        with self._cond:
            if start is None or end is None or self._audio is None or end <= start:
                self._settings.loop = None
                self._settings.seek_to = self.position_frames  # go on from what is heard
            else:
                start = max(0, min(start, self._audio.frames))
                end = max(start + 1, min(end, self._audio.frames))
                self._settings.loop = (start, end)
                if not start <= self.position_frames < end:
                    self._settings.seek_to = start
                else:
                    self._settings.seek_to = self.position_frames
            self._bump()

    def set_speed(self, speed: float) -> None:
        with self._cond:
            self._settings.speed = float(min(MAX_SPEED, max(MIN_SPEED, speed)))
            self._settings.seek_to = self.position_frames
            self._bump()

    def set_volume(self, volume: float) -> None:
        """Applied by the callback at its next period: no flush, no replayed audio."""
        self._settings.volume = float(min(2.0, max(0.0, volume)))

    def set_channel_gains(self, gains: list[float]) -> None:
        """Per source channel: 1.0 audible, 0.0 muted (solo is every other channel muted)."""
        with self._cond:
            if self._audio is None or len(gains) != self._audio.channel_count:
                return
            self._settings.gains = [float(g) for g in gains]
            self._settings.seek_to = self.position_frames
            self._bump()

    # -- producer thread ---------------------------------------------------------
    def _produce_loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(self._has_work, timeout=0.02)
                if self._stop:
                    return
                self._apply_settings()
                audio, playing = self._audio, self._playing
                room = self._ring.free() >= PRODUCE_FRAMES
                want = room and self._ring.pending() < FILL_TARGET
            if audio is not None and playing and want and not self._source_ended:
                with self._work:
                    progressed = audio is self._audio and self._produce(audio)
                if not progressed:
                    with self._cond:  # decoder behind, or a command came in: brief wait
                        self._cond.wait(0.005)
            elif self._source_ended and self._ring.pending() == 0 and playing:
                with self._cond:
                    # Re-check: a seek or pause may have come in since the snapshot.
                    if (
                        self._playing
                        and self._source_ended
                        and self._applied == self._settings.generation
                        and self._ring.pending() == 0
                    ):
                        self._playing = False
                        self._finished = True

    def _has_work(self) -> bool:
        if self._stop or self._applied != self._settings.generation:
            return True
        return self._playing and not self._source_ended and self._ring.pending() < FILL_TARGET

    def _apply_settings(self) -> None:
        """Take new settings (condition held). The order matters to :attr:`position_frames`.

        It reads without the lock: while ``seek_to`` is set and not yet applied it
        reports ``seek_to``; so the playhead (``_period_first``) moves before
        ``seek_to`` is cleared, and the generation is marked applied last.
        Otherwise a reader in between saw the position from before the seek.
        """
        s = self._settings
        if self._applied == s.generation:
            return
        if s.seek_to is not None:
            self._read_pos = s.seek_to
        self._period_first = self._read_pos
        s.seek_to = None
        self._ring.flush()
        self._source_ended = False
        if self._resampler is not None:
            self._resampler.reset()
        if self._stretcher is not None:
            self._stretcher.reset()
            self._stretcher.set_speed(s.speed)
        self._applied = s.generation

    def _produce(self, audio: DecodedAudio) -> bool:
        """Prepare one block into the ring; False if nothing could be prepared."""
        resampler, stretcher = self._resampler, self._stretcher
        if resampler is None or stretcher is None:
            return False
        source_frames = max(1, PRODUCE_FRAMES * resampler.down // resampler.up)
        if self._settings.speed == 1.0:
            block, src = self._read_source(audio, source_frames)
        else:
            block, src = stretcher.process(lambda n: self._read_source(audio, n), source_frames)
        if len(block) == 0:
            if self._read_pos >= audio.frames or audio.frames_ready >= audio.frames:
                self._source_ended = True
            return False  # at the end, or waiting for the decoder
        out = resampler.process(block)
        if len(out) == 0:
            return True
        if resampler.passthrough:
            out_src = src
        else:
            pick = np.minimum(np.arange(len(out)) * len(src) // len(out), len(src) - 1)
            out_src = src[pick]
        with self._cond:
            if self._applied != self._settings.generation:
                return False  # a command arrived while preparing: this block is stale
            self._ring.write(out, out_src)
        return True

    def _read_source(self, audio: DecodedAudio, n: int) -> tuple[Float32Array, Int64Array]:
        """Up to ``n`` source frames as stereo float32, wrapping at the loop end."""
        parts: list[tuple[int, int]] = []
        pos, left = self._read_pos, n
        loop = self._settings.loop
        while left > 0:
            end = min(loop[1], audio.frames_ready) if loop else audio.frames_ready
            if pos >= end:
                if loop and audio.frames_ready >= loop[1]:
                    pos = loop[0]
                    continue
                break
            take = min(left, end - pos)
            parts.append((pos, take))
            pos += take
            left -= take
        self._read_pos = pos
        count = n - left
        out = np.empty((count, DEVICE_CHANNELS), dtype=np.float32)
        src = np.empty(count, dtype=np.int64)
        gains = self._settings.gains
        audible = [c for c, g in enumerate(gains) if g > 0]
        at = 0
        for start, take in parts:
            src[at : at + take] = np.arange(start, start + take)
            seg = out[at : at + take]
            if audio.channel_count == 1 or len(audible) == 1:
                ch = audible[0] if audible else 0
                mono = audio.channels[ch][start : start + take] * np.float32(
                    (gains[ch] if audible else 0.0) / 32768.0
                )
                seg[:, 0] = mono
                seg[:, 1] = mono
            else:
                for c in range(DEVICE_CHANNELS):
                    seg[:, c] = audio.channels[c][start : start + take] * np.float32(
                        gains[c] / 32768.0
                    )
            at += take
        return out, src

    # -- audio thread -------------------------------------------------------------
    def _callback(self, outdata: Any, frames: int, time: Any, status: Any) -> None:
        if status and status.output_underflow:
            self.underflows += 1
        n = self._ring.read_into(outdata, frames)
        volume = self._settings.volume
        if volume != 1.0 and n:
            outdata[:n] *= volume
        if n < frames:
            outdata[n:] = 0
            if self._playing and not self._source_ended and not self._ring.priming:
                self.starved += 1
        if n:
            self._period_first = int(self._ring.last_src[0])
            self._dac_time = time.outputBufferDacTime
        self.frames_delivered += n
