"""Build the FastAPI application for one :class:`~server.context.ServerContext`."""

from __future__ import annotations

from fastapi import FastAPI

from server import __version__
from server.api import routes_events, routes_session, routes_tasks
from server.api.body_limit import BodyLimitMiddleware
from server.api.errors import install_error_handlers
from server.context import ServerContext


def create_app(ctx: ServerContext) -> FastAPI:
    """The ``/v1`` API with JSON errors and a request-body limit."""
    app = FastAPI(title="Cordon server", version=__version__, openapi_url="/v1/openapi.json")
    app.state.ctx = ctx
    install_error_handlers(app)
    for module in (routes_session, routes_tasks, routes_events):
        app.include_router(module.router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=ctx.max_json_body)
    return app
