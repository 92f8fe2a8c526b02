"""Slow and silent connections are closed on time, and everyone else is served meanwhile.

The real server over TLS with ``--read-timeout 2`` (so the body gets 6 s):
32 connections that each hold it in a different way — never starting the TLS
handshake, handshaking and then saying nothing, trickling headers a byte at a
time, sending headers and then only part of the body — while a client keeps
making ordinary requests. Every held connection must be closed by the server
within its deadline (plus slack for this 2-core machine), and no ordinary
request may wait more than a second.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app.api.client import CordonApi
from tests.e2e.conftest import LiveServer, live_server

pytestmark = pytest.mark.e2e

READ_TIMEOUT = 2.0
SLACK = 2.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = live_server(
        tmp_path_factory.mktemp("slow"),
        {"a.wav": (0.5, 8000, 1)},
        "--read-timeout",
        str(READ_TIMEOUT),
        "--max-connections",
        "48",
    )
    yield srv
    srv.stop()


def _address(server: LiveServer) -> tuple[str, int]:
    parts = urlsplit(server.url)
    assert parts.hostname and parts.port
    return parts.hostname, parts.port


def _tls(server: LiveServer, raw: socket.socket) -> ssl.SSLSocket:
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def _closed_after(sock: socket.socket, started: float, limit: float) -> float:
    """Seconds from ``started`` until the server closed ``sock`` (reads until EOF)."""
    sock.settimeout(limit)
    try:
        while sock.recv(4096):
            pass
    except (ssl.SSLError, ConnectionError):
        pass
    return time.monotonic() - started


def _hold(server: LiveServer, how: str, limit: float) -> float:
    start = time.monotonic()
    raw = socket.create_connection(_address(server), timeout=limit)
    if how == "no_handshake":
        return _closed_after(raw, start, limit)
    sock = _tls(server, raw)
    if how == "silent":
        return _closed_after(sock, start, limit)
    if how == "trickle_headers":
        request = b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
        sock.settimeout(0.5)
        for byte in request:
            try:
                sock.sendall(bytes([byte]))
                if sock.recv(4096) == b"":
                    break
            except TimeoutError:
                continue  # nothing from the server yet: keep trickling
            except (ssl.SSLError, ConnectionError):
                break
        return _closed_after(sock, start, limit)
    # partial body: headers promise 100 bytes, send 10
    sock.sendall(
        b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n" + b"{" * 10
    )
    return _closed_after(sock, start, limit)


def test_held_connections_are_closed_and_others_served(server: LiveServer) -> None:
    kinds: dict[str, float] = {
        "no_handshake": READ_TIMEOUT,
        "silent": READ_TIMEOUT,
        "trickle_headers": READ_TIMEOUT,
        "partial_body": 3 * READ_TIMEOUT,
    }
    results: dict[str, list[float]] = {kind: [] for kind in kinds}
    lock = threading.Lock()

    def worker(kind: str) -> Callable[[], None]:
        def run() -> None:
            took = _hold(server, kind, kinds[kind] + SLACK + 5)
            with lock:
                results[kind].append(took)

        return run

    threads = [threading.Thread(target=worker(kind)) for kind in kinds for _ in range(8)]
    for thread in threads:
        thread.start()
    api = CordonApi(server.url, server.ca_file)
    waits = []
    deadline = time.monotonic() + 3 * READ_TIMEOUT + SLACK
    while time.monotonic() < deadline:
        start = time.monotonic()
        assert api.health().status == "ok"
        waits.append(time.monotonic() - start)
        time.sleep(0.05)
    for thread in threads:
        thread.join(30)
    api.close()
    assert max(waits) < 1.0, f"an ordinary request waited {max(waits):.2f} s"
    for kind, limit in kinds.items():
        assert len(results[kind]) == 8, kind
        assert max(results[kind]) <= limit + SLACK, (kind, results[kind])


def test_connections_past_the_cap_are_closed(server: LiveServer, tmp_path: Path) -> None:
    held = []
    try:
        for _ in range(60):
            held.append(_tls(server, socket.create_connection(_address(server), timeout=5)))
        closed = 0
        for sock in held:
            sock.settimeout(0.5)
            try:
                if sock.recv(1) == b"":
                    closed += 1
            except TimeoutError:
                pass
            except (ssl.SSLError, ConnectionError):
                closed += 1
        assert closed >= 60 - 48
    finally:
        for sock in held:
            sock.close()
    assert CordonApi(server.url, server.ca_file).health().status == "ok"
