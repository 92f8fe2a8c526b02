"""A real sounddevice stream with a tap: what the engine's callback delivered is recorded.

The stream is real (PortAudio, ALSA null device in tests), so the engine runs
on PortAudio's audio thread exactly as in production; the tap only copies each
``outdata`` block after the engine filled it.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from app.player.playback import OutputStream, sounddevice_stream


class TappedOutput:
    def __init__(self) -> None:
        self.blocks: list[np.ndarray] = []
        self.opened: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def factory(self, **kwargs: Any) -> OutputStream:
        inner = kwargs["callback"]

        def callback(outdata: Any, frames: int, time: Any, status: Any) -> None:
            inner(outdata, frames, time, status)
            with self._lock:
                self.blocks.append(outdata.copy())

        self.opened.append({k: v for k, v in kwargs.items() if k != "callback"})
        return sounddevice_stream(**{**kwargs, "callback": callback})

    def delivered(self) -> np.ndarray:
        """Every frame handed to the device so far, silence included."""
        with self._lock:
            if not self.blocks:
                return np.zeros((0, 1), dtype=np.int16)
            return np.concatenate(self.blocks)

    def clear(self) -> None:
        with self._lock:
            self.blocks.clear()
