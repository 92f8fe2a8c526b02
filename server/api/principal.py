"""Who is calling: bearer-token authentication and per-request authorisation.

Every route that touches a project asks :func:`require_membership`; roles come
from the database on each request (never from the token), so least privilege
holds even for a token issued before a membership changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection, select

from app.wire.schemas import ErrorCode, Role
from server import db
from server.api.errors import ApiError
from server.audit import Actor
from server.context import ServerContext
from server.tokens import TokenError, TokenExpiredError


def get_context(request: Request) -> ServerContext:
    ctx: ServerContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ServerContext, Depends(get_context)]


@dataclass(frozen=True)
class Principal:
    """An authenticated user, and the device they named (if any)."""

    user_id: str
    username: str
    remote_addr: str | None
    device_header: str | None

    def actor(self, device_id: str | None = None) -> Actor:
        return Actor(self.user_id, device_id, self.remote_addr)


def authenticate(request: Request, ctx: ServerContext) -> Principal:
    """The caller named by the request's bearer token, or 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, ErrorCode.UNAUTHENTICATED, "a bearer token is required")
    try:
        claims = ctx.signer.verify(token)
    except TokenExpiredError as exc:
        raise ApiError(401, ErrorCode.TOKEN_EXPIRED, "the access token has expired") from exc
    except TokenError as exc:
        raise ApiError(401, ErrorCode.UNAUTHENTICATED, "the access token is not valid") from exc
    with ctx.engine.connect() as conn:
        row = conn.execute(select(db.users).where(db.users.c.id == claims.user_id)).first()
    if row is None:
        raise ApiError(401, ErrorCode.UNAUTHENTICATED, "the access token is not valid")
    client = request.client
    return Principal(
        user_id=row.id,
        username=row.username,
        remote_addr=client.host if client else None,
        device_header=request.headers.get("x-cordon-device"),
    )


def get_principal(request: Request, ctx: Ctx) -> Principal:
    """Dependency: authenticate, and remember who it was for the refusal audit."""
    principal = authenticate(request, ctx)
    request.state.principal = principal
    return principal


def principal_if_any(request: Request) -> Principal | None:
    """Who sent a request that is being refused, if they could be authenticated.

    The dependency may not have run yet (a request refused before it, e.g. for
    its content type), so authenticate again; a request with no valid token has
    no principal and its refusal is not audited (see ``server.api.refusals``).
    """
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    try:
        return authenticate(request, get_context(request))
    except ApiError:
        return None


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_json(request: Request) -> None:
    """Refuse a body that does not say it is JSON (415)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise ApiError(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, "send application/json")


JsonBody = Depends(require_json)


def membership_role(conn: Connection, user_id: str, project_id: str) -> Role | None:
    """The caller's role in a project, or ``None`` if they are not a member."""
    row = conn.execute(
        select(db.memberships.c.role).where(
            db.memberships.c.user_id == user_id, db.memberships.c.project_id == project_id
        )
    ).first()
    return Role(row.role) if row else None
