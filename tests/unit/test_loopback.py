"""The sign-in's loopback receiver: one answer, any number of idle connections, cancellable."""

from __future__ import annotations

import socket
import threading
import time

import requests

from app.auth.loopback import LoopbackRedirect


def _plain() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy between the browser and 127.0.0.1
    return session


def test_a_silent_connection_does_not_hold_the_answer() -> None:
    with LoopbackRedirect() as loopback:
        idle = socket.create_connection(("127.0.0.1", loopback.port))  # a browser preconnect
        try:
            http = _plain()
            assert http.get(f"http://127.0.0.1:{loopback.port}/favicon.ico").status_code == 404
            posted = http.post(
                f"http://127.0.0.1:{loopback.port}/",
                data={"code": "abc", "state": "s1"},
                timeout=5,
            )
            assert posted.status_code == 200 and "close this tab" in posted.text
            assert posted.headers["Cache-Control"] == "no-store"
            answer = loopback.wait(5, threading.Event())
            # Only the first answer counts: a second one cannot replace it.
            http.get(f"http://127.0.0.1:{loopback.port}/?code=other&state=s2", timeout=5)
        finally:
            idle.close()
    assert answer == {"code": "abc", "state": "s1"}
    assert loopback.redirect_uri == f"http://localhost:{loopback.port}"


def test_waiting_stops_when_cancelled_or_out_of_time() -> None:
    cancelled = threading.Event()
    with LoopbackRedirect() as loopback:
        threading.Timer(0.3, cancelled.set).start()
        began = time.monotonic()
        assert loopback.wait(30, cancelled) is None
        assert time.monotonic() - began < 5
        began = time.monotonic()
        assert loopback.wait(0.3, threading.Event()) is None
        assert time.monotonic() - began < 5


def test_it_listens_on_loopback_only() -> None:
    with LoopbackRedirect() as loopback:
        assert loopback._server.server_address[0] == "127.0.0.1"
