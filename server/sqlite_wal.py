"""Opening SQLite files that several processes share: the switch to WAL, and damage.

A new file starts in rollback mode. ``PRAGMA journal_mode=WAL`` reads the header
(a shared lock), then needs the exclusive lock. When two connections switch at once
(two server processes, or threads, opening a new data directory), each holds the
shared lock the other waits on, and SQLite answers one of them ``SQLITE_BUSY`` at
once rather than call the busy handler (that would deadlock). The one refused tries
again: the other's switch takes milliseconds, and WAL, once set, stays with the file.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Protocol

#: How long a new connection keeps trying to switch a new file to WAL.
WAL_SWITCH_SECONDS = 30.0


class _Executes(Protocol):
    def execute(self, sql: str, /) -> object: ...


def _code(exc: sqlite3.Error) -> int:
    """The primary result code (extended codes such as ``SQLITE_BUSY_RECOVERY`` folded)."""
    return int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF


def switch_to_wal(db: _Executes) -> None:
    """``PRAGMA journal_mode=WAL`` on a connection or cursor, tried again while busy."""
    deadline = time.monotonic() + WAL_SWITCH_SECONDS
    pause = 0.002
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if _code(exc) != sqlite3.SQLITE_BUSY or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def is_damaged(exc: sqlite3.Error) -> bool:
    """The file is not a database, or a corrupt one; not a lock or an I/O refusal.

    Only these justify replacing a file: ``sqlite3.OperationalError`` (a lock held
    by another process) is a ``DatabaseError`` too, and deleting a file another
    process has just made would part the two processes' views of it.
    """
    return _code(exc) in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT)
