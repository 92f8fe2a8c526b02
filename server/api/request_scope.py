"""ASGI middleware: each request's database transactions carry its own project scope.

Inside a request a transaction sees no project until the caller is
authenticated, then the projects they hold a role in — when the database has
row-level security on (:mod:`server.row_security`). Outside one, in a serving
process, it sees none unless the work entered ``every_project()``. It wraps
the routes, the error handlers' refusal audit and a streamed body's reads; the
handler of an unexpected error (500) runs outside it, in Starlette's outermost
middleware, and writes only ``access_events``, which no policy covers.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from server import row_security


class RequestScopeMiddleware:
    """Gives each HTTP or WebSocket request its own, initially empty, project scope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        with row_security.request_scope():
            await self.app(scope, receive, send)
