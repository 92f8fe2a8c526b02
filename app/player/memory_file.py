"""A read-only file object over a memoryview, for libsndfile's virtual I/O.

soundfile calls ``readinto`` when a file object has it, so libsndfile reads
straight from our secure buffer into its own: the compressed plaintext is never
copied into a Python ``bytes`` object (which could not be wiped). ``BytesIO``
would copy the whole segment.
"""

from __future__ import annotations

import io


class MemoryFile(io.RawIOBase):
    """Seekable, read-only view of a buffer; owns nothing, copies nothing."""

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self._view = view
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = len(self._view) + offset
        else:
            raise ValueError("invalid whence")
        self._pos = max(0, pos)
        return self._pos

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        start = min(self._pos, len(self._view))
        n = min(len(buffer), len(self._view) - start)
        memoryview(buffer).cast("B")[:n] = self._view[start : start + n]
        self._pos = start + n
        return n

    def close(self) -> None:
        self._view = memoryview(b"")
        super().close()
