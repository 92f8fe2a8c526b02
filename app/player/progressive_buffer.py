"""A secure buffer that fills while it is read: download thread writes, decoder reads.

The decrypting thread appends verified plaintext and calls :meth:`advance`;
the decoding thread reads through :class:`BlockingReader`, which waits until
the bytes it needs have arrived. That lets WAV and FLAC start decoding (and
playback start) after the first chunk instead of after the whole segment.
A failed download wakes the reader with the error, so nothing waits forever.
"""

from __future__ import annotations

import contextlib
import threading

from app.crypto.secure_buffer import SecureBuffer
from app.player.memory_file import MemoryFile


class DownloadAbortedError(Exception):
    """The segment stopped arriving (network, integrity, or the task was closed)."""


class ProgressiveBuffer:
    def __init__(self, size: int) -> None:
        self.size = size
        self._buf = SecureBuffer(size)
        self._view = self._buf.view()
        self._available = 0
        self._done = False
        self._error: BaseException | None = None
        self._cond = threading.Condition()

    @property
    def view(self) -> memoryview:
        """The whole buffer, for the writer (``SegmentDecryptor``) to decrypt into."""
        return self._view

    @property
    def available(self) -> int:
        return self._available

    def advance(self, available: int) -> None:
        with self._cond:
            self._available = max(self._available, min(available, self.size))
            self._cond.notify_all()

    def finish(self) -> None:
        with self._cond:
            self._available = self.size
            self._done = True
            self._cond.notify_all()

    def fail(self, error: BaseException) -> None:
        with self._cond:
            self._error = error
            self._cond.notify_all()

    def wait_for(self, end: int, timeout: float | None = None) -> int:
        """Block until ``end`` bytes are available (or all there will be); return available."""
        end = min(end, self.size)
        with self._cond:
            ok = self._cond.wait_for(
                lambda: self._available >= end or self._error is not None, timeout
            )
            if self._error is not None:
                raise DownloadAbortedError(type(self._error).__name__) from self._error
            if not ok:
                raise DownloadAbortedError("timed out waiting for the segment")
            return self._available

    def close(self) -> None:
        """Zero and release; wakes any reader with an error."""
        self.fail(DownloadAbortedError("closed"))
        with contextlib.suppress(BufferError):  # a writer's slice: zeroed regardless
            self._view.release()
        self._buf.close()


class BlockingReader(MemoryFile):
    """Seekable read-only file over a :class:`ProgressiveBuffer`; reads wait for data.

    libsndfile calls :meth:`readinto` from C, where an exception cannot
    propagate; an aborted download therefore reads as end of file and is kept
    in :attr:`aborted` for the decoder to report instead of "corrupt audio".
    No timeout by default: a slow link is not an error, and a failed or
    cancelled download wakes the reader through :meth:`ProgressiveBuffer.fail`.
    """

    def __init__(self, source: ProgressiveBuffer, timeout: float | None = None) -> None:
        super().__init__(source.view)
        self._src = source
        self._timeout = timeout
        self.aborted: DownloadAbortedError | None = None

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        start = min(self.tell(), self._src.size)
        end = min(start + len(buffer), self._src.size)
        if end > start:
            try:
                self._src.wait_for(end, self._timeout)
            except DownloadAbortedError as exc:
                self.aborted = exc
                return 0
        return super().readinto(buffer)
