"""macOS capture guard: ``NSWindowSharingNone`` through the Objective-C runtime.

Qt's ``winId()`` on macOS is an ``NSView*``; its ``window`` is the NSWindow whose
``sharingType`` is set to ``NSWindowSharingNone`` (0) and read back. On macOS
15+ ScreenCaptureKit ignores the setting, so the best this can report is
PARTIAL: curtain, watermark and audit carry the rest.

``objc_msgSend`` has no fixed prototype: it is cast to one typed function per
call shape, which arm64 requires (variadic calls pass arguments differently).
Tests inject a fake runtime whose ``objc_msgSend`` is a ctypes callback, so the
typed casts run for real.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

from app.lockdown.capture_guard import Protection

NS_WINDOW_SHARING_NONE = 0


class MacCaptureGuard:
    def __init__(self, objc: Any) -> None:
        objc.sel_registerName.argtypes = [ctypes.c_char_p]
        objc.sel_registerName.restype = ctypes.c_void_p
        self._sel = objc.sel_registerName
        address = ctypes.cast(objc.objc_msgSend, ctypes.c_void_p).value
        if not address:
            raise OSError("objc_msgSend has no address")
        self._send_id = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)(address)
        self._send_set_uint = ctypes.CFUNCTYPE(
            None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_ulong
        )(address)
        self._send_get_uint = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.c_void_p, ctypes.c_void_p)(
            address
        )

    @classmethod
    def load(cls) -> MacCaptureGuard:
        path = ctypes.util.find_library("objc")
        if path is None:
            raise OSError("the Objective-C runtime is not available")
        return cls(ctypes.CDLL(path))

    def protect(self, handle: int) -> Protection:
        window = self._send_id(handle, self._sel(b"window"))
        if not window:
            return Protection.FAILED
        self._send_set_uint(window, self._sel(b"setSharingType:"), NS_WINDOW_SHARING_NONE)
        if self._send_get_uint(window, self._sel(b"sharingType")) != NS_WINDOW_SHARING_NONE:
            return Protection.FAILED
        return Protection.PARTIAL

    def remote_session(self) -> str | None:
        return None  # macOS has no public API for this; docs/security.md says so

    def unprotected_reason(self) -> str | None:
        return None
