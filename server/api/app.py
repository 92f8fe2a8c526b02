"""Build the FastAPI application for one :class:`~server.context.ServerContext`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from server import __version__, retention
from server.api import (
    routes_admin,
    routes_audit,
    routes_context,
    routes_events,
    routes_pii,
    routes_projects,
    routes_review,
    routes_session,
    routes_sso,
    routes_tasks,
    routes_updates,
    routes_watch,
)
from server.api.body_limit import BodyLimitMiddleware
from server.api.dpop_nonce import NonceMiddleware
from server.api.error_handlers import install_error_handlers
from server.api.request_scope import RequestScopeMiddleware
from server.auditlog.checkpoints import CheckpointThread
from server.context import ServerContext


def create_app(ctx: ServerContext) -> FastAPI:
    """The ``/v1`` API with JSON errors and a request-body limit.

    While it serves, a thread signs audit checkpoints every few seconds (on
    shutdown it makes a last one) and another applies retention (at start, then
    hourly). (A lifespan, not code after ``uvicorn.run``:
    uvicorn re-raises SIGTERM once it has shut down, so nothing after it runs.)
    """

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        checkpoints = CheckpointThread(ctx.checkpointer)
        checkpoints.start()
        ctx.committer.after_commit = checkpoints.nudge
        # Finishes erasures a crash interrupted, then applies retention, every interval.
        keeper = retention.RetentionThread(ctx, ctx.retention_interval_s)
        keeper.start()
        try:
            yield
        finally:
            keeper.stop()
            ctx.revocations.stop()
            ctx.committer.stop()  # answers what is queued, then the last checkpoint
            ctx.committer.after_commit = None
            checkpoints.stop()

    # No /docs, /redoc or public schema (they loaded scripts from a public CDN and
    # describe every route to anyone; `cordon-server openapi` prints the schema), and
    # no trailing-slash redirects (their Location was built from the Host header).
    app = FastAPI(
        title="Cordon server",
        version=__version__,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    _include_routes(app)
    app.add_middleware(RequestScopeMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=ctx.max_json_body)
    app.add_middleware(NonceMiddleware, nonces=ctx.proofs.nonces)
    return app


def _include_routes(app: FastAPI) -> None:
    for module in (
        routes_session,
        routes_sso,
        routes_tasks,
        routes_watch,
        routes_review,
        routes_context,
        routes_projects,
        routes_events,
        routes_audit,
        routes_admin,
        routes_pii,
        routes_updates,
    ):
        app.include_router(module.router)


def openapi_schema() -> dict[str, Any]:
    """The ``/v1`` OpenAPI document, for integrators and the fuzz tests (not served)."""
    app = FastAPI(title="Cordon server", version=__version__)
    _include_routes(app)
    return app.openapi()
