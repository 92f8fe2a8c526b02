"""A FIFO of jobs run one at a time on a worker QThread.

Jobs are plain callables; their result or exception comes back to the GUI
thread through a queued signal, where the job's callbacks run. A failing job
never stops the queue. :meth:`JobQueue.stop` sends a sentinel and waits for the
thread to finish — never ``terminate()``.
"""

from __future__ import annotations

import logging
import queue
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

logger = logging.getLogger(__name__)

_RUNNING: weakref.WeakSet[JobQueue] = weakref.WeakSet()


def running_queues() -> list[str]:
    """Names of job queues whose thread has not been stopped (tests assert this is empty)."""
    return sorted(q.name for q in _RUNNING)


@dataclass
class Job:
    name: str
    run: Callable[[], Any]
    on_done: Callable[[Any], None] | None = None
    on_error: Callable[[Exception], None] | None = None


class _Runner(QObject):
    finished_job = Signal(object, object, object)  # job, result, error

    def __init__(self, jobs: queue.Queue[Job | None], on_exit: Callable[[], None] | None) -> None:
        super().__init__()
        self._jobs = jobs
        self._on_exit = on_exit

    @Slot()
    def run(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                result = job.run()
            except Exception as exc:  # noqa: BLE001 - every failure goes back to the caller
                logger.debug("job %s failed: %s", job.name, type(exc).__name__)
                self.finished_job.emit(job, None, exc)
            else:
                self.finished_job.emit(job, result, None)
        if self._on_exit is not None:
            self._on_exit()
        thread = self.thread()
        if thread is not None:
            thread.quit()


class JobQueue(QObject):
    """One worker thread and its queue."""

    def __init__(
        self,
        name: str,
        on_thread_exit: Callable[[], None] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self.name = name
        self._thread = QThread()
        self._thread.setObjectName(name)
        self._runner = _Runner(self._jobs, on_thread_exit)
        self._runner.moveToThread(self._thread)
        self._thread.started.connect(self._runner.run)
        self._runner.finished_job.connect(self._on_finished)
        self._pending = 0
        self._stopped = False
        self._thread.start()
        _RUNNING.add(self)

    @property
    def pending(self) -> int:
        """Jobs submitted and not yet reported back."""
        return self._pending

    def submit(
        self,
        name: str,
        run: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        if self._stopped:
            raise RuntimeError("job queue stopped")
        self._pending += 1
        self._jobs.put(Job(name, run, on_done, on_error))

    @Slot(object, object, object)
    def _on_finished(self, job: Job, result: Any, error: Exception | None) -> None:
        self._pending -= 1
        if error is not None:
            if job.on_error is not None:
                job.on_error(error)
            else:
                logger.error("job %s failed: %s", job.name, type(error).__name__)
        elif job.on_done is not None:
            job.on_done(result)

    def stop(self, timeout_ms: int = 30000) -> bool:
        """Finish the running job, drop none of the queued ones, stop the thread."""
        if self._stopped:
            return True
        self._stopped = True
        self._jobs.put(None)
        finished = self._thread.wait(timeout_ms)
        if finished:
            _RUNNING.discard(self)
        return finished
