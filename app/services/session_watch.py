"""Keep the push channel open while someone is signed in; report what the server says.

One thread: while the session has a token it holds ``/v1/session/watch``
open (the client's pinned TLS, DPoP-proven like every request), and calls
``on_revoked`` or ``on_signed_out`` when the server sends that event (or
answers the connection with 403 ``device_revoked``). A dropped or failed
connection is reopened after a short backoff; an ``expired`` event just
reopens it with the token the session holds by then.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from app.api import errors
from app.api.client import CordonApi

logger = logging.getLogger(__name__)
BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0)


class SessionWatch:
    def __init__(
        self,
        api: CordonApi,
        on_revoked: Callable[[], None],
        on_signed_out: Callable[[], None],
    ) -> None:
        self._api = api
        self._on_revoked = on_revoked
        self._on_signed_out = on_signed_out
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="cordon-session-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (the open connection ends at its next event or keep-alive)."""
        self._stop.set()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set() and self._api.signed_in:
            try:
                with self._api.session_watch() as events:
                    failures = 0
                    for name in events:
                        if self._stop.is_set():
                            return
                        if self._act(name):
                            return
            except errors.DeviceRevokedError:
                self._on_revoked()
                return
            except errors.AuthenticationError:
                return  # the token ended or was refused: the session's own 401 path signs out
            except errors.ApiError as exc:
                logger.info("session watch: %s; reconnecting", type(exc).__name__)
            failures += 1
            self._stop.wait(BACKOFF_S[min(failures, len(BACKOFF_S)) - 1])
        self._api.close()

    def _act(self, name: str) -> bool:
        """Handle one event; ``True`` when the watch is over."""
        if name == "revoked":
            self._on_revoked()
            return True
        if name == "signed_out":
            self._on_signed_out()
            return True
        return False  # "expired": reopen with the current token
