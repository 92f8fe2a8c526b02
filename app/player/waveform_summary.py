"""Min/max pyramid of one channel, so a waveform of any length draws in microseconds.

Level 0 holds the min and max of every 256 samples; each further level folds
16 entries of the one below. A view of ``n`` columns over any range reads the
finest level with at most a few entries per column, so redraw cost depends on
the width in pixels, never on the length of the call. Below 256 samples per
column the raw samples are used directly. Never hand raw samples to a plot.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

BASE = 256
FANOUT = 16

Int16Array = npt.NDArray[np.int16]


class WaveformSummary:
    """Pyramid of (min, max) per bin for one int16 channel."""

    def __init__(self, samples: Int16Array) -> None:
        self._samples = samples
        self.length = len(samples)
        self.levels: list[tuple[Int16Array, Int16Array]] = []
        full = self.length // BASE
        if full:
            blocks = samples[: full * BASE].reshape(full, BASE)
            mins, maxs = blocks.min(axis=1), blocks.max(axis=1)
        else:
            mins = maxs = np.empty(0, dtype=np.int16)
        tail = samples[full * BASE :]
        if len(tail):
            mins = np.append(mins, tail.min())
            maxs = np.append(maxs, tail.max())
        self.levels.append((mins.astype(np.int16), maxs.astype(np.int16)))
        while len(self.levels[-1][0]) > FANOUT:
            lo, hi = self.levels[-1]
            n = -(-len(lo) // FANOUT)
            pad = n * FANOUT - len(lo)
            lo_p = np.concatenate([lo, np.full(pad, lo[-1], dtype=np.int16)]) if pad else lo
            hi_p = np.concatenate([hi, np.full(pad, hi[-1], dtype=np.int16)]) if pad else hi
            self.levels.append(
                (lo_p.reshape(n, FANOUT).min(axis=1), hi_p.reshape(n, FANOUT).max(axis=1))
            )

    def bin_size(self, level: int) -> int:
        """Samples per entry at ``level``."""
        return int(BASE * FANOUT**level)

    def columns(self, start: int, end: int, width: int) -> tuple[Int16Array, Int16Array]:
        """Min and max for ``width`` equal columns covering samples ``[start, end)``.

        Column ``i`` covers samples ``[floor(e_i), ceil(e_i+1))`` of the column
        edges ``e``; the extremes come from the finest level whose bins are not
        wider than a column, so they may include up to one bin beyond each edge
        (never less than the true extremes).
        """
        start = max(0, min(start, self.length))
        end = max(start, min(end, self.length))
        if width <= 0 or end == start:
            empty = np.zeros(max(width, 0), dtype=np.int16)
            return empty, empty.copy()
        per_column = (end - start) / width
        if per_column < BASE:
            source_lo = source_hi = self._samples
            scale = 1
        else:
            level = 0
            while level + 1 < len(self.levels) and self.bin_size(level + 1) <= per_column:
                level += 1
            source_lo, source_hi = self.levels[level]
            scale = self.bin_size(level)
        edges = np.linspace(start, end, width + 1)
        starts = np.floor(edges[:-1]).astype(np.int64) // scale
        stops = -(-np.ceil(edges[1:]).astype(np.int64) // scale)
        stops = np.clip(np.maximum(stops, starts + 1), 1, len(source_lo))
        starts = np.minimum(starts, stops - 1)
        limit = int(stops[-1])
        lo = np.minimum.reduceat(source_lo[:limit], starts)
        hi = np.maximum.reduceat(source_hi[:limit], starts)
        # reduceat covers [starts[i], starts[i+1]); add the boundary bin stops[i]-1.
        last = stops - 1
        lo = np.minimum(lo, source_lo[last])
        hi = np.maximum(hi, source_hi[last])
        return lo.astype(np.int16), hi.astype(np.int16)
