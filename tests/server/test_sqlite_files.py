"""SQLite files opened at once by several processes: the database, the replay cache."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from server import dpop_replay, engines
from server.dpop_replay import SharedReplayCache
from server.sqlite_wal import is_damaged

#: Each round ~1.5 % likely to meet the race without the retry (measured): 400 rounds
#: meet it about six times, so a test fails without it in all but ~0.3 % of runs.
_ROUNDS = 400
_OPENERS = 3


def _open_at_once(tmp_path: Path, open_one: Callable[[Path], object]) -> None:
    """``open_one`` on a new file by three threads at once, for each round (failures
    are asserted at the end, with every round's message)."""
    failures: list[str] = []
    for round_ in range(_ROUNDS):
        path = tmp_path / f"r{round_}.sqlite3"
        barrier = threading.Barrier(_OPENERS)

        def run(where: Path = path, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                open_one(where)
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                failures.append(f"{type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=run) for _ in range(_OPENERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with closing(sqlite3.connect(path)) as check:
            assert check.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert failures == []


def test_connections_opened_at_once_on_a_new_file_all_switch_it_to_wal(tmp_path: Path) -> None:
    """Two server processes starting on a new directory each switch the new file to WAL;
    SQLite answers one of two simultaneous switches SQLITE_BUSY at once (no busy
    handler: it would deadlock). Every opener still connects, and the file is in WAL."""

    def connect(where: Path) -> None:
        engine = engines.make_writer_engine(where)
        try:
            with engine.connect():
                pass
        finally:
            engine.dispose()

    _open_at_once(tmp_path, connect)


_CACHE_ROUNDS = 800  # measured: the old opening failed ~1 % of rounds across processes
_JUNK = b"not a database, and long enough to be read as a header" * 40


def _cache_process(index: int, root: str, rounds: int, step: Any, problems: Any) -> None:
    """One server process's part in each round: open the round's cache file with the
    others; process 0 takes a proof; then the others offer it (a replay)."""
    try:
        for round_ in range(rounds):
            step.wait(60)
            try:
                cache: SharedReplayCache | None = SharedReplayCache(
                    Path(root) / f"r{round_}.sqlite3"
                )
            except Exception as exc:  # noqa: BLE001 - reported to the test
                problems.put(f"round {round_}, process {index}: {exc!r}")
                cache = None
            step.wait(60)
            if index == 0 and cache is not None:
                cache.first_use("jti-1", now=1000.0)
            step.wait(60)
            if index and cache is not None and cache.first_use("jti-1", now=1000.0):
                problems.put(f"round {round_}, process {index}: a replay accepted")
    except BaseException as exc:  # noqa: BLE001 - a broken round ends the test, with why
        problems.put(f"process {index} stopped: {exc!r}")
        step.abort()
    finally:
        problems.put(None)


def _caches_at_once(root: Path, rounds: int) -> list[str]:
    """Three processes run :func:`_cache_process`; what went wrong, by round."""
    forked = multiprocessing.get_context("fork")
    step, problems = forked.Barrier(_OPENERS), forked.Queue()
    processes = [
        forked.Process(target=_cache_process, args=(i, str(root), rounds, step, problems))
        for i in range(_OPENERS)
    ]
    for process in processes:
        process.start()
    found: list[str] = []
    try:
        finished = 0
        while finished < _OPENERS:
            message = problems.get(timeout=120)
            if message is None:
                finished += 1
            else:
                found.append(message)
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
    return found


def test_replay_caches_opened_at_once_on_a_new_file_share_it(tmp_path: Path) -> None:
    """Three server processes open a new replay cache at once; a proof taken by one is a
    replay in the others. A process refused for a lock used to take the file for
    damaged and replace it: it failed to start, or kept a file of its own and accepted
    a replay the others had seen."""
    assert _caches_at_once(tmp_path, _CACHE_ROUNDS) == []


def test_processes_starting_on_a_damaged_replay_cache_share_its_replacement(
    tmp_path: Path,
) -> None:
    """After an OS crash every process finds the file damaged: one replaces it, and the
    others use that one rather than deleting it for a file of their own."""
    rounds = 300
    for round_ in range(rounds):
        (tmp_path / f"r{round_}.sqlite3").write_bytes(_JUNK)
    assert _caches_at_once(tmp_path, rounds) == []


def test_a_cache_refused_for_a_lock_keeps_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lock another process holds is an error to report, not damage: the file and the
    proofs it remembers stay."""
    path = tmp_path / "dpop-replay.sqlite3"
    assert SharedReplayCache(path).first_use("jti-1", now=1000.0)
    refusal = _a_real_lock_refusal(tmp_path / "locked.sqlite3")

    def refused(_db: object) -> None:
        raise refusal

    monkeypatch.setattr(dpop_replay, "switch_to_wal", refused)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        SharedReplayCache(path)
    monkeypatch.undo()
    assert not SharedReplayCache(path).first_use("jti-1", now=1000.0)  # still remembered


def _a_real_lock_refusal(path: Path) -> sqlite3.OperationalError:
    """The error SQLite raises for a file another connection holds exclusively."""
    with closing(sqlite3.connect(path, isolation_level=None)) as holder:
        holder.execute("CREATE TABLE t (x)")
        holder.execute("BEGIN EXCLUSIVE")
        other = sqlite3.connect(path, timeout=0)
        with closing(other), pytest.raises(sqlite3.OperationalError) as refused:
            other.execute("SELECT * FROM t")
        holder.execute("COMMIT")
    return refused.value


def test_a_damaged_replay_cache_is_replaced_and_a_locked_one_is_not_damaged(
    tmp_path: Path,
) -> None:
    damaged = tmp_path / "damaged.sqlite3"
    damaged.write_bytes(_JUNK)
    cache = SharedReplayCache(damaged)
    assert cache.first_use("jti-1", now=1000.0)
    assert not cache.first_use("jti-1", now=1000.0)

    refused = _a_real_lock_refusal(tmp_path / "locked.sqlite3")
    assert "locked" in str(refused)
    assert not is_damaged(refused)  # a lock: the file is kept
    junk = tmp_path / "junk"
    junk.write_bytes(b"junk" * 1000)
    reader = sqlite3.connect(junk)
    with closing(reader), pytest.raises(sqlite3.DatabaseError) as not_a_database:
        reader.execute("SELECT * FROM sqlite_master")
    assert is_damaged(not_a_database.value)
