"""Jobs run off the GUI thread; results and errors come back on it."""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.jobs.job_queue import JobQueue


def test_results_and_errors_come_back_on_the_gui_thread(qtbot: QtBot) -> None:
    gui = QThread.currentThread()
    exits: list[str] = []
    jobs = JobQueue("test-jobs", lambda: exits.append(threading.current_thread().name))
    seen: list[tuple[str, object, bool]] = []

    def record(kind: str) -> Callable[[object], None]:
        return lambda value: seen.append((kind, value, QThread.currentThread() is gui))

    worker_threads: list[bool] = []

    def work() -> int:
        worker_threads.append(QThread.currentThread() is gui)
        return 42

    def boom() -> int:
        raise RuntimeError("job failed")

    jobs.submit("a", work, record("done"))
    jobs.submit("b", boom, record("done"), record("error"))
    jobs.submit("c", work, record("done"))
    qtbot.waitUntil(lambda: len(seen) == 3, timeout=5000)
    assert worker_threads == [False, False]
    assert [(k, on_gui) for k, _, on_gui in seen] == [
        ("done", True),
        ("error", True),
        ("done", True),
    ]
    assert isinstance(seen[1][1], RuntimeError)
    assert jobs.pending == 0
    assert jobs.stop()
    QApplication.processEvents()
    assert len(exits) == 1
