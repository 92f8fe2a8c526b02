"""Sign-in through an identity provider: its token in, a device-bound Cordon token out.

The client signs the person in with the provider (MSAL, authorization code +
PKCE) and presents the provider's token here with a DPoP proof by its
workstation key. The server checks the token (``server.idp``), finds or makes
the person, sets their provider-granted roles, and issues its own short-lived
token bound to the proving key. A refusal is 401 ``idp_token_invalid`` with a
reason code, recorded even though nobody is signed in (rate-limited by address).
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request

from app.wire.schemas import AccessAction, ErrorCode, SsoLoginIn, TokenOut, UserOut
from server import audit, enrolment, idp
from server.api.errors import ApiError
from server.api.principal import Ctx, JsonBody, check_proof

router = APIRouter(prefix="/v1")


def _refused(reason: str, message: str) -> ApiError:
    return ApiError(
        401, ErrorCode.IDP_TOKEN_INVALID, message, reason=f"sso_{reason}", anonymous=True
    )


@router.post("/auth/sso", dependencies=[JsonBody])
def sso_login(body: SsoLoginIn, ctx: Ctx, request: Request) -> TokenOut:
    proof = check_proof(request, ctx)
    with ctx.engine.connect() as conn:
        provider = idp.load(conn, body.provider)
    if provider is None:
        raise _refused("unknown_provider", "this server does not trust that identity provider")
    now = time.time()
    try:
        claims = ctx.idp_tokens.check(provider, body.token, now)
    except idp.IdpTokenError as exc:
        raise _refused(exc.reason, exc.message) from exc
    client_host = request.client.host if request.client else None
    with ctx.transaction() as conn:
        if not idp.first_use(conn, body.token, int(claims["exp"]), now):
            raise _refused("token_replayed", "this identity token was already used; sign in again")
        person = idp.person_for(conn, provider, claims)
        if person.disabled:
            raise ApiError(
                401, ErrorCode.ACCOUNT_DISABLED, "this account is disabled",
                reason="user_disabled", anonymous=True,
            )  # fmt: skip
        idp.sync_roles(conn, provider, person.user_id, claims)
        managed = enrolment.claim_matches(enrolment.load(conn), claims)
        token, issued = ctx.signer.issue(
            person.user_id, proof.jkt, now, lifetime_s=ctx.sso_token_lifetime_s, managed=managed
        )
        session_id = issued.token_id[:12]
        actor = audit.Actor(person.user_id, None, client_host)
        if person.created:
            audit.record(conn, actor, AccessAction.USER_CREATED, reason=f"idp_{provider.name}")
        audit.record(
            conn, actor, AccessAction.LOGIN, reason=f"session_{session_id}_idp_{provider.name}"
        )
    return TokenOut(
        access_token=token,
        expires_at=issued.expires_at,
        session_id=session_id,
        user=UserOut(
            user_id=person.user_id, username=person.username, display_name=person.display_name
        ),
    )
