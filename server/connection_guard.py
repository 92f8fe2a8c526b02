"""Connection limits for the HTTP server: no client may hold a connection for nothing.

uvicorn times out only idle keep-alive connections *after* a response. A
client that completes the TLS handshake and then sends nothing, or sends its
headers or body a byte at a time, held its connection indefinitely (probed:
more than 75 s), and asyncio's TLS handshake itself may take 60 s. Here:

- the TLS handshake must finish within ``read_timeout`` (a loop whose
  ``create_server`` sets ``ssl_handshake_timeout``);
- a request's headers must be complete within ``read_timeout`` of the
  connection becoming ready, or of the first byte after a keep-alive pause —
  an absolute deadline, so trickling bytes does not extend it;
- a request's body must be complete within ``body_timeout`` of its headers;
- at most ``max_connections`` connections are open at once; past that a new
  one is closed as soon as its handshake completes.

A connection that misses a deadline is closed; nothing of it reached the
application, so there is nothing to audit. Only the time spent waiting on the
*client* is limited: the time the application takes to answer is not.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from server.limits import ConnectionLimits

logger = logging.getLogger(__name__)


#: Set by :func:`configure` before the server starts (uvicorn builds the protocol and the
#: loop from import strings and passes them no arguments of ours).
_limits = ConnectionLimits()


def configure(limits: ConnectionLimits) -> None:
    global _limits  # noqa: PLW0603 - one server per process; read by the protocol factory
    _limits = limits


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with deadlines on everything read from the client."""

    _deadline: asyncio.TimerHandle | None = None
    _waiting_for: Any = None  # the h11 state the armed deadline is for

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > _limits.max_connections:
            logger.warning("connection refused: %d open", len(self.connections) - 1)
            transport.close()
            return
        self._arm(h11.IDLE, _limits.read_timeout)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._track()

    def on_response_complete(self) -> None:
        # Between requests uvicorn's own keep-alive timer runs; ours waits for data.
        self._disarm()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _track(self) -> None:
        state = self.conn.their_state
        if state is h11.IDLE:
            if self._waiting_for is not h11.IDLE:
                self._arm(h11.IDLE, _limits.read_timeout)  # first bytes of the next request
        elif state is h11.SEND_BODY:
            if self._waiting_for is not h11.SEND_BODY:
                self._arm(h11.SEND_BODY, _limits.body_timeout)
        else:
            self._disarm()  # the whole request is in: the application's time now

    def _arm(self, state: Any, seconds: float) -> None:
        self._disarm()
        self._waiting_for = state
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None
        self._waiting_for = None

    def _expired(self) -> None:
        what = "body" if self._waiting_for is h11.SEND_BODY else "request"
        self._deadline = None
        self._waiting_for = None
        if not self.transport.is_closing():
            logger.info("closed a connection that did not send its %s in time", what)
            if self.cycle is not None and not self.cycle.response_complete:
                self.cycle.disconnected = True
                self.cycle.message_event.set()
            self.transport.close()


class HandshakeLimitedLoop(asyncio.SelectorEventLoop):
    """An event loop whose TLS servers give up on a handshake after ``read_timeout``.

    uvicorn's ``loop=`` takes it as an import string
    (``"server.connection_guard:HandshakeLimitedLoop"``) and calls it to make the loop.
    """

    async def create_server(self, *args: Any, **kwargs: Any) -> asyncio.Server:
        if isinstance(kwargs.get("ssl"), ssl.SSLContext):
            kwargs.setdefault("ssl_handshake_timeout", _limits.read_timeout)
        return await super().create_server(*args, **kwargs)
