"""Several server processes on one port: a supervisor and its workers.

``cordon-server serve --workers N`` binds the listening socket once, then
starts N copies of itself that inherit it (``--listen-fd``); the kernel hands
each new connection to one of them. Python serves one request at a time per
core under the GIL, so this is how one host uses its cores.

What the workers share, and how (the data directory is the only channel):

- the database: SQLite's write lock (``BEGIN IMMEDIATE``) is held across
  processes, so each audit log keeps one order and the idempotency, sequence
  and erasure checks still see every writer;
- DPoP: nonces from a secret in the data directory, and one replay cache file
  (:mod:`server.dpop_replay`);
- the singletons (checkpoint signing, retention, update re-signing) run only in
  the process holding ``leader.lock`` (:mod:`server.leader`).

Rate limits (sign-in refusals, update downloads) and the push channel's
revocation poller stay per process. The supervisor stops every worker when it
is told to stop, and stops them all if one dies (a service manager restarts the
whole server; half a server would keep running with a share of its capacity).
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from server.serve import announce, bind

logger = logging.getLogger(__name__)
STOP_GRACE_S = 15.0


def supervise(
    command: str, data_root: Path, ca_cert: Path, host: str, port: int,
    ready_file: Path | None, worker_args: Sequence[str], workers: int,
) -> int:  # fmt: skip
    """Run ``workers`` processes of ``cordon-server <command>`` on one socket until stopped."""
    sock = bind(host, port)
    actual = sock.getsockname()[1]
    fd = sock.fileno()
    argv = [sys.executable, "-m", "server", command, "--data-dir", str(data_root),
            "--listen-fd", str(fd), *worker_args]  # fmt: skip
    procs = [subprocess.Popen(argv, pass_fds=(fd,)) for _ in range(workers)]  # noqa: S603
    sock.close()  # the workers hold it now
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    announce(f"https://{host}:{actual}", ca_cert, ready_file)
    code = 0
    while not stop.wait(0.2):
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            logger.error("a server worker exited (%s); stopping the others", dead[0].returncode)
            code = 1
            break
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return code
