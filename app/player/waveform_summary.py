"""Min/max pyramid of one channel, so a waveform of any length draws in microseconds.

Level 0 holds the min and max of every 256 samples; each further level folds
16 entries of the one below. A view of ``n`` columns over any range reads the
finest level with at most a few entries per column, so redraw cost depends on
the width in pixels, never on the length of the call. Below 256 samples per
column the raw samples are used directly. Never hand raw samples to a plot.

The pyramid fills progressively: :meth:`extend` is called as decoding
advances, so the overview appears while the rest of the segment still decodes.
It is derived from the audio, so it lives in a secure buffer too and
:meth:`close` zeroes it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from app.crypto.secure_buffer import SecureBuffer

BASE = 256
FANOUT = 16

Int16Array = npt.NDArray[np.int16]


class WaveformSummary:
    """Pyramid of (min, max) per bin for one int16 channel, built as samples arrive."""

    def __init__(self, samples: Int16Array, ready: int | None = None) -> None:
        self._samples = samples
        self.length = len(samples)
        self.ready = 0
        sizes = [-(-self.length // BASE)]
        while sizes[-1] > FANOUT:
            sizes.append(-(-sizes[-1] // FANOUT))
        self._buffer = SecureBuffer(4 * sum(sizes))
        self._view = self._buffer.view()
        store = np.frombuffer(self._view, dtype=np.int16)
        self.levels: list[tuple[Int16Array, Int16Array]] = []
        self.filled: list[int] = []
        at = 0
        for size in sizes:
            self.levels.append((store[at : at + size], store[at + size : at + 2 * size]))
            self.filled.append(0)
            at += 2 * size
        self.extend(self.length if ready is None else ready)

    def truncate(self, length: int) -> None:
        """The decoder found fewer samples than promised: rebuild for ``length``."""
        self.length = min(length, self.length)
        self.filled = [0] * len(self.filled)
        self.ready = 0
        self.extend(self.length)

    def close(self) -> None:
        """Zero the pyramid; the summary then reads as silence."""
        self.filled = [0] * len(self.filled)
        self.ready = 0
        self._buffer.close()

    def decoded(self) -> Int16Array:
        """The channel's samples decoded so far (a view: for the spectrogram, read-only)."""
        return self._samples[: self.ready]

    @property
    def complete(self) -> bool:
        return self.ready >= self.length

    def bin_size(self, level: int) -> int:
        """Samples per entry at ``level``."""
        return int(BASE * FANOUT**level)

    def extend(self, ready: int) -> None:
        """Take samples ``[0, ready)`` as final and summarise the new ones."""
        ready = min(ready, self.length)
        if ready <= self.ready:
            return
        self.ready = ready
        final = ready == self.length
        self._fill_level0(ready, final)
        for level in range(1, len(self.levels)):
            self._fill_level(level, final)

    def _fill_level0(self, ready: int, final: bool) -> None:
        lo, hi = self.levels[0]
        start = self.filled[0]
        full = ready // BASE
        if full > start:
            blocks = self._samples[start * BASE : full * BASE].reshape(-1, BASE)
            lo[start:full] = blocks.min(axis=1)
            hi[start:full] = blocks.max(axis=1)
        end = full
        if final and full * BASE < self.length:
            tail = self._samples[full * BASE :]
            lo[full], hi[full] = tail.min(), tail.max()
            end = full + 1
        self.filled[0] = end

    def _fill_level(self, level: int, final: bool) -> None:
        below_lo, below_hi = self.levels[level - 1]
        below = self.filled[level - 1]
        lo, hi = self.levels[level]
        start = self.filled[level]
        full = below // FANOUT
        if full > start:
            span = slice(start * FANOUT, full * FANOUT)
            lo[start:full] = below_lo[span].reshape(-1, FANOUT).min(axis=1)
            hi[start:full] = below_hi[span].reshape(-1, FANOUT).max(axis=1)
        end = full
        if final and full * FANOUT < below:
            lo[full] = below_lo[full * FANOUT : below].min()
            hi[full] = below_hi[full * FANOUT : below].max()
            end = full + 1
        self.filled[level] = end

    def columns(self, start: int, end: int, width: int) -> tuple[Int16Array, Int16Array]:
        """Min and max for ``width`` equal columns covering samples ``[start, end)``.

        Column ``i`` covers samples ``[floor(e_i), ceil(e_i+1))`` of the column
        edges ``e``; the extremes come from the finest level whose bins are not
        wider than a column, so they may include up to one bin beyond each edge
        (never less than the true extremes). Columns past what has been
        decoded so far are zero.
        """
        start = max(0, min(start, self.length))
        end = max(start, min(end, self.length))
        lo_out = np.zeros(max(width, 0), dtype=np.int16)
        hi_out = np.zeros(max(width, 0), dtype=np.int16)
        if width <= 0 or end == start:
            return lo_out, hi_out
        per_column = (end - start) / width
        scale, level = 1, -1
        if per_column >= BASE:
            level = 0
            while level + 1 < len(self.levels) and self.bin_size(level + 1) <= per_column:
                level += 1
            scale = self.bin_size(level)
        if level < 0:
            source_lo = source_hi = self._samples[: self.ready]
        else:
            n = self.filled[level]
            source_lo, source_hi = self.levels[level][0][:n], self.levels[level][1][:n]
        edges = np.linspace(start, end, width + 1)
        starts = np.floor(edges[:-1]).astype(np.int64) // scale
        stops = -(-np.ceil(edges[1:]).astype(np.int64) // scale)
        visible = starts < len(source_lo)
        if not visible.any():
            return lo_out, hi_out
        starts, stops = starts[visible], stops[visible]
        stops = np.clip(np.maximum(stops, starts + 1), 1, len(source_lo))
        limit = int(stops[-1])
        lo = np.minimum.reduceat(source_lo[:limit], starts)
        hi = np.maximum.reduceat(source_hi[:limit], starts)
        # reduceat covers [starts[i], starts[i+1]); add the boundary bin stops[i]-1.
        last = stops - 1
        lo_out[: len(lo)] = np.minimum(lo, source_lo[last])
        hi_out[: len(hi)] = np.maximum(hi, source_hi[last])
        return lo_out, hi_out
