"""Update checks on their own worker thread: at sign-in, then every 24 hours.

Own queue, not the controller's ``network`` one: downloading an installer of
tens of megabytes must not hold up the task list. Results come back to the GUI
thread as signals: ``offered`` when the person is to be asked (policy ``ask``),
``notice`` with words for the status bar. A refusal changes nothing on this
workstation (the running version stays); the checker has already reported it
to the audit log.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from app.jobs.job_queue import JobQueue
from app.lockdown.policy import Policy
from app.services.events import EventRecorder
from app.services.update_install import InstallRefusedError, UpdateInstaller
from app.services.updates import (
    NOT_AUDITED,
    UpdateChecker,
    UpdateOffer,
    UpdateRefusedError,
    audit_refusal,
)

logger = logging.getLogger(__name__)
#: Between checks while Cordon runs.
CHECK_INTERVAL_MS = 24 * 3600 * 1000


class UpdateOps(QObject):
    """Schedules checks, asks for consent when the policy says so, hands over installs."""

    offered = Signal(object)  # UpdateOffer, verified, waiting for the person's answer
    notice = Signal(str)  # what happened, in words
    refused = Signal(str)  # a refusal's code (already reported to the audit log)

    def __init__(
        self, checker: UpdateChecker, installer: UpdateInstaller,
        interval_ms: int = CHECK_INTERVAL_MS, parent: QObject | None = None,
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self.checker, self.installer = checker, installer
        self._queue = JobQueue("cordon-updates", None, self)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check_now)
        self._busy = False
        self._stopped = False
        self._waiting: UpdateOffer | None = None  # downloaded, the person not asked yet

    def start(self) -> None:
        """Check now and then every interval (a second sign-in does not restart it)."""
        if not self._timer.isActive():
            self._timer.start()
            self.check_now()

    def check_now(self) -> None:
        """Check unless a check runs or a found update still waits for its answer."""
        if self._busy or self._waiting is not None:
            return
        self._busy = True
        download = self.installer.downloads
        self._queue.submit(
            "update-check", lambda: self.checker.check(download=download), self._found,
            self._failed,
        )  # fmt: skip

    def _found(self, offer: UpdateOffer | None) -> None:
        self._busy = False
        if offer is None:
            return
        if self._stopped:  # finished after Cordon began to quit: nobody to ask
            offer.discard()
            return
        if not self.installer.downloads:
            self.notice.emit(f"Cordon {offer.version} is available; IT installs updates.")
        elif self.installer.asks:
            self._waiting = offer
            self.offered.emit(offer)
        else:
            self.answer(offer, True)

    def _failed(self, error: Exception) -> None:
        self._busy = False
        code = error.code if isinstance(error, UpdateRefusedError) else "unexpected"
        self.refused.emit(code)
        if isinstance(error, UpdateRefusedError) and code not in NOT_AUDITED:
            self.notice.emit(
                "An update was refused: it failed verification. Cordon stays as it is."
            )

    def answer(self, offer: UpdateOffer, yes: bool) -> None:
        """The person's answer (or the policy's, under ``automatic``): install or discard."""
        self._waiting = None
        if self._stopped:
            offer.discard()
            return
        self._queue.submit(
            "update-install", lambda: self.installer.install(offer, consented=yes),
            lambda _none: self.notice.emit(f"Cordon {offer.version} is being installed."),
            self._install_failed,
        )  # fmt: skip

    def _install_failed(self, error: Exception) -> None:
        code = error.code if isinstance(error, InstallRefusedError) else "unexpected"
        logger.info("update not installed (%s)", code)
        if code == "installer_failed":
            self.notice.emit("The update could not be installed. Cordon stays as it is.")

    def stop(self) -> bool:
        """Stop the timer and the worker; a download in progress ends at its next piece."""
        self._stopped = True
        self._timer.stop()
        self.checker.cancel()
        stopped = self._queue.stop()
        if self._waiting is not None:  # never answered: the downloaded file goes
            self._waiting.discard()
        return stopped


def update_ops_for(
    policy: Policy, server_url: str, ca_file: Path, metadata_dir: Path, events: EventRecorder,
    parent: QObject | None = None,
) -> UpdateOps | None:  # fmt: skip
    """The update checks the machine policy asks for, or None (no ``update_root_file``)."""
    root_file = policy.choice("update_root_file").strip()
    if not root_file:
        return None
    checker = UpdateChecker(server_url, ca_file, Path(root_file), metadata_dir,
                            audit_refusal(events))  # fmt: skip
    installer = UpdateInstaller(policy.choice("update_install"), checker.platform)
    return UpdateOps(checker, installer, parent=parent)
