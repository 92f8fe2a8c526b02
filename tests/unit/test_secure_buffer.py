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
