"""A DPoP replay cache shared by every server process on one data directory.

One process keeps the ``jti``s it has seen in memory (:class:`server.dpop.ReplayCache`);
several processes behind one port must share them, or a proof replayed on a
connection that lands on another process would be accepted once more there.
They share a small SQLite file of their own (not the main database: no fsync,
its own write lock held for one insert), pruned as the proofs age out. Losing
it in a crash loses nothing a restart would not (proofs are fresh for 150 s,
and a restarted server's nonces still bound them).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

from server.dpop import PROOF_MAX_AGE_S, PROOF_MAX_AHEAD_S

PRUNE_EVERY_S = 5.0


class SharedReplayCache:
    """``first_use`` across processes: an insert that a second use cannot repeat."""

    def __init__(self, path: Path, keep_s: int = PROOF_MAX_AGE_S + PROOF_MAX_AHEAD_S) -> None:
        self._keep = keep_s
        self._lock = threading.Lock()
        self._next_prune = 0.0
        self._db = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE IF NOT EXISTS seen (jti BLOB PRIMARY KEY, until REAL)")
        path.chmod(0o600)

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
