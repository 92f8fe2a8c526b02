"""Which of several server processes on one data directory runs the singletons.

Checkpoint signing, retention and erasure jobs, and re-signing the update
metadata must each run in exactly one process: two signers would write two
checkpoints of one size (one of them refused by the database, both exported),
two retention rounds would start duplicate erasure jobs. The process that holds
an exclusive ``flock`` on ``leader.lock`` in the data directory leads; the lock
goes with the process (the kernel releases it when the process dies, however it
dies), and another process takes the lead at its next round.

Held once per process and data directory, whichever of its contexts asked first
(tests open several contexts on one directory in one process).
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from server.datadir import DataDir

_held: dict[Path, int] = {}
_lock = threading.Lock()


def leads(data: DataDir) -> bool:
    """Whether this process leads ``data`` (taking the lead if no process holds it)."""
    path = (data.root / "leader.lock").resolve()
    with _lock:
        if path in _held:
            return True
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        _held[path] = fd
        return True
