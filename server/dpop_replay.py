"""The DPoP replay cache: the ``jti``s seen, kept in a file of the data directory.

A file, not memory: several processes behind one port must share what they
have seen (a proof replayed on a connection another process holds would be
accepted once more there), and a restarted server must remember the proofs of
the last 150 s (its nonces come from the same secret, so they would still
pass). A small SQLite file of its own — not the main database: its own write
lock, held for one insert, and no fsync per insert (``synchronous=NORMAL``) —
pruned as the proofs age out. A damaged file (an OS crash) is replaced by an
empty one rather than stopping the server. Processes open it one at a time, under
a lock file beside it, so that processes starting together after the crash neither
open a replacement half made nor delete the one another has just made.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sqlite3
import threading
from pathlib import Path

from server.dpop import PROOF_MAX_AGE_S, PROOF_MAX_AHEAD_S
from server.sqlite_wal import is_damaged, switch_to_wal

PRUNE_EVERY_S = 5.0


def _open(path: Path) -> sqlite3.Connection:
    old = os.umask(0o077)  # the file and its -wal/-shm: the server's user only
    try:
        db = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
        try:
            switch_to_wal(db)
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS seen (jti BLOB PRIMARY KEY, until REAL)")
        except BaseException:
            db.close()
            raise
    finally:
        os.umask(old)
    return db


def _open_or_replace(path: Path) -> sqlite3.Connection:
    """:func:`_open`, one process at a time; a file SQLite finds damaged is replaced.

    Under a lock file beside it, held while opening: a process starting beside one
    that is replacing the file would otherwise open the replacement half made (a
    "disk I/O error"), or delete it for a replacement of its own.
    """
    old = os.umask(0o077)
    try:
        guard = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    finally:
        os.umask(old)
    try:
        fcntl.flock(guard, fcntl.LOCK_EX)
        try:
            return _open(path)
        except sqlite3.DatabaseError as exc:
            if not is_damaged(exc):
                raise  # a lock another process holds, a full disk: not the file's fault
        for stale in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm"))):
            stale.unlink(missing_ok=True)
        return _open(path)
    finally:
        os.close(guard)  # releases the lock


class SharedReplayCache:
    """``first_use`` across processes: an insert that a second use cannot repeat."""

    def __init__(self, path: Path, keep_s: int = PROOF_MAX_AGE_S + PROOF_MAX_AHEAD_S) -> None:
        self._keep = keep_s
        self._lock = threading.Lock()
        self._next_prune = 0.0
        self._db = _open_or_replace(path)

    def first_use(self, jti: str, now: float) -> bool:
        """Remember ``jti``; ``False`` if any process already saw it."""
        key = hashlib.sha256(jti.encode()).digest()
        with self._lock:
            if now >= self._next_prune:
                self._db.execute("DELETE FROM seen WHERE until <= ?", (now,))
                self._next_prune = now + PRUNE_EVERY_S
            try:
                self._db.execute("INSERT INTO seen VALUES (?, ?)", (key, now + self._keep))
            except sqlite3.IntegrityError:
                return False
            return True
