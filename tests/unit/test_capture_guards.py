"""Capture guards: the Windows and macOS call paths through typed ctypes fakes.

The fakes are real ctypes callbacks: the guards set ``argtypes``/``restype``
on them and call them through ctypes, so a wrong argument type or a pointer
passed by value fails here just as it would against user32 or libobjc.
"""

from __future__ import annotations

import ctypes
from ctypes import wintypes
from dataclasses import dataclass, field

import pytest

from app.lockdown.capture_guard import (
    Protection,
    UnprotectableGuard,
    display_kind,
    linux_remote_session,
)
from app.lockdown.capture_macos import MacCaptureGuard
from app.lockdown.capture_windows import (
    SM_REMOTECONTROL,
    SM_REMOTESESSION,
    WDA_EXCLUDEFROMCAPTURE,
    WDA_MONITOR,
    WindowsCaptureGuard,
)

SET_PROTO = ctypes.CFUNCTYPE(ctypes.c_long, ctypes.c_void_p, ctypes.c_ulong)
GET_PROTO = ctypes.CFUNCTYPE(ctypes.c_long, ctypes.c_void_p, ctypes.POINTER(ctypes.c_ulong))
METRICS_PROTO = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)


@dataclass
class FakeUser32:
    """Windows 10 2004+ by default; ``accepts`` models older builds or broken drivers."""

    accepts: set[int] = field(default_factory=lambda: {WDA_EXCLUDEFROMCAPTURE, WDA_MONITOR})
    metrics: dict[int, int] = field(default_factory=dict)
    affinity: dict[int, int] = field(default_factory=dict)
    calls: list[tuple[str, int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.SetWindowDisplayAffinity = SET_PROTO(self._set)
        self.GetWindowDisplayAffinity = GET_PROTO(self._get)
        self.GetSystemMetrics = METRICS_PROTO(lambda index: self.metrics.get(index, 0))

    def _set(self, hwnd: int | None, value: int) -> int:
        self.calls.append(("set", hwnd or 0, value))
        if value not in self.accepts:
            return 0
        self.affinity[hwnd or 0] = value
        return 1

    def _get(self, hwnd: int | None, out: ctypes._Pointer[ctypes.c_ulong]) -> int:
        self.calls.append(("get", hwnd or 0, 0))
        out[0] = self.affinity.get(hwnd or 0, 0)
        return 1


def test_windows_excludes_from_capture_and_reads_it_back() -> None:
    user32 = FakeUser32()
    guard = WindowsCaptureGuard(user32)
    assert guard.protect(0x1234) is Protection.PROTECTED
    assert user32.calls == [("set", 0x1234, WDA_EXCLUDEFROMCAPTURE), ("get", 0x1234, 0)]
    assert user32.SetWindowDisplayAffinity.argtypes == [wintypes.HWND, wintypes.DWORD]
    assert user32.GetWindowDisplayAffinity.argtypes == [
        wintypes.HWND,
        ctypes.POINTER(wintypes.DWORD),
    ]
    assert guard.affinity(0x1234) == WDA_EXCLUDEFROMCAPTURE


def test_windows_before_2004_falls_back_to_monitor_affinity() -> None:
    user32 = FakeUser32(accepts={WDA_MONITOR})
    guard = WindowsCaptureGuard(user32, last_error=lambda: 87)
    assert guard.protect(7) is Protection.PROTECTED
    assert [c[2] for c in user32.calls if c[0] == "set"] == [WDA_EXCLUDEFROMCAPTURE, WDA_MONITOR]
    assert guard.affinity(7) == WDA_MONITOR


def test_windows_failure_is_reported_with_the_error_code() -> None:
    user32 = FakeUser32(accepts=set())
    guard = WindowsCaptureGuard(user32, last_error=lambda: 5)
    assert guard.protect(9) is Protection.FAILED
    assert guard.last_failure == 5


def test_windows_affinity_that_does_not_read_back_is_a_failure() -> None:
    user32 = FakeUser32()
    user32.GetWindowDisplayAffinity = GET_PROTO(lambda hwnd, out: 0)  # the read fails
    guard = WindowsCaptureGuard(user32)
    assert guard.protect(3) is Protection.FAILED


@pytest.mark.parametrize(
    ("metrics", "reason"),
    [
        ({}, None),
        ({SM_REMOTESESSION: 1}, "remote_desktop"),
        ({SM_REMOTECONTROL: 1}, "remote_control"),
    ],
)
def test_windows_remote_sessions_are_detected(metrics: dict[int, int], reason: str | None) -> None:
    assert WindowsCaptureGuard(FakeUser32(metrics=metrics)).remote_session() == reason


SEL_PROTO = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_char_p)
MSG_PROTO = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_ulong)


class FakeObjc:
    """libobjc with one NSView (0x5000) inside one NSWindow (0x6000)."""

    def __init__(self, honour_sharing: bool = True) -> None:
        self.selectors: dict[int, bytes] = {}
        self.messages: list[tuple[int, bytes, int]] = []
        self.sharing = {0x6000: 1}  # NSWindowSharingReadOnly
        self.honour_sharing = honour_sharing
        self.sel_registerName = SEL_PROTO(self._sel)
        self.objc_msgSend = MSG_PROTO(self._send)

    def _sel(self, name: bytes) -> int:
        sel = 0x9000 + len(self.selectors)
        self.selectors[sel] = name
        return sel

    def _send(self, receiver: int, sel: int, arg: int) -> int:
        name = self.selectors[sel]
        self.messages.append((receiver, name, arg if name.endswith(b":") else 0))
        if name == b"window":
            return 0x6000 if receiver == 0x5000 else 0
        if name == b"setSharingType:" and self.honour_sharing:
            self.sharing[receiver] = arg
        if name == b"sharingType":
            return self.sharing[receiver]
        return 0


def test_macos_sets_sharing_none_on_the_views_window() -> None:
    objc = FakeObjc()
    guard = MacCaptureGuard(objc)
    assert guard.protect(0x5000) is Protection.PARTIAL  # macOS 15 ScreenCaptureKit ignores it
    assert objc.messages == [
        (0x5000, b"window", 0),
        (0x6000, b"setSharingType:", 0),
        (0x6000, b"sharingType", 0),
    ]
    assert guard.remote_session() is None


def test_macos_failure_to_read_back_is_reported() -> None:
    assert MacCaptureGuard(FakeObjc(honour_sharing=False)).protect(0x5000) is Protection.FAILED
    assert MacCaptureGuard(FakeObjc()).protect(0x1) is Protection.FAILED  # a view with no window


@pytest.mark.parametrize(
    ("platform_name", "env", "kind"),
    [
        ("xcb", {"XDG_SESSION_TYPE": "x11"}, "x11"),
        ("xcb", {"WAYLAND_DISPLAY": "wayland-0"}, "xwayland"),
        ("wayland", {"WAYLAND_DISPLAY": "wayland-0"}, "wayland"),
        ("offscreen", {}, "offscreen"),
    ],
)
def test_linux_display_kinds(platform_name: str, env: dict[str, str], kind: str) -> None:
    assert display_kind(platform_name, env, "linux") == kind


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"DISPLAY": ":0"}, None),
        ({"DISPLAY": "localhost:10.0"}, "x11_forwarding"),
        ({"DISPLAY": ":10", "XRDP_SESSION": "1"}, "xrdp"),
        ({"DISPLAY": "/tmp/launch-x/org.xquartz:0"}, None),
    ],
)
def test_linux_remote_session_signs(env: dict[str, str], reason: str | None) -> None:
    assert linux_remote_session(env) == reason


def test_linux_guard_reports_unprotected() -> None:
    guard = UnprotectableGuard("x11", {"DISPLAY": ":0"})
    assert guard.protect(42) is Protection.UNPROTECTED
    assert guard.unprotected_reason() == "x11"
    assert guard.remote_session() is None
