"""Secure buffers: excluded from dumps, locked where allowed, zeroed on close."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from app.crypto.secure_buffer import SecureBuffer


def test_close_zeroes_even_with_a_live_numpy_view() -> None:
    buf = SecureBuffer(10_000)
    view = buf.view()
    view[:] = b"\x5a" * 10_000
    samples = np.frombuffer(view, dtype=np.uint8)
    address = samples.ctypes.data
    buf.close()
    # The mapping is still alive through ``samples``; its bytes must be zero.
    assert ctypes.string_at(address, 10_000) == bytes(10_000)
    assert buf.closed
    with pytest.raises(ValueError, match="closed"):
        buf.view()


def test_hardening_is_applied_on_linux() -> None:
    with SecureBuffer(4096) as buf:
        assert buf.dump_excluded
        # RLIMIT_MEMLOCK allows at least one page on every Linux default.
        assert buf.locked


def test_zero_sized_buffer() -> None:
    with SecureBuffer(0) as buf:
        assert len(buf.view()) == 0


def _smaps_entry(address: int, field: str) -> list[str]:
    """The fields of ``field`` in smaps for the mapping that holds ``address``."""
    inside = False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = line.split()[0]
            if "-" in head and all(c in "0123456789abcdef-" for c in head):
                lo, hi = (int(x, 16) for x in head.split("-"))
                inside = lo <= address < hi
            elif inside and line.startswith(f"{field}:"):
                return line.split()[1:]
    raise AssertionError("mapping not found in smaps")


def test_large_buffer_is_locked_on_fault_without_populating() -> None:
    """A 64 MiB buffer is locked at once, page by page as written, not faulted in up front.

    Faulting a large buffer in up front holds the process's memory-map lock and
    stalled every other thread (and with them the start of playback) until done.
    """
    with SecureBuffer(64 << 20) as buf:
        address = np.frombuffer(buf.view(), dtype=np.uint8).ctypes.data
        flags = set(_smaps_entry(address, "VmFlags"))
        assert buf.locked
        assert "lo" in flags  # VM_LOCKED
        assert "lf" in flags  # VM_LOCKONFAULT: pages are locked as they are touched
        resident_kib = int(_smaps_entry(address, "Rss")[0])
        assert resident_kib < 8 << 10, f"{resident_kib} KiB resident before any write"
