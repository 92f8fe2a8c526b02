"""Screen-capture protection: one interface, one implementation per OS.

What each OS allows (``docs/security.md`` has the full table):

- Windows 10 2004+: ``SetWindowDisplayAffinity(WDA_EXCLUDEFROMCAPTURE)`` keeps
  a window out of screenshots, recordings and screen sharing.
- macOS: ``NSWindowSharingNone`` hides the window from the legacy capture APIs;
  ScreenCaptureKit on macOS 15+ ignores it, so it is *partial*.
- Linux: X11 lets any client read the root window, and Wayland leaves capture
  to the compositor: there is nothing to apply. Policy decides whether Cordon
  refuses to run or runs with curtain, watermark and an audit event.

The guard works on native window handles (``int``) and never imports Qt.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from enum import StrEnum
from typing import Protocol


class Protection(StrEnum):
    PROTECTED = "protected"  # the OS confirmed the window is excluded from capture
    PARTIAL = "partial"  # applied, but the OS lets some capture paths through
    UNPROTECTED = "unprotected"  # this OS / display server offers nothing to apply
    FAILED = "failed"  # the call failed or did not read back: treat as unprotected


class CaptureGuard(Protocol):
    def protect(self, handle: int) -> Protection:
        """Exclude the top-level window ``handle`` from capture; report what held."""
        ...

    def remote_session(self) -> str | None:
        """A reason code if this is a remote or remote-controlled session, else None."""
        ...

    def unprotected_reason(self) -> str | None:
        """A reason code if capture cannot be blocked at all here (``x11``, ``wayland``…)."""
        ...


def display_kind(platform_name: str, env: Mapping[str, str], platform: str = sys.platform) -> str:
    """Which display system the window is on: what capture protection can exist.

    XWayland (the xcb platform inside a Wayland session) is reported separately:
    it is X11 to the app, but other X clients there can still read its pixels.
    """
    if platform == "win32":
        return "windows"
    if platform == "darwin":
        return "macos"
    if platform_name in ("offscreen", "minimal"):
        return "offscreen"
    if platform_name.startswith("wayland"):
        return "wayland"
    wayland_session = bool(env.get("WAYLAND_DISPLAY")) or env.get("XDG_SESSION_TYPE") == "wayland"
    return "xwayland" if wayland_session else "x11"


def linux_remote_session(env: Mapping[str, str]) -> str | None:
    """Remote desktop signs a Linux session shows: xrdp, or X11 forwarded over SSH."""
    if env.get("XRDP_SESSION"):
        return "xrdp"
    display = env.get("DISPLAY", "")
    host = display.rsplit(":", 1)[0] if ":" in display else ""
    if host and not host.startswith("/"):  # "localhost:10.0": a forwarded display
        return "x11_forwarding"
    return None


class UnprotectableGuard:
    """Linux (X11, XWayland, Wayland) and headless: capture cannot be blocked."""

    def __init__(self, kind: str, env: Mapping[str, str] | None = None) -> None:
        self.kind = kind
        self._env = dict(os.environ if env is None else env)

    def protect(self, handle: int) -> Protection:
        return Protection.UNPROTECTED

    def remote_session(self) -> str | None:
        return linux_remote_session(self._env)

    def unprotected_reason(self) -> str:
        return self.kind


def guard_for(platform_name: str, platform: str = sys.platform) -> CaptureGuard:
    """The capture guard for this OS and Qt platform plugin."""
    if platform == "win32":
        from app.lockdown.capture_windows import WindowsCaptureGuard  # noqa: PLC0415

        return WindowsCaptureGuard.load()
    if platform == "darwin":
        from app.lockdown.capture_macos import MacCaptureGuard  # noqa: PLC0415

        return MacCaptureGuard.load()
    return UnprotectableGuard(display_kind(platform_name, os.environ, platform))
