"""Group commit: many requests' writes in one durable transaction, the lock held briefly.

With ``synchronous=FULL`` (SQLite) or ``synchronous_commit=on`` (PostgreSQL)
every commit waits for an fsync, so one transaction per request caps ingest at
a few hundred requests a second. Here one writer thread takes every request
waiting for it and commits them together: one fsync for the group. Only after
that commit does any request get its answer, so an acknowledgement always means
"on disk".

A job runs in two phases, so the one write lock (:mod:`server.dialect`) and the
committer's one thread are spent on the ordered work only:

1. :meth:`GroupJob.prepare` reads what the job needs (who the caller's device
   is, which tasks it may see) on the *request's own thread*, with a
   connection of the read engine, before the job is queued. Many requests do
   this at once, in every server process, while a group holds the lock;
2. under the lock, the job type's :meth:`GroupJob.apply_group` does the ordered
   work once for the whole group — de-duplicating, numbering and inserting every
   job's rows in one statement each — where it used to be done once per request.

A job refused on its own (a bad idempotency key, say) gets its own exception
back and the others commit. If the group's transaction fails (most often a row
another request stored between a job's reads and the lock; or a database
error, or a bug one job's input triggers), the group is run once more with
``retried=True``, so that its jobs check under the lock what they read before
it. If that fails too, every job is run again alone, each in its own
transaction: the one that breaks the group fails alone, with
:class:`~server.audit.AuditUnavailableError` for a database error, and the
others commit as if it had not been there. A job is not prepared again for
that: what it built from its reads is still valid, because nothing of the
failed transaction was kept.
"""

from __future__ import annotations

import contextvars
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Protocol, Self

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from server import dialect, row_security
from server.audit import AuditUnavailableError

logger = logging.getLogger(__name__)

#: Requests per transaction at most (bounds the time one fsync keeps others waiting).
MAX_GROUP = 64
_STOP = object()


class GroupJob(Protocol):
    """One request's share of a group (see the module docstring for the two phases)."""

    def prepare(self, conn: Connection) -> None:
        """Reads on the request's thread before the job is queued (no lock, another
        group may be committing); an exception refuses this job alone."""

    @classmethod
    def apply_group(cls, conn: Connection, jobs: Sequence[Self], *, retried: bool) -> list[object]:
        """The ordered work of ``jobs`` (in arrival order) under the write lock.

        ``retried``: ``jobs`` run again after their group failed (the whole group
        once more, then each job alone); whatever they read in :meth:`prepare` that
        another request may have changed since must be checked again here. Returns
        one outcome per job: its answer, or an exception it is refused with.
        """
        ...


class GroupCommitter:
    """Runs jobs on one thread, committing them in groups."""

    def __init__(self, engine: Engine, *, reader: Engine) -> None:
        """``engine`` writes (the group's transactions); ``reader`` serves each job's reads
        on its request's thread (on SQLite it must not be a writer engine, whose
        ``BEGIN IMMEDIATE`` would wait for the group holding the lock)."""
        self._engine = engine
        self._reader = reader
        #: Called after each committed group (the checkpointer's nudge).
        self.after_commit: Callable[[], None] | None = None
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        #: Transactions committed and the requests in them (a test checks requests were grouped).
        self.groups = 0
        self.requests = 0
        #: Seconds the write lock was held, from taking it to the commit's end, in wall
        #: time and in this thread's CPU time (``cordon-bench`` B11L reports them).
        self.locked_s = 0.0
        self.locked_cpu_s = 0.0

    def run(self, job: GroupJob, timeout: float = 30.0) -> Any:
        """Prepare ``job`` on this thread, run it in the next group and return its outcome
        once committed."""
        self.prepare(job)
        future: Future[Any] = Future()
        with self._lock:
            if self._thread is None:  # started lazily, so a bare app (tests) works too
                # In a context of its own, not the first request's (a Python that copies
                # the context into new threads would scope every group to that caller).
                self._thread = threading.Thread(
                    target=contextvars.Context().run,
                    args=(self._loop,),
                    name="cordon-group-commit",
                    daemon=True,
                )
                self._thread.start()
            self._queue.put((job, future))
        return future.result(timeout)

    def prepare(self, job: GroupJob) -> None:
        """``job``'s reads, on the calling thread; its refusal is raised as it is, a
        database error as :class:`~server.audit.AuditUnavailableError` (fail closed)."""
        try:
            with self._reader.connect() as conn:
                job.prepare(conn)
        except SQLAlchemyError as exc:
            logger.error("group job's reads failed: %s", type(exc).__name__)
            raise AuditUnavailableError("the audit log cannot be written") from exc

    def stop(self) -> None:
        """Finish the queued requests, then end the thread (a later ``run`` starts a new one)."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is not None:
                self._queue.put(_STOP)
        if thread is not None:
            thread.join(30)

    def _loop(self) -> None:
        # Its groups hold many callers' jobs, each checked when prepared in its request.
        with row_security.every_project():
            self._take_groups()

    def _take_groups(self) -> None:
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

    def _commit(self, group: list[tuple[GroupJob, Future[Any]]], *, retried: bool = False) -> None:
        try:
            outcomes = self.run_group([job for job, _future in group], retried=retried)
        except Exception as exc:  # noqa: BLE001 - handed to the jobs, or tried again
            if not retried:
                # Most often a row another request stored after a job's reads (a copy
                # of an event sent twice at once): the whole group once more, with what
                # it read checked under the lock — one transaction, not one per job.
                logger.warning(
                    "group of %d failed (%s): once more, checked under the lock",
                    len(group), type(exc).__name__,
                )  # fmt: skip
                self._commit(group, retried=True)
                return
            if len(group) > 1:  # so only the job that breaks it fails
                logger.warning(
                    "group of %d failed again (%s): each job alone", len(group), type(exc).__name__
                )
                for item in group:
                    self._commit([item], retried=True)
                return
            if isinstance(exc, SQLAlchemyError):
                logger.error("group commit failed: %s", type(exc).__name__)
                exc = AuditUnavailableError("the audit log cannot be written")
            group[0][1].set_exception(exc)
            return
        self._answer(group, outcomes)

    def _answer(self, group: list[tuple[GroupJob, Future[Any]]], outcomes: list[object]) -> None:
        """A committed group: count it, hand each job its outcome, nudge the checkpoints."""
        self.groups += 1
        self.requests += len(group)
        for (_job, future), outcome in zip(group, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
        if self.after_commit is not None:
            self.after_commit()

    def run_group(self, jobs: Sequence[GroupJob], *, retried: bool = False) -> list[object]:
        """Run ``jobs``, already prepared, as one group on the calling thread: one outcome
        each (an exception if refused). A failed transaction raises. The committer's
        thread calls it (``retried``: see :meth:`GroupJob.apply_group`)."""
        outcomes: list[object] = [None] * len(jobs)
        with self._engine.begin() as conn:
            dialect.lock_for_writing(conn)  # SQLite's is held from BEGIN IMMEDIATE already
            locked, locked_cpu = time.perf_counter(), time.thread_time()
            kinds: dict[type[GroupJob], list[int]] = {}
            for position, job in enumerate(jobs):
                kinds.setdefault(type(job), []).append(position)
            for kind, positions in kinds.items():
                applied = kind.apply_group(conn, [jobs[p] for p in positions], retried=retried)
                for position, outcome in zip(positions, applied, strict=True):
                    outcomes[position] = outcome
        # Committed: the lock is gone with the transaction.
        self.locked_s += time.perf_counter() - locked
        self.locked_cpu_s += time.thread_time() - locked_cpu
        return outcomes
