"""ASGI middleware: every response carries the server's current DPoP nonce.

A client reads ``DPoP-Nonce`` from any answer and puts it in its next proofs,
so it meets ``use_dpop_nonce`` only at its first request and when a nonce
period has passed (RFC 9449 §8). The nonce is stateless (``server.dpop``).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.crypto.dpop import NONCE_HEADER
from server.dpop import NonceSource

_NAME = NONCE_HEADER.lower().encode("ascii")
_EXPOSE = b"www-authenticate"


class NonceMiddleware:
    def __init__(self, app: ASGIApp, nonces: NonceSource) -> None:
        self.app = app
        self.nonces = nonces

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_nonce(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((_NAME, self.nonces.current().encode("ascii")))
                if message["status"] == 401:
                    headers.append((_EXPOSE, b'DPoP algs="ES256"'))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_nonce)
