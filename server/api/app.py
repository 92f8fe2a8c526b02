"""Build the FastAPI application for one :class:`~server.context.ServerContext`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from server import __version__
from server.api import routes_audit, routes_events, routes_session, routes_tasks
from server.api.body_limit import BodyLimitMiddleware
from server.api.errors import install_error_handlers
from server.auditlog.checkpoints import CheckpointThread
from server.context import ServerContext


def create_app(ctx: ServerContext) -> FastAPI:
    """The ``/v1`` API with JSON errors and a request-body limit.

    While it serves, a thread signs audit checkpoints every few seconds; on
    shutdown it makes a last one. (A lifespan, not code after ``uvicorn.run``:
    uvicorn re-raises SIGTERM once it has shut down, so nothing after it runs.)
    """

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        checkpoints = CheckpointThread(ctx.checkpointer)
        checkpoints.start()
        ctx.committer.after_commit = checkpoints.nudge
        try:
            yield
        finally:
            ctx.committer.stop()  # answers what is queued, then the last checkpoint
            ctx.committer.after_commit = None
            checkpoints.stop()

    app = FastAPI(
        title="Cordon server",
        version=__version__,
        openapi_url="/v1/openapi.json",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    for module in (routes_session, routes_tasks, routes_events, routes_audit):
        app.include_router(module.router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=ctx.max_json_body)
    return app
