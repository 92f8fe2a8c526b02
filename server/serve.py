"""Serve the API with uvicorn over TLS 1.3 only.

We bind the socket ourselves so ``--port 0`` works and the real port can be
printed and written to a ready file before the first request (tests and the
demo launcher wait for it).
"""

from __future__ import annotations

import gc
import logging
import socket
import ssl
from collections.abc import Callable
from pathlib import Path

import uvicorn

from server import connection_guard, row_security
from server.api.app import create_app
from server.connection_guard import GuardedH11Protocol
from server.context import ServerContext
from server.limits import ConnectionLimits

logger = logging.getLogger(__name__)


def _tls13_only(_config: uvicorn.Config, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    ctx = default()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def bind(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A listening socket on ``host:port`` (``port`` 0 picks a free one).

    ``reuse_port``: one of several sockets on the same port (``SO_REUSEPORT``), the
    kernel spreading new connections across them — see :mod:`server.workers`.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    # Accepted sockets inherit this: without it every small TLS response waits out
    # the peer's delayed ACK (~40 ms per request measured on loopback).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(
    ctx: ServerContext,
    host: str,
    port: int,
    ready_file: Path | None = None,
    limits: ConnectionLimits | None = None,
    sock: socket.socket | None = None,
) -> None:
    """Run until interrupted (SIGINT/SIGTERM), with the connection limits applied.

    ``sock``: a listening socket inherited from the supervisor of several
    processes (:mod:`server.workers`), which announces the URL itself.
    """
    limits = limits or ConnectionLimits()
    connection_guard.configure(limits)
    # From here on, work outside a request that did not ask for every project (its own
    # background threads that need project rows do) sees none: fail closed
    # (server.row_security).
    row_security.deny_outside_requests()
    inherited = sock is not None
    sock = sock or bind(host, port)
    actual = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(ctx),
        http=GuardedH11Protocol,
        loop="server.connection_guard:HandshakeLimitedLoop",
        timeout_keep_alive=5,
        ssl_certfile=str(ctx.data.server_cert),
        ssl_keyfile=str(ctx.data.server_key),
        ssl_context_factory=_tls13_only,
        log_level="warning",
        access_log=False,
        server_header=False,
        proxy_headers=False,  # X-Forwarded-For from any local process would forge audit addresses
        date_header=False,
    )
    server = uvicorn.Server(config)
    # What is loaded by now (modules, the app, its routes and models) lives as long as the
    # process: frozen, the collector's full passes no longer walk it. Under B11's open
    # loop each full pass stopped every thread for 73-116 ms; frozen, 12-17 ms.
    gc.collect()  # what start-up left for the collector is freed, not frozen
    gc.freeze()
    if not inherited:
        announce(f"https://{host}:{actual}", ctx.data.ca_cert, ready_file)
    server.run(sockets=[sock])


def announce(url: str, ca_cert: Path, ready_file: Path | None) -> None:
    """Say where the server listens (and write the ready file tests and the demo wait for)."""
    print(f"Cordon server listening on {url}", flush=True)  # noqa: T201 - CLI output
    print(f"Clients pin this CA: {ca_cert}", flush=True)  # noqa: T201
    if ready_file is not None:
        ready_file.write_text(url + "\n")
