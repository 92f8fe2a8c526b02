"""Quitting cleanly on SIGTERM/SIGINT, so decrypted audio is zeroed on the way out."""

from __future__ import annotations

import signal

from PySide6.QtCore import QCoreApplication, QTimer

from app.ui.main_window import MainWindow


def quit_on_signals(qt_app: QCoreApplication, window: MainWindow) -> None:
    """SIGTERM/SIGINT end the event loop normally, so decrypted audio is zeroed on the way out.

    Python runs signal handlers only between bytecodes; a short timer gives
    it that chance while Qt's C++ event loop is waiting. The handler only
    schedules the quit: it runs inside whatever Python code Qt is calling at
    that moment (often the application event filter, in the middle of a paint
    or layout event), and quitting there closes the window and tears the plots
    down under the object Qt is still delivering to (SIGSEGV on exit). A zero
    timer quits from the event loop, with no event in flight. No question is
    asked about pending transcripts: the system is ending the session, and they
    are safe in the outbox.
    """

    def quit_now() -> None:
        window.quit_without_asking()
        qt_app.quit()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: QTimer.singleShot(0, quit_now))
    ticker = QTimer(qt_app)
    ticker.timeout.connect(lambda: None)
    ticker.start(250)
