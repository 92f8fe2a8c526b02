"""Decoded audio that lives only in secure buffers: int16, one contiguous array per channel.

One array per channel (not interleaved) because every reduction the waveform
and playback do is per channel, and reducing over interleaved data is an order
of magnitude slower. :meth:`close` zeroes every sample.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from app.crypto.secure_buffer import SecureBuffer

Samples = npt.NDArray[np.int16]


class DecodedAudio:
    """PCM of one segment, owned by this object until :meth:`close`."""

    def __init__(self, sample_rate: int, frames: int, channel_count: int) -> None:
        self.sample_rate = sample_rate
        self.frames = frames
        #: Frames decoded so far; grows while a segment streams in (readers never go past it).
        self.frames_ready = frames
        self._buffers = [SecureBuffer(frames * 2) for _ in range(channel_count)]
        self.channels: list[Samples] = [
            np.frombuffer(buf.view(), dtype=np.int16, count=frames) for buf in self._buffers
        ]

    @property
    def channel_count(self) -> int:
        return len(self.channels)

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0

    @property
    def locked(self) -> bool:
        """True if every buffer is mlocked (out of swap)."""
        return all(buf.locked for buf in self._buffers)

    @property
    def closed(self) -> bool:
        return not self._buffers

    def truncate(self, frames: int) -> None:
        """Keep only the first ``frames`` frames (the decoder found fewer than promised)."""
        self.frames = min(frames, self.frames)
        self.frames_ready = min(self.frames_ready, self.frames)
        self.channels = [ch[: self.frames] for ch in self.channels]

    def close(self) -> None:
        """Zero and release every channel buffer."""
        self.channels = []
        for buf in self._buffers:
            buf.close()
        self._buffers = []
        self.frames = 0
        self.frames_ready = 0
