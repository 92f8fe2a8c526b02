"""Who is calling: device-bound token authentication and per-request authorisation.

A request is authenticated by two things together: the server's own access
token (``Authorization: DPoP <token>``) and a fresh DPoP proof signed by the
device key the token is bound to (``server.dpop``). A token alone — copied
from a log, a proxy or another machine — opens nothing. Roles come from the
database on each request (never from the token), so least privilege holds
even for a token issued before a membership changed.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection, select

from app.crypto.dpop import PROOF_HEADER, SCHEME
from app.wire.schemas import ErrorCode, Role
from server import db, row_security
from server.api.errors import ApiError
from server.audit import Actor
from server.context import ServerContext
from server.dpop import NonceError, Proof, ProofError
from server.tokens import TokenError, TokenExpiredError


def get_context(request: Request) -> ServerContext:
    ctx: ServerContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ServerContext, Depends(get_context)]


@dataclass(frozen=True)
class Principal:
    """An authenticated user, and the thumbprint of the device key that proved the request."""

    user_id: str
    remote_addr: str | None
    jkt: str
    #: When the request's token ends (the push channel closes then).
    expires_at: int = 0
    #: The sign-in carried the claim IT names for managed workstations.
    managed_sign_in: bool = False

    def actor(self, device_id: str | None = None) -> Actor:
        return Actor(self.user_id, device_id, self.remote_addr)


def check_proof(request: Request, ctx: ServerContext, access_token: str | None = None) -> Proof:
    """The request's DPoP proof, verified, or 401 (``use_dpop_nonce``: retry with the nonce)."""
    try:
        return ctx.proofs.verify(
            request.headers.get(PROOF_HEADER),
            request.method,
            str(request.url),
            access_token=access_token,
        )
    except NonceError as exc:
        raise ApiError(
            401, ErrorCode.USE_DPOP_NONCE, exc.message, reason=exc.reason, audit=False
        ) from exc
    except ProofError as exc:
        raise ApiError(401, ErrorCode.INVALID_DPOP_PROOF, exc.message, reason=exc.reason) from exc


def _token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if not token:
        raise ApiError(401, ErrorCode.UNAUTHENTICATED, "a DPoP-bound access token is required")
    if scheme.lower() != SCHEME.lower():
        raise ApiError(
            401, ErrorCode.UNAUTHENTICATED, "the access token must be sent with the DPoP scheme"
        )
    return token


def authenticate(request: Request, ctx: ServerContext) -> Principal:
    """The caller named by the request's token and proven by its DPoP proof, or 401.

    Once the token is known good, its user is remembered as the *claimed* caller,
    so a refused proof (a stolen token used without its key) is audited under
    the user whose token it was.
    """
    token = _token(request)
    try:
        claims = ctx.signer.verify(token)
    except TokenExpiredError as exc:
        raise ApiError(401, ErrorCode.TOKEN_EXPIRED, "the access token has expired") from exc
    except TokenError as exc:
        raise ApiError(401, ErrorCode.UNAUTHENTICATED, "the access token is not valid") from exc
    client = request.client
    principal = Principal(
        user_id=claims.user_id,
        remote_addr=client.host if client else None,
        jkt=claims.jkt,
        expires_at=claims.expires_at,
        managed_sign_in=claims.managed,
    )
    request.state.claimed = principal
    proof = check_proof(request, ctx, access_token=token)
    if not hmac.compare_digest(proof.jkt, claims.jkt):
        raise ApiError(
            401, ErrorCode.INVALID_DPOP_PROOF,
            "the DPoP proof is signed by another key than the token's", reason="dpop_key_mismatch",
        )  # fmt: skip
    with ctx.engine.connect() as conn:
        # The user and their projects in one read (the projects scope the request's
        # transactions when row-level security is on): a row per membership, or one.
        rows = conn.execute(
            select(db.users.c.disabled_at, db.memberships.c.project_id)
            .outerjoin(db.memberships, db.memberships.c.user_id == db.users.c.id)
            .where(db.users.c.id == claims.user_id)
        ).all()
        user = rows[0] if rows else None
        revoked = workstation_revoked(conn, claims.user_id, claims.jkt)
        scoped = row_security.applies(conn)
    if user is None:
        request.state.claimed = None  # a user who no longer exists is not recorded as one
        raise ApiError(401, ErrorCode.UNAUTHENTICATED, "the access token is not valid")
    if user.disabled_at is not None:
        raise ApiError(
            401, ErrorCode.ACCOUNT_DISABLED, "this account is disabled", reason="user_disabled"
        )
    if revoked:
        raise ApiError(
            403, ErrorCode.DEVICE_REVOKED,
            "this workstation's access was revoked; Cordon removes its keys",
            reason="device_revoked",
        )  # fmt: skip
    if scoped:  # row-level security is on: this request sees the caller's projects only
        row_security.narrow(str(r.project_id) for r in rows if r.project_id is not None)
    return principal


def workstation_revoked(conn: Connection, user_id: str, jkt: str) -> bool:
    """An enrolment of ``user_id`` bound to key ``jkt`` was revoked (the workstation stays so)."""
    row = conn.execute(
        select(db.devices.c.id)
        .where(
            db.devices.c.user_id == user_id,
            db.devices.c.jkt == jkt,
            db.devices.c.revoked_at.is_not(None),
        )
        .limit(1)
    ).first()
    return row is not None


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
    if getattr(request.state, "claimed", None) is None:
        try:
            return authenticate(request, get_context(request))
        except ApiError:
            pass
    claimed: Principal | None = getattr(request.state, "claimed", None)
    return claimed


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
