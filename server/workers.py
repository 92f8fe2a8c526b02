"""Several server processes on one port: a supervisor and its workers.

``cordon-server serve --workers N`` binds N listening sockets on one port
(``SO_REUSEPORT``), then starts N copies of itself, each inheriting one
(``--listen-fd``). The kernel spreads new connections evenly across the
sockets by their addresses. One shared socket would not: each worker's event
loop accepts every pending connection when it wakes, so a burst of
workstations connecting at once (each keeping its connection open) could all
land on one worker while the other idles. Only processes of the same user can
join the port (Linux's rule for ``SO_REUSEPORT``), and the supervisor first
checks the port with a plain bind, so a second Cordon server started on it is
refused rather than sharing its connections. Python serves one request at
a time per core under the GIL, so this is how one host uses its cores.

What the workers share, and how (the database and the data directory are the only channels):

- the database: its one write lock (SQLite's ``BEGIN IMMEDIATE``, PostgreSQL's
  advisory lock, :mod:`server.dialect`) is held across processes, so each audit
  log keeps one order and the idempotency, sequence and erasure checks still see
  every writer;
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
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from server.serve import announce, bind

logger = logging.getLogger(__name__)
STOP_GRACE_S = 15.0
#: How long a worker whose supervisor is gone may take to stop gracefully.
ORPHAN_GRACE_S = 5.0
#: How often a worker checks that its supervisor is still there.
PARENT_CHECK_S = 1.0
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
    """Run ``workers`` processes of ``cordon-server <command>`` on one port until stopped."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    socks: list[socket.socket] = []
    procs: list[subprocess.Popen[bytes]] = []
    code = 0
    try:
        actual = _claim(host, port)
        for _ in range(workers):
            try:
                socks.append(bind(host, actual, reuse_port=True))
            except OSError as exc:  # taken between the check and here
                raise PortTakenError(f"cannot listen on {host}:{actual}: {exc.strerror}") from exc
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


def _claim(host: str, port: int) -> int:
    """The port, checked free with a plain bind (no ``SO_REUSEPORT``) first.

    Sockets with ``SO_REUSEPORT`` share a port with any later one of the same user that
    sets it too: without this check a second server started on the port (twice by
    mistake, or a demo on 127.0.0.1 beside a server on every address) would silently
    take a share of the connections. A listening socket on the port makes this bind
    fail, so the second server refuses to start instead.
    """
    try:
        probe = bind(host, port)
    except OSError as exc:
        raise PortTakenError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    actual = int(probe.getsockname()[1])
    probe.close()
    return actual


class PortTakenError(Exception):
    """Another socket already listens on the port."""


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
    """In a worker: exit at once if the supervisor died before the death signal was set;
    then watch it, once a second, for as long as the worker lives.

    The death signal (SIGTERM) starts uvicorn's graceful stop, which waits for open
    connections to close — a TLS connection whose client never answers the close holds
    it for 30 s. A worker whose supervisor is gone must not keep the port that long:
    the watch sends SIGTERM itself and, if the worker is still there
    :data:`ORPHAN_GRACE_S` later, ends it at once, as the supervisor would have.
    """
    if parent_pid is None:
        return
    if os.getppid() != parent_pid:
        raise SystemExit("cordon-server: the supervisor is gone")

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_S)
        logger.error("the supervisor is gone; stopping this worker")
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(ORPHAN_GRACE_S)
        logger.error("this worker did not stop in %.0f s; ending it", ORPHAN_GRACE_S)
        os._exit(1)

    threading.Thread(target=watch, name="cordon-parent-watch", daemon=True).start()
