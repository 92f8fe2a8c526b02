"""Group commit: many requests' writes in one durable transaction, the lock held briefly.

With ``synchronous=FULL`` (SQLite) or ``synchronous_commit=on`` (PostgreSQL)
every commit waits for an fsync, so one transaction per request caps ingest at
a few hundred requests a second. Here one writer thread takes every request
waiting for it and commits them together: one fsync for the group. Only after
that commit does any request get its answer, so an acknowledgement always means
"on disk".

The group runs in two phases, so the one write lock (:mod:`server.dialect`) is
held for the ordered work only:

1. each job's :meth:`GroupJob.prepare` reads what it needs (who the caller's
   device is, which tasks it may see) *before* the lock. On PostgreSQL another
   process's group holds the lock meanwhile; on SQLite ``BEGIN IMMEDIATE``
   already holds it (one writer per database file either way);
2. under the lock, the job type's :meth:`GroupJob.apply_group` does the ordered
   work once for the whole group — de-duplicating, numbering and inserting every
   job's rows in one statement each — where it used to be done once per request.

A job refused on its own (a bad idempotency key, say) gets its own exception
back and the others commit. If the group's transaction fails (a database error,
or a bug one job's input triggers), every job of the group is run again alone,
each in its own transaction: the one that breaks it fails alone, with
:class:`~server.audit.AuditUnavailableError` for a database error, and the others
commit as if it had not been there.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Protocol, Self

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from server import dialect
from server.audit import AuditUnavailableError

logger = logging.getLogger(__name__)

#: Requests per transaction at most (bounds the time one fsync keeps others waiting).
MAX_GROUP = 64
_STOP = object()


class GroupJob(Protocol):
    """One request's share of a group (see the module docstring for the two phases)."""

    def prepare(self, conn: Connection) -> None:
        """Reads before the write lock; an exception refuses this job alone."""

    @classmethod
    def apply_group(cls, conn: Connection, jobs: Sequence[Self]) -> list[object]:
        """The ordered work of ``jobs`` (in arrival order) under the write lock.

        Returns one outcome per job: its answer, or an exception it is refused with.
        """
        ...


class GroupCommitter:
    """Runs jobs on one thread, committing them in groups."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        #: Called after each committed group (the checkpointer's nudge).
        self.after_commit: Callable[[], None] | None = None
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        #: Transactions committed and the requests in them (a test checks requests were grouped).
        self.groups = 0
        self.requests = 0
        #: Seconds the write lock was held, from taking it to the commit's end (on SQLite
        #: from BEGIN, reads included), in wall time and in this thread's CPU time
        #: (``cordon-bench`` B11L reports them).
        self.locked_s = 0.0
        self.locked_cpu_s = 0.0

    def run(self, job: GroupJob, timeout: float = 30.0) -> Any:
        """Run ``job`` in the next group and return its outcome once committed."""
        future: Future[Any] = Future()
        with self._lock:
            if self._thread is None:  # started lazily, so a bare app (tests) works too
                self._thread = threading.Thread(
                    target=self._loop, name="cordon-group-commit", daemon=True
                )
                self._thread.start()
            self._queue.put((job, future))
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

    def _commit(self, group: list[tuple[GroupJob, Future[Any]]]) -> None:
        try:
            outcomes = self.run_group([job for job, _future in group])
        except Exception as exc:  # noqa: BLE001 - handed to the jobs, or each tried alone
            if len(group) > 1:
                logger.warning("group failed (%s): each job alone", type(exc).__name__)
                for item in group:
                    self._commit([item])
                return
            if isinstance(exc, SQLAlchemyError):
                logger.error("group commit failed: %s", type(exc).__name__)
                exc = AuditUnavailableError("the audit log cannot be written")
            group[0][1].set_exception(exc)
            return
        self.groups += 1
        self.requests += len(group)
        for (_job, future), outcome in zip(group, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
        if self.after_commit is not None:
            self.after_commit()

    def run_group(self, jobs: Sequence[GroupJob]) -> list[object]:
        """Run ``jobs`` as one group on the calling thread: one outcome each (an exception
        if refused). A failed transaction raises. The committer's thread calls it."""
        outcomes: list[object] = [None] * len(jobs)
        with self._engine.begin() as conn:
            # SQLite's lock is held from BEGIN IMMEDIATE, so its count starts here.
            locked, locked_cpu = time.perf_counter(), time.thread_time()
            ready: list[int] = []
            for position, job in enumerate(jobs):
                try:
                    job.prepare(conn)
                except SQLAlchemyError:
                    raise  # the transaction is spoilt (PostgreSQL): the whole group retries
                except Exception as exc:  # noqa: BLE001 - this job's own refusal
                    outcomes[position] = exc
                else:
                    ready.append(position)
            dialect.lock_for_writing(conn)
            if conn.dialect.name == "postgresql":  # held from here on
                locked, locked_cpu = time.perf_counter(), time.thread_time()
            kinds: dict[type[GroupJob], list[int]] = {}
            for position in ready:
                kinds.setdefault(type(jobs[position]), []).append(position)
            for kind, positions in kinds.items():
                applied = kind.apply_group(conn, [jobs[p] for p in positions])
                for position, outcome in zip(positions, applied, strict=True):
                    outcomes[position] = outcome
        # Committed: the lock is gone with the transaction.
        self.locked_s += time.perf_counter() - locked
        self.locked_cpu_s += time.thread_time() - locked_cpu
        return outcomes
