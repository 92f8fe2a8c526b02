"""The loopback address the identity provider sends the browser back to (RFC 8252).

MSAL's own receiver serves one connection at a time with no read timeout; a
browser that opens a speculative connection first (Chromium does) and sends
nothing on it leaves the sign-in waiting forever. This receiver answers each
connection on its own thread with a short timeout, accepts the provider's
answer once (query or ``form_post``), and can be cancelled. MSAL still builds
the request and checks the answer (state, PKCE, nonce) with
``initiate_auth_code_flow`` / ``acquire_token_by_auth_code_flow``.

It listens on 127.0.0.1 only, on a port the OS picks; nothing of the answer is
logged or written anywhere.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

MAX_FORM_BYTES = 64 * 1024
CONNECTION_TIMEOUT_S = 5.0
DONE_PAGE = (
    b"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Cordon</title></head>"
    b"<body><p>Signed in. You can close this tab and return to Cordon.</p></body></html>"
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    answer: dict[str, str] | None
    arrived: threading.Event


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = CONNECTION_TIMEOUT_S  # a connection that sends nothing is dropped

    def do_GET(self) -> None:
        self._take(urlsplit(self.path).query)

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_FORM_BYTES:
            self.send_error(413)
            return
        self._take(self.rfile.read(length).decode("ascii", "replace"))

    def _take(self, encoded: str) -> None:
        params = {k: v[0] for k, v in parse_qs(encoded, max_num_fields=20).items() if v}
        if urlsplit(self.path).path != "/" or not ({"code", "error"} & set(params)):
            self.send_error(404)
            return
        if self.server.answer is None:
            self.server.answer = params
            self.server.arrived.set()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(DONE_PAGE)))
        self.end_headers()
        self.wfile.write(DONE_PAGE)

    def log_message(self, format: str, *args: object) -> None:
        """Nothing of the request is logged (the query holds the authorization code)."""


class LoopbackRedirect:
    """Waits for one redirect on ``http://localhost:<port>``; use as a context manager."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.answer = None
        self._server.arrived = threading.Event()
        self.port = int(self._server.server_address[1])
        self.redirect_uri = f"http://localhost:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="cordon-sso-loopback", daemon=True
        )
        self._thread.start()

    def wait(self, timeout: float, cancelled: threading.Event) -> dict[str, str] | None:
        """The provider's answer, or ``None`` if cancelled or out of time."""
        deadline = threading.Event()
        timer = threading.Timer(timeout, deadline.set)
        timer.start()
        try:
            while not (self._server.arrived.wait(0.1) or cancelled.is_set() or deadline.is_set()):
                pass
        finally:
            timer.cancel()
        return self._server.answer if self._server.arrived.is_set() else None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> LoopbackRedirect:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
