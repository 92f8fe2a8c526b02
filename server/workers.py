"""Several server processes on one port: a supervisor and its workers.

``cordon-server serve --workers N`` binds N listening sockets on one port
(``SO_REUSEPORT``), then starts N copies of itself, each inheriting one
(``--listen-fd``). The kernel spreads new connections evenly across the
sockets by their addresses. One shared socket would not: each worker's event
loop accepts every pending connection when it wakes, so a burst of
workstations connecting at once (each keeping its connection open) could all
land on one worker while the other idles. Only processes of the same user can
join the port (Linux's rule for ``SO_REUSEPORT``). Python serves one request at
a time per core under the GIL, so this is how one host uses its cores.

What the workers share, and how (the data directory is the only channel):

- the database: SQLite's write lock (``BEGIN IMMEDIATE``) is held across
  processes, so each audit log keeps one order and the idempotency, sequence
  and erasure checks still see every writer;
- DPoP: nonces from a secret in the data directory, and one replay cache file
  (:mod:`server.dpop_replay`);
- the singletons (checkpoint signing, retention, update re-signing) run only in
  the process holding ``leader.lock`` (:mod:`server.leader`).

Rate limits (sign-in refusals, update downloads), the connection cap and the
push channel's revocation poller stay per process. The supervisor stops every
worker when it is told to stop or fails, and stops them all if one dies (a
service manager restarts the whole server; half a server would keep running
with a share of its capacity); each worker is also signalled by the kernel when
the supervisor dies (``PR_SET_PDEATHSIG``), so none outlives it on the port.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from server.serve import announce, bind

logger = logging.getLogger(__name__)
STOP_GRACE_S = 15.0
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In each worker, before it runs: SIGTERM when the supervisor dies, however it dies
    (Linux ``PR_SET_PDEATHSIG``), so no worker outlives it holding the port."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def supervise(
    command: str, data_root: Path, ca_cert: Path, host: str, port: int,
    ready_file: Path | None, worker_args: Sequence[str], workers: int,
) -> int:  # fmt: skip
    """Run ``workers`` processes of ``cordon-server <command>`` on one socket until stopped."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    socks = [bind(host, port, reuse_port=True)]
    actual = socks[0].getsockname()[1]
    procs: list[subprocess.Popen[bytes]] = []
    code = 0
    try:
        socks += [bind(host, actual, reuse_port=True) for _ in range(workers - 1)]
        for sock in socks:
            fd = sock.fileno()
            argv = [sys.executable, "-m", "server", command, "--data-dir", str(data_root),
                    "--listen-fd", str(fd), "--parent-pid", str(os.getpid()),
                    *worker_args]  # fmt: skip
            procs.append(
                subprocess.Popen(argv, pass_fds=(fd,), preexec_fn=_die_with_parent)  # noqa: S603, PLW1509 - the supervisor has no threads yet
            )
            sock.close()  # its worker holds it now
        announce(f"https://{host}:{actual}", ca_cert, ready_file)
        while not stop.wait(0.2):
            dead = [p for p in procs if p.poll() is not None]
            if dead:
                logger.error("a server worker exited (%s); stopping the others", dead[0].returncode)
                code = 1
                break
    finally:
        for sock in socks:
            sock.close()
        _stop_all(procs)
    return code


def _stop_all(procs: Sequence[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def check_parent(parent_pid: int | None) -> None:
    """In a worker: exit at once if the supervisor died before the death signal was set."""
    if parent_pid is not None and os.getppid() != parent_pid:
        raise SystemExit("cordon-server: the supervisor is gone")
