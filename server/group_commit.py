"""Group commit: many requests' writes in one durable SQLite transaction.

With ``synchronous=FULL`` every commit waits for an fsync (about 4 ms on the
reference machine), so one transaction per request caps ingest at a few hundred
requests a second, and concurrent writers sleep in SQLite's busy handler. Here
one writer thread takes every request waiting for it, runs each inside its own
SAVEPOINT (a request that fails rolls back alone and gets its own error), and
commits them all with one fsync. Only after that commit does any request get
its answer, so an acknowledgement always means "on disk".

If the commit itself fails, every request in the group gets
:class:`~server.audit.AuditUnavailableError`: none of them is acknowledged.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from server.audit import AuditUnavailableError

logger = logging.getLogger(__name__)

T = TypeVar("T")
#: Requests per transaction at most (bounds the time one fsync keeps others waiting).
MAX_GROUP = 64
_STOP = object()


class GroupCommitter:
    """Runs ``work(conn)`` calls on one thread, committing them in groups."""

    def __init__(self, engine: Engine, after_commit: Callable[[], None] | None = None) -> None:
        self._engine = engine
        self.after_commit = after_commit
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        #: Transactions committed and the requests in them (a test checks requests were grouped).
        self.groups = 0
        self.requests = 0

    def run(self, work: Callable[[Connection], T], timeout: float = 30.0) -> T:
        """Run ``work`` in the next group and return its result once committed."""
        future: Future[T] = Future()
        with self._lock:
            if self._thread is None:  # started lazily, so a bare app (tests) works too
                self._thread = threading.Thread(
                    target=self._loop, name="cordon-group-commit", daemon=True
                )
                self._thread.start()
            self._queue.put((work, future))
        return future.result(timeout)

    def stop(self) -> None:
        """Finish the queued requests, then end the thread (a later ``run`` starts a new one)."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is not None:
                self._queue.put(_STOP)
        if thread is not None:
            thread.join(30)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            group = [first]
            stop = False
            while len(group) < MAX_GROUP:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                group.append(item)
            self._commit(group)
            if stop:
                return

    def _commit(self, group: list[tuple[Callable[[Connection], Any], Future[Any]]]) -> None:
        results: list[tuple[bool, Any]] = []
        try:
            with self._engine.begin() as conn:
                for work, _future in group:
                    savepoint = conn.begin_nested()
                    try:
                        results.append((True, work(conn)))
                    except SQLAlchemyError as exc:  # this request's writes failed: fail closed
                        savepoint.rollback()
                        logger.error("ingest write failed: %s", type(exc).__name__)
                        results.append(
                            (False, AuditUnavailableError("the audit log cannot be written"))
                        )
                    except Exception as exc:  # noqa: BLE001 - it is handed to its own request
                        savepoint.rollback()
                        results.append((False, exc))
                    else:
                        savepoint.commit()
        except SQLAlchemyError as exc:
            logger.error("group commit failed: %s", type(exc).__name__)
            failure = AuditUnavailableError("the audit log cannot be written")
            for _work, future in group:
                future.set_exception(failure)
            return
        self.groups += 1
        self.requests += len(group)
        for (_work, future), (ok, value) in zip(group, results, strict=True):
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        if self.after_commit is not None:
            self.after_commit()
