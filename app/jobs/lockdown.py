"""Lockdown decisions: curtain, idle lock, capture and clipboard audit.

Widgets report what happened (focus lost, a key, a refused copy); this object
applies the policy and records access events through the controller. It holds
no widget: ``app.main`` wires the curtain, the watermark and the filter to it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from app.jobs.controller import Controller
from app.lockdown.capture_guard import CaptureGuard
from app.lockdown.policy import Policy, PolicyValue
from app.lockdown.policy_sources import write_user_policy
from app.wire.schemas import AccessAction, Outcome

logger = logging.getLogger(__name__)

IDLE_CHECK_MS = 5_000


#: What the annotator is told when the policy refuses a copy, cut, paste or drop.
BLOCKED_NOTICES = {
    "clipboard_blocked": "Copying out of Cordon is blocked by your organisation's policy.",
    "paste_blocked": "Pasting into Cordon is blocked by your organisation's policy.",
}
#: The same notice is not repeated within this many seconds (each refusal is still audited).
NOTICE_QUIET_S = 10.0


class LockdownController(QObject):
    curtain_changed = Signal(bool)  # covered
    notice = Signal(str)  # a short message for the status bar

    def __init__(
        self,
        controller: Controller,
        policy: Policy,
        guard: CaptureGuard,
        idle_seconds: Callable[[], float],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._controller = controller
        self.policy = policy
        self._guard = guard
        self._idle_seconds = idle_seconds
        self.covered = False
        self._last_notice: dict[str, float] = {}
        self.idle_limit_s = policy.number("idle_lock_minutes") * 60
        self._idle_timer = QTimer(self)
        self._idle_timer.setInterval(IDLE_CHECK_MS)
        self._idle_timer.timeout.connect(self.check_idle)
        self._idle_timer.start()

    # -- what widgets report -----------------------------------------------------
    def application_active(self, active: bool, reason: str) -> None:
        """Focus moved to or from Cordon (or it was minimized / restored)."""
        if not self.policy.flag("curtain_on_focus_loss"):
            return
        if not active and not self.covered:
            self.covered = True
            self._controller.pause()
            self.curtain_changed.emit(True)
            self._audit(AccessAction.CURTAIN_SHOWN, reason)
        elif active and self.covered:
            self.covered = False
            self.curtain_changed.emit(False)
            self._audit(AccessAction.CURTAIN_LIFTED, reason)

    def capture_key_pressed(self) -> None:
        logger.warning("PrintScreen pressed: recorded as a capture attempt")
        self._audit(AccessAction.CAPTURE_ATTEMPT, "print_screen", Outcome.FAILED)

    def protection_failed(self, window_class: str, reason: str) -> None:
        self._audit(AccessAction.CAPTURE_GUARD_FAILED, reason, Outcome.FAILED)

    def blocked(self, action: str, reason: str) -> None:
        """A copy, cut, paste or drop the policy refused: audited, and said once in a while."""
        self._audit(AccessAction(action), reason, Outcome.REFUSED)
        now = time.monotonic()
        if now - self._last_notice.get(action, -NOTICE_QUIET_S) >= NOTICE_QUIET_S:
            self._last_notice[action] = now
            self.notice.emit(BLOCKED_NOTICES[action])

    def signed_in(self) -> None:
        """Say once per session whether this display lets others capture Cordon."""
        reason = self._guard.unprotected_reason()
        if reason is not None:
            self._audit(AccessAction.CAPTURE_UNPROTECTED, reason, Outcome.FAILED)

    # -- idle lock ---------------------------------------------------------------
    def check_idle(self) -> None:
        if self._controller.is_signed_in and self._idle_seconds() >= self.idle_limit_s:
            self.lock_now()

    def lock_now(self) -> None:
        minutes = self.policy.number("idle_lock_minutes")
        self._controller.lock(
            f"Cordon locked after {minutes} minutes without input. Unsaved work was kept "
            "as a draft. Sign in to continue.",
        )

    # -- settings ------------------------------------------------------------------
    def save_user_policy(self, values: dict[str, PolicyValue], path: Path | None = None) -> Path:
        """Save the annotator's unlocked settings; locked keys are never written."""
        unlocked = {k: v for k, v in values.items() if not self.policy.locked(k)}
        return write_user_policy(unlocked, path)

    def stop(self) -> None:
        self._idle_timer.stop()

    def _audit(self, action: AccessAction, reason: str, outcome: Outcome = Outcome.OK) -> None:
        if self._controller.is_signed_in:
            self._controller.record(action, outcome, reason)
