"""Streaming polyphase resampler: any segment rate to the device's 48 kHz.

The output stream runs at one rate (48 kHz stays warm and steady on PulseAudio;
16 or 44.1 kHz streams ramp up slowly and under-run), so the producer thread
converts. Windowed-sinc polyphase filter (Kaiser, 16 taps per phase), state
carried across blocks so block boundaries are inaudible and a loop wrap in the
source stays seamless. Equal rates pass through untouched (sample-exact).
"""

from __future__ import annotations

from math import gcd

import numpy as np
import numpy.typing as npt

Float32Array = npt.NDArray[np.float32]
TAPS = 16
_KAISER_BETA = 8.0


def _filter_bank(up: int, down: int) -> Float32Array:
    """(up, TAPS) polyphase bank of a low-pass at the lower Nyquist, gain ``up``."""
    length = TAPS * up
    cutoff = 0.5 / max(up, down) * 0.92  # cycles per upsampled sample
    n = np.arange(length) - (length - 1) / 2.0
    proto = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(length, _KAISER_BETA)
    proto *= up / proto.sum()
    # bank[p, k] = proto[p + k * up]
    bank: Float32Array = proto.reshape(TAPS, up).T.astype(np.float32).copy()
    return bank


class Resampler:
    """Converts blocks of (frames, channels) float32 from ``src_rate`` to ``dst_rate``."""

    def __init__(self, src_rate: int, dst_rate: int, channels: int) -> None:
        g = gcd(src_rate, dst_rate)
        self.up, self.down = dst_rate // g, src_rate // g
        self.channels = channels
        self.passthrough = self.up == self.down == 1
        self._bank = _filter_bank(self.up, self.down) if not self.passthrough else None
        self._history = np.zeros((TAPS - 1, channels), dtype=np.float32)
        self._pos = (TAPS - 1) * self.up  # upsampled index of the next output, in the buffer

    def reset(self) -> None:
        """Forget the filter state (after a seek: the old signal must not ring into the new)."""
        self._history.fill(0)
        self._pos = (TAPS - 1) * self.up

    def process(self, block: Float32Array) -> Float32Array:
        """Resample one block; output length varies by at most one frame between calls."""
        if self._bank is None:
            return block
        buf = np.concatenate([self._history, block])
        limit = len(buf) * self.up  # first upsampled index past the buffer
        count = max(0, -(-(limit - self._pos) // self.down))
        positions = self._pos + self.down * np.arange(count, dtype=np.int64)
        base = positions // self.up
        phase = positions % self.up
        idx = base[:, None] - np.arange(TAPS)[None, :]
        out = np.einsum("nk,nkc->nc", self._bank[phase], buf[idx], optimize=False)
        self._pos += self.down * count - len(block) * self.up
        self._history = buf[len(buf) - (TAPS - 1) :].copy()
        result: Float32Array = out.astype(np.float32, copy=False)
        return result
