"""Memory that holds decrypted content: locked, kept out of core dumps, zeroed on close.

``bytes``, ``str`` and ``QString`` cannot be wiped, and a growing ``bytearray``
leaves stale copies behind, so decrypted audio goes into an anonymous ``mmap``
that this object owns: ``mlock`` keeps it out of swap where the memlock limit
allows (often only 8 MiB: a buffer that does not fit stays unlocked, and the log
says so), ``MADV_DONTDUMP``
keeps it out of core dumps, and :meth:`close` overwrites it with zeros before
releasing it. Swap and hibernation can still defeat ``mlock``: the deployment
docs ask for full-disk encryption.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import mmap
import sys
import threading
from types import TracebackType

logger = logging.getLogger(__name__)

_PAGE = mmap.PAGESIZE
_HUGE_MIN = 4 << 20
_ASYNC_LOCK_MIN = 4 << 20
#: ``mlock2`` flag: lock each page when it is first touched instead of faulting
#: in the whole range at once (Linux 4.4+).
MLOCK_ONFAULT = 1


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    lib = ctypes.CDLL(name, use_errno=True)
    lib.mlock.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    lib.mlock.restype = ctypes.c_int
    lib.munlock.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    lib.munlock.restype = ctypes.c_int
    if hasattr(lib, "mlock2"):
        lib.mlock2.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        lib.mlock2.restype = ctypes.c_int
    return lib


_LIBC = _libc()


class SecureBuffer:
    """A fixed-size, page-aligned buffer for plaintext the client must not leak."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError("size must be non-negative")
        self.size = size
        self._mapped = max(_PAGE, -(-size // _PAGE) * _PAGE)
        self._mm: mmap.mmap | None = mmap.mmap(-1, self._mapped)
        self.locked = False
        self.dump_excluded = False
        self._locker: threading.Thread | None = None
        self._address = ctypes.addressof(ctypes.c_char.from_buffer(self._mm))
        self._harden()

    def _harden(self) -> None:
        mm = self._mm
        if mm is None:
            return
        huge = getattr(mmap, "MADV_HUGEPAGE", None)
        if huge is not None and self._mapped >= _HUGE_MIN:
            # 2 MiB pages: a 100 MB segment takes ~50 page faults to fill instead of ~25,000.
            with contextlib.suppress(OSError):
                mm.madvise(huge)
        madv = getattr(mmap, "MADV_DONTDUMP", None)
        if madv is not None:
            try:
                mm.madvise(madv)
                self.dump_excluded = True
            except OSError:
                logger.warning("MADV_DONTDUMP refused for a %d-byte buffer", self._mapped)
        if _LIBC is None:
            return
        if self._lock_on_fault():
            return
        if self._mapped < _ASYNC_LOCK_MIN:
            self._lock_pages()
        else:
            # Plain mlock faults in every page (~0.8 ms per MB) while holding the
            # process's memory-map lock: on a helper thread (ctypes releases the GIL)
            # so at least the caller does not wait for it.
            self._locker = threading.Thread(target=self._lock_pages, name="cordon-mlock")
            self._locker.start()

    def _lock_on_fault(self) -> bool:
        """Lock pages as they are first written; True if the kernel took it.

        Locking a 100 MB buffer up front populates every page under the process's
        memory-map lock; every other thread that maps memory meanwhile (numpy
        allocating, PortAudio, the decoder) stalls behind it, and playback of a
        1 h call could not start until the whole call had decoded. With
        ``MLOCK_ONFAULT`` the call returns at once and each page is locked when
        the decoder first writes it, so nothing unlocked ever holds plaintext.
        """
        if _LIBC is None or not hasattr(_LIBC, "mlock2"):
            return False
        if _LIBC.mlock2(self._address, self._mapped, MLOCK_ONFAULT) != 0:
            return False  # ENOSYS, EINVAL (old kernel) or the memlock limit: fall back
        self.locked = True
        return True

    def _lock_pages(self) -> None:
        if _LIBC is not None and _LIBC.mlock(self._address, self._mapped) == 0:
            self.locked = True
        else:
            logger.info(
                "mlock refused for %d bytes (RLIMIT_MEMLOCK); buffer unlocked", self._mapped
            )

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._mm is None

    def view(self) -> memoryview:
        """A writable view of exactly ``size`` bytes. Release views before :meth:`close`."""
        if self._mm is None:
            raise ValueError("buffer is closed")
        return memoryview(self._mm)[: self.size]

    def zero(self) -> None:
        """Overwrite the whole mapping with zeros (keeps the buffer usable)."""
        if self._mm is not None:
            ctypes.memset(self._address, 0, self._mapped)

    def close(self) -> None:
        """Zero, unlock and unmap. Zeroing happens even if a view is still exported."""
        mm = self._mm
        if mm is None:
            return
        if self._locker is not None and self._locker is not threading.current_thread():
            self._locker.join()  # never unmap under a running mlock
        self.zero()
        if self.locked and _LIBC is not None:
            _LIBC.munlock(self._address, self._mapped)
            self.locked = False
        self._mm = None
        try:
            mm.close()
        except BufferError:
            # A view (e.g. a numpy array) still points here; the contents are
            # already zero, and the mapping goes when the last view does.
            logger.debug("secure buffer closed with live views; unmapped later")

    def __enter__(self) -> SecureBuffer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()
