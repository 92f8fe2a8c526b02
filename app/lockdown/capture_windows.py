"""Windows capture guard: ``SetWindowDisplayAffinity`` on every top-level window.

``WDA_EXCLUDEFROMCAPTURE`` (Windows 10 2004+) removes the window from
screenshots, recordings and screen sharing; older builds refuse it, and
``WDA_MONITOR`` (the window shows black in captures) is the fallback. Every
call is read back with ``GetWindowDisplayAffinity``: a window whose affinity
does not read back is reported FAILED and audited, never assumed protected.

user32 is reached through ctypes with explicit ``argtypes``/``restype``; the
tests inject a fake user32 whose functions are ctypes callbacks, so the same
typed call path runs on Linux.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from ctypes import wintypes
from typing import Any

from app.lockdown.capture_guard import Protection

WDA_NONE = 0x00
WDA_MONITOR = 0x01
WDA_EXCLUDEFROMCAPTURE = 0x11
SM_REMOTESESSION = 0x1000
SM_REMOTECONTROL = 0x2001


class WindowsCaptureGuard:
    def __init__(self, user32: Any, last_error: Callable[[], int] = lambda: 0) -> None:
        self._set = user32.SetWindowDisplayAffinity
        self._set.argtypes = [wintypes.HWND, wintypes.DWORD]
        self._set.restype = wintypes.BOOL
        self._get = user32.GetWindowDisplayAffinity
        self._get.argtypes = [wintypes.HWND, ctypes.POINTER(wintypes.DWORD)]
        self._get.restype = wintypes.BOOL
        self._metrics = user32.GetSystemMetrics
        self._metrics.argtypes = [ctypes.c_int]
        self._metrics.restype = ctypes.c_int
        self._last_error = last_error
        #: Windows error code of the last failed call (for the audit reason).
        self.last_failure: int | None = None

    @classmethod
    def load(cls) -> WindowsCaptureGuard:
        user32 = ctypes.WinDLL("user32", use_last_error=True)  # type: ignore[attr-defined, unused-ignore]
        return cls(user32, ctypes.get_last_error)  # type: ignore[attr-defined, unused-ignore]

    def affinity(self, handle: int) -> int | None:
        """The window's display affinity as Windows reports it, or None if unreadable."""
        out = wintypes.DWORD(0)
        if not self._get(handle, ctypes.byref(out)):
            return None
        return int(out.value)

    def protect(self, handle: int) -> Protection:
        for affinity in (WDA_EXCLUDEFROMCAPTURE, WDA_MONITOR):
            if self._set(handle, affinity) and self.affinity(handle) == affinity:
                self.last_failure = None
                return Protection.PROTECTED
            self.last_failure = self._last_error()
        return Protection.FAILED

    def remote_session(self) -> str | None:
        if self._metrics(SM_REMOTESESSION):
            return "remote_desktop"
        if self._metrics(SM_REMOTECONTROL):
            return "remote_control"
        return None

    def unprotected_reason(self) -> str | None:
        return None
