"""One application-wide event filter for capture protection, PrintScreen and idle time.

Protection is applied to *every* top-level window — the main window, dialogs,
menus, tooltips, popups — when it is shown or gets a new native window, after
a minimize/restore, and again whenever focus moves (Electron and Bitwarden
both lost protection after hide/show; KeePassXC re-applies on focus change and
only to visible windows). The handle is the top-level's own ``winId()``:
calling ``winId()`` on a child would make it native, so children are skipped.
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeyEvent, QWindow
from PySide6.QtWidgets import QApplication, QWidget

from app.lockdown.capture_guard import CaptureGuard, Protection

logger = logging.getLogger(__name__)

_WINDOW_EVENTS = (QEvent.Type.Show, QEvent.Type.WinIdChange, QEvent.Type.WindowStateChange)
_ACTIVITY = (
    QEvent.Type.KeyPress,
    QEvent.Type.MouseButtonPress,
    QEvent.Type.MouseMove,
    QEvent.Type.Wheel,
    QEvent.Type.TouchBegin,
)
_CAPTURE_KEYS = (Qt.Key.Key_Print, Qt.Key.Key_SysReq)


class LockdownFilter(QObject):
    capture_key_pressed = Signal()
    #: A window the guard could not protect: (window class name, reason code).
    protection_failed = Signal(str, str)
    #: The application became active (True) or lost the focus to another program (False).
    application_active = Signal(bool)

    def __init__(self, guard: CaptureGuard, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.guard = guard
        self.last_activity = time.monotonic()
        #: Last result per native handle (diagnostics and tests).
        self.results: dict[int, Protection] = {}
        app = QApplication.instance()
        if isinstance(app, QGuiApplication):
            app.installEventFilter(self)
            app.focusWindowChanged.connect(self._on_focus_window)
            # Through this object (owned by the window), not a lambda on the application:
            # a lambda would outlive the window and reach its deleted curtain.
            app.applicationStateChanged.connect(self._on_application_state)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        kind = event.type()
        if kind in _ACTIVITY:
            self.last_activity = time.monotonic()
            if (
                kind == QEvent.Type.KeyPress
                and isinstance(event, QKeyEvent)
                and event.key() in _CAPTURE_KEYS
                and not event.isAutoRepeat()
            ):
                self.capture_key_pressed.emit()
        elif kind in _WINDOW_EVENTS and isinstance(watched, QWidget) and watched.isWindow():
            self.protect(watched)
        return False

    def protect(self, window: QWidget) -> Protection:
        """Apply the guard to one top-level window; report failures."""
        handle = int(window.winId())
        result = self.guard.protect(handle)
        previous = self.results.get(handle)
        self.results[handle] = result
        if result is Protection.FAILED and previous is not Protection.FAILED:
            name = type(window).__name__
            logger.warning("capture protection failed for a %s window", name)
            self.protection_failed.emit(name, "apply_failed")
        return result

    def protect_all_visible(self) -> None:
        for widget in QApplication.topLevelWidgets():
            if widget.isVisible():
                self.protect(widget)

    def _on_focus_window(self, _window: QWindow | None) -> None:
        self.protect_all_visible()

    def _on_application_state(self, state: Qt.ApplicationState) -> None:
        self.application_active.emit(state == Qt.ApplicationState.ApplicationActive)

    def idle_seconds(self) -> float:
        return time.monotonic() - self.last_activity
