"""A real sounddevice stream with a tap: what the engine's callback delivered is recorded.

The stream is real (PortAudio, ALSA null device in tests), so the engine runs
on PortAudio's audio thread exactly as in production; the tap only copies each
``outdata`` block after the engine filled it.
"""

from __future__ import annotations

import threading
import time as _time
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


class PacedOutput(TappedOutput):
    """A tapped stream consumed no faster than real time, like a sound card.

    ALSA's null device takes frames as fast as they come, so a second of audio "plays"
    in a few milliseconds; tests that depend on how long playback lasts in wall time
    (listen coverage) pace the callback to the stream's sample rate instead.
    """

    def factory(self, **kwargs: Any) -> OutputStream:
        inner = kwargs["callback"]
        rate = float(kwargs.get("samplerate") or 48_000)
        clock = {"start": 0.0, "frames": 0}

        def callback(outdata: Any, frames: int, time_info: Any, status: Any) -> None:
            now = _time.monotonic()
            if not clock["frames"] or now - clock["start"] > clock["frames"] / rate + 0.5:
                clock["start"], clock["frames"] = now, 0  # (re)started after a gap
            due = clock["start"] + clock["frames"] / rate
            if due > now:
                _time.sleep(due - now)
            clock["frames"] += frames
            inner(outdata, frames, time_info, status)

        return super().factory(**{**kwargs, "callback": callback})
