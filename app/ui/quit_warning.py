"""What the status line says about delivery, and the question before quitting with work pending.

Annotations still in the outbox are safe (encrypted on this workstation, uploaded at
the next sign-in); quitting says so instead of silently leaving them behind.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMessageBox, QWidget


def sync_words(events: int, labels: int, link: str, parked: int = 0) -> str:
    """Connection state and what waits in the outbox.

    Parked entries (the server keeps failing on them) are named apart: they are safe
    in the outbox and retried later, but someone may need to look at the server.
    """
    state = {
        "online": "Server online",
        "offline": "Server offline — retrying",
        "server_error": "Server error — retrying",
        "signed_out": "Signed out",
    }.get(link, link)
    waiting = [f"{labels} annotations"] if labels else []
    waiting += [f"{events} events"] if events else []
    pending = f"{' and '.join(waiting)} pending" if waiting else "all delivered"
    text = f"{state} · {pending}"
    if parked:
        text += f" · {parked} set aside after server errors, retried later"
    return text


def ask_to_quit(parent: QWidget, pending: int, confirmed: Callable[[], None]) -> QMessageBox:
    """Ask (non-blocking) before quitting with ``pending`` annotations not on the server."""
    n = pending
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        "Quit Cordon?",
        f"{n} annotation{'s' if n != 1 else ''} not on the server yet. "
        "They stay encrypted on this workstation and upload at your next sign-in.",
        QMessageBox.StandardButton.Cancel,
        parent,
    )
    box.setObjectName("quitWarning")
    quit_button = box.addButton("Quit anyway", QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.finished.connect(lambda _r: confirmed() if box.clickedButton() is quit_button else None)
    box.open()
    return box
