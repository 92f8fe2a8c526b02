"""Decode a segment while it is still arriving.

Runs on its own thread, reading the decrypted bytes through a
:class:`BlockingReader`. WAV and FLAC keep their headers at the start, so the
first block decodes as soon as the first chunk is verified; OGG/Vorbis, Opus
and MP3 make libsndfile read to the end at open, so they start once the whole
segment has arrived. Decoded frames go into per-channel secure buffers; the
waveform pyramid is extended block by block so the overview fills in while
decoding continues. ``audio.frames_ready`` only ever grows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import numpy as np
import soundfile as sf

from app.crypto.secure_buffer import SecureBuffer
from app.player.decoded_audio import DecodedAudio
from app.player.decoder import MAX_CHANNELS, MAX_RATE, MIN_RATE, DecodeError
from app.player.progressive_buffer import BlockingReader, DownloadAbortedError, ProgressiveBuffer
from app.player.waveform_summary import WaveformSummary

logger = logging.getLogger(__name__)

FIRST_BLOCK = 4096
BLOCK = 65536


class StreamDecoder:
    """Owns the decoder thread for one segment."""

    def __init__(
        self,
        source: ProgressiveBuffer,
        on_ready: Callable[[DecodedAudio, list[WaveformSummary]], None],
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        self._source = source
        self._on_ready = on_ready
        self._on_progress = on_progress
        self.audio: DecodedAudio | None = None
        self.summaries: list[WaveformSummary] = []
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._reader = BlockingReader(source)
        self._thread = threading.Thread(target=self._run, name="cordon-decoder", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def stop(self) -> None:
        """Ask the thread to end (the caller also fails the source to wake a blocked read)."""
        self._stop.set()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            self._decode()
        except DownloadAbortedError as exc:
            self.error = exc
        except Exception as exc:  # noqa: BLE001 - reported to the opener, never lost
            self.error = self._reader.aborted or self._classify(exc)

    @staticmethod
    def _classify(exc: Exception) -> BaseException:
        if isinstance(exc, DecodeError):
            return exc
        if isinstance(exc, sf.LibsndfileError | RuntimeError | TypeError):
            error = DecodeError("audio data is corrupt")
            error.__cause__ = exc
            return error
        logger.error("decoder failed: %s", type(exc).__name__)
        return exc

    def _decode(self) -> None:
        try:
            handle = sf.SoundFile(self._reader, mode="r")
        except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
            raise DecodeError("not a supported audio format") from exc
        with handle:
            rate, count, frames = handle.samplerate, handle.channels, handle.frames
            if not (MIN_RATE <= rate <= MAX_RATE and 1 <= count <= MAX_CHANNELS) or frames <= 0:
                raise DecodeError(f"unsupported audio layout ({rate} Hz, {count} channels)")
            audio = DecodedAudio(rate, frames, count)
            audio.frames_ready = 0
            self.audio = audio
            self.summaries = [WaveformSummary(ch, ready=0) for ch in audio.channels]
            with SecureBuffer(BLOCK * count * 2) as scratch_buf:
                view = scratch_buf.view()
                try:
                    self._blocks(handle, audio, np.frombuffer(view, np.int16).reshape(BLOCK, count))
                finally:
                    view.release()

    def _blocks(self, handle: sf.SoundFile, audio: DecodedAudio, scratch: np.ndarray) -> None:
        done = 0
        while done < audio.frames and not self._stop.is_set():
            want = min(BLOCK if done else FIRST_BLOCK, audio.frames - done)
            n = len(handle.read(want, dtype="int16", always_2d=True, out=scratch[:want]))
            if n == 0:
                break
            self._publish(audio, scratch, done, n)
            done += n
        scratch.fill(0)
        if self._reader.aborted is not None:
            raise self._reader.aborted
        if self._stop.is_set():
            return
        if done == 0:
            raise DecodeError("no audio frames in segment")
        if done < audio.frames:
            logger.warning("decoder delivered %d of %d promised frames", done, audio.frames)
            audio.truncate(done)
            for summary in self.summaries:
                summary.truncate(done)

    def _publish(self, audio: DecodedAudio, scratch: np.ndarray, done: int, n: int) -> None:
        """Copy one decoded block out per channel; extend the pyramid; announce the first."""
        for c in range(audio.channel_count):
            audio.channels[c][done : done + n] = scratch[:n, c]
        for summary in self.summaries:
            summary.extend(done + n)
        audio.frames_ready = done + n
        if done == 0:
            self._on_ready(audio, self.summaries)
        if self._on_progress is not None:
            self._on_progress(done + n)
