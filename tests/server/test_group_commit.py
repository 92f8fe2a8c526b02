"""The group committer: requests grouped into one transaction, refusals kept apart, a failed
group retried job by job, and each job's reads done on its own thread, while another
transaction holds the one write lock (:mod:`server.group_commit`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Self

import pytest
from sqlalchemy import Connection, Engine, text

from devtools.postgres import new_database
from server import db, dialect
from server.audit import AuditUnavailableError
from server.group_commit import GroupCommitter
from tests.fixtures import init_data_dir


class _Insert:
    """A job inserting ``value`` into ``t``: 3 is refused under the lock, 4 before it."""

    gate: threading.Event | None = None
    prepared: threading.Event | None = None
    holding: threading.Event | None = None

    def __init__(self, value: int) -> None:
        self.value = value
        self.read_on: threading.Thread | None = None
        self.retried: list[bool] = []

    def prepare(self, conn: Connection) -> None:
        conn.execute(text("SELECT count(*) FROM t")).scalar()
        self.read_on = threading.current_thread()
        if self.prepared is not None:
            self.prepared.set()
        if self.value == 4:
            raise ValueError("refused before the lock")

    @classmethod
    def apply_group(cls, conn: Connection, jobs: Sequence[Self], *, retried: bool) -> list[object]:
        outcomes: list[object] = []
        for job in jobs:
            job.retried.append(retried)
            if job.holding is not None and job.gate is not None:
                job.holding.set()
                job.gate.wait(5)  # hold the writer so the others queue into one group
            if job.value == 3:
                outcomes.append(ValueError("refused"))
                continue
            conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": job.value})
            outcomes.append(job.value)
        return outcomes


def _engine(url: str) -> Engine:
    engine = db.make_writer_engine(url, lock_at_begin=False)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (v INTEGER UNIQUE)"))
    return engine


def _run_all(committer: GroupCommitter, jobs: list[_Insert]) -> list[object]:
    """Submit ``jobs`` from threads of their own, the first holding the writer meanwhile."""
    results: list[object] = [None] * len(jobs)

    def run(position: int) -> None:
        try:
            results[position] = committer.run(jobs[position])
        except (ValueError, AuditUnavailableError) as exc:
            results[position] = type(exc).__name__

    gate = threading.Event()
    jobs[0].gate, jobs[0].holding = gate, threading.Event()
    first = threading.Thread(target=run, args=(0,), name="submit-0")
    first.start()
    assert jobs[0].holding.wait(5)
    others = [
        threading.Thread(target=run, args=(p,), name=f"submit-{p}") for p in range(1, len(jobs))
    ]
    queued = 0
    for job, thread in zip(jobs[1:], others, strict=True):  # queued in this order
        thread.start()
        if job.value == 4:  # refused on its own thread before it queues
            thread.join(10)
            continue
        queued += 1
        deadline = time.monotonic() + 10
        while committer._queue.qsize() < queued:
            assert time.monotonic() < deadline, "a job never queued"
            threading.Event().wait(0.005)
    gate.set()
    for thread in [first, *others]:
        thread.join(10)
    return results


@pytest.fixture
def committer(tmp_path: Path) -> Iterator[GroupCommitter]:
    """A committer on this run's engine (the data directory's: SQLite, or PostgreSQL)."""
    url = init_data_dir(tmp_path / "data").database_url
    engine, reader = _engine(url), db.make_engine(url)
    committer = GroupCommitter(engine, reader=reader)
    yield committer
    committer.stop()
    engine.dispose()
    reader.dispose()


def _stored(committer: GroupCommitter) -> list[int]:
    with committer._engine.connect() as conn:
        return sorted(conn.execute(text("SELECT v FROM t")).scalars())


def test_requests_share_a_transaction_and_a_refusal_stays_its_own(
    committer: GroupCommitter,
) -> None:
    jobs = [_Insert(v) for v in (0, 1, 2, 3, 4, 5)]
    results = _run_all(committer, jobs)
    # the first, then the rest but 4, which its own thread refused before queueing it
    assert committer.groups == 2 and committer.requests == 5
    assert results == [0, 1, 2, "ValueError", "ValueError", 5]
    assert _stored(committer) == [0, 1, 2, 5]
    # Each job read on the thread that submitted it, not on the committer's.
    assert all(j.read_on is not None and j.read_on.name.startswith("submit-") for j in jobs)
    assert [j.retried for j in jobs] == [[False]] * 4 + [[]] + [[False]]


def test_a_group_the_database_refuses_is_retried_one_by_one(committer: GroupCommitter) -> None:
    # The second 2 breaks UNIQUE: the group fails, and then only that request does.
    jobs = [_Insert(v) for v in (0, 1, 2, 2, 6)]
    results = _run_all(committer, jobs)
    assert results == [0, 1, 2, "AuditUnavailableError", 6]
    assert _stored(committer) == [0, 1, 2, 6]
    # The failed group ran once more as a whole, then each job alone, told so each time
    # (to check its reads again); both group attempts broke at the second 2, before 6.
    assert [j.retried for j in jobs] == [[False]] + [[False, True, True]] * 3 + [[True]]


def test_on_postgresql_reads_go_before_the_write_lock_and_writes_after(postgres: str) -> None:
    """Another process's group holds the lock: this group's reads still run; its writes wait."""
    engine = _engine(new_database(postgres))
    url = engine.url.render_as_string(hide_password=False)
    holder, reader = db.make_writer_engine(url), db.make_engine(url)
    committer = GroupCommitter(engine, reader=reader)
    job = _Insert(7)
    job.prepared = threading.Event()
    result: list[object] = []
    try:
        with holder.begin() as conn:  # takes the write lock at BEGIN, as every writer does
            conn.execute(text("SELECT 1"))
            waiting = threading.Thread(target=lambda: result.append(committer.run(job)))
            waiting.start()
            assert job.prepared.wait(10), "the reads waited for the lock"
            waiting.join(0.5)
            assert waiting.is_alive() and result == [], "it wrote without the lock"
            conn.execute(text("INSERT INTO t VALUES (8)"))
        waiting.join(10)
        assert result == [7]
        with engine.connect() as conn:
            assert list(conn.execute(text("SELECT v FROM t ORDER BY v")).scalars()) == [7, 8]
            locks = text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :lock "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
            # the lock went with the holder's transaction and with the group's
            assert conn.execute(locks, {"lock": dialect.WRITE_LOCK}).scalar() == 0
    finally:
        committer.stop()
        engine.dispose()
        holder.dispose()
        reader.dispose()
