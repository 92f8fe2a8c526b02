"""Asking the person signed in whether to install a verified update (policy ``ask``).

Only a yes runs the installer; closing the dialog is a no. The question names
the version only: it was verified before anyone is asked, so there is nothing
for the person to judge but the timing (an install may close Cordon).
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMainWindow, QMessageBox, QWidget

from app.jobs.controller import Controller
from app.jobs.update_ops import UpdateOps
from app.services.updates import UpdateOffer

#: How long an update notice stays in the status bar.
NOTICE_MS = 10_000


class UpdatePrompt(QMessageBox):
    """ "Install Cordon X now?" — emits ``answered`` once, with the person's choice."""

    answered = Signal(bool)

    def __init__(self, version: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Cordon update")
        self.setIcon(QMessageBox.Icon.Question)
        self.setText(f"Cordon {version} is ready to install.")
        self.setInformativeText(
            "It was checked against the signatures your organisation trusts. Installing may "
            "close Cordon; your work is kept. Install it now?"
        )
        self.install = self.addButton("Install", QMessageBox.ButtonRole.AcceptRole)
        self.later = self.addButton("Not now", QMessageBox.ButtonRole.RejectRole)
        self.setDefaultButton(self.later)
        self.setEscapeButton(self.later)
        self._sent = False
        self.finished.connect(lambda _result: self._send(self.clickedButton() is self.install))

    def _send(self, yes: bool) -> None:
        if not self._sent:
            self._sent = True
            self.answered.emit(yes)


def wire_updates(ops: UpdateOps | None, c: Controller, window: QMainWindow) -> None:
    """Checks start after sign-in; offers are asked about; notices reach the status bar."""
    if ops is None:
        return

    def ask(offer: UpdateOffer) -> None:
        prompt = UpdatePrompt(offer.version, window)
        prompt.answered.connect(lambda yes: ops.answer(offer, yes))
        prompt.open()

    c.signed_in.connect(lambda _user: ops.start())
    ops.offered.connect(ask)
    ops.notice.connect(lambda text: window.statusBar().showMessage(text, NOTICE_MS))
