"""Single-producer, single-consumer ring of output frames with their source positions.

The producer thread writes prepared 48 kHz stereo float32 frames; the audio
callback reads them. Indices only grow (no wrap ambiguity) and each side
writes only its own index, so no lock is needed under the GIL. A flush (seek,
loop or speed change) is requested by the producer and applied by the
consumer at its next period, so stale audio is dropped within one period.
Each frame carries the source frame it came from: the playhead and the loop
tests read what was actually delivered, not what was intended.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


class FrameRing:
    def __init__(self, capacity: int, channels: int, max_period: int = 16384) -> None:
        self.capacity = capacity
        self.data = np.zeros((capacity, channels), dtype=np.float32)
        self.src = np.zeros(capacity, dtype=np.int64)
        self.write_index = 0  # producer-owned
        self.read_index = 0  # consumer-owned
        self._flush_gen = 0  # producer-owned
        self._flush_to = 0  # producer-owned
        self._flush_seen = 0  # consumer-owned
        #: Source positions of the frames the last read delivered (consumer-owned).
        self.last_src: npt.NDArray[np.int64] = np.zeros(max_period, dtype=np.int64)
        #: True from a flush until the producer's first write after it: an empty ring
        #: then is start-up latency (play, seek), not a producer falling behind.
        self.priming = True

    # -- producer ------------------------------------------------------------
    def free(self) -> int:
        pending = self._flush_to if self._flush_gen != self._flush_seen else self.read_index
        return self.capacity - (self.write_index - max(pending, self.read_index))

    def write(self, block: npt.NDArray[np.float32], src: npt.NDArray[np.int64]) -> None:
        """Append ``block``; the caller checked :meth:`free`."""
        n = len(block)
        start = self.write_index % self.capacity
        first = min(n, self.capacity - start)
        self.data[start : start + first] = block[:first]
        self.src[start : start + first] = src[:first]
        if first < n:
            self.data[: n - first] = block[first:]
            self.src[: n - first] = src[first:]
        self.write_index += n
        self.priming = False

    def zero(self) -> None:
        """Overwrite every prepared frame (call when no one reads or writes)."""
        self.data.fill(0)
        self.last_src.fill(0)

    def flush(self) -> None:
        """Drop everything written so far (applied by the consumer's next read)."""
        self._flush_to = self.write_index
        self.priming = True
        self._flush_gen += 1

    # -- consumer (audio callback) -----------------------------------------------
    def read_into(self, out: Any, frames: int) -> int:
        """Copy up to ``frames`` frames into ``out``; return how many were available."""
        gen = self._flush_gen
        if gen != self._flush_seen:
            self.read_index = max(self.read_index, self._flush_to)
            self._flush_seen = gen
        n = min(frames, self.write_index - self.read_index)
        start = self.read_index % self.capacity
        first = min(n, self.capacity - start)
        out[:first] = self.data[start : start + first]
        self.last_src[:first] = self.src[start : start + first]
        if first < n:
            out[first:n] = self.data[: n - first]
            self.last_src[first:n] = self.src[: n - first]
        self.read_index += n
        return n

    def pending(self) -> int:
        """Frames written and not yet read (ignoring a flush not yet applied)."""
        return self.write_index - self.read_index
