"""Access tokens the server signs itself, after a demo or identity-provider sign-in.

A token is ``base64url(json claims) "." base64url(HMAC-SHA256)``. Verification
compares MACs in constant time and checks expiry; roles are never in the token,
they are looked up on every request so a revoked membership takes effect at once.
Every token is bound to one device signing key (``cnf.jkt``, RFC 9449): without
a proof signed by that key it opens nothing (``server.dpop``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass


class TokenError(Exception):
    """The token is malformed or its signature does not verify."""


class TokenExpiredError(TokenError):
    """The token was valid but has expired."""


@dataclass(frozen=True)
class TokenClaims:
    user_id: str
    issued_at: int
    expires_at: int
    token_id: str
    #: Thumbprint of the device signing key the token is bound to.
    jkt: str
    #: The sign-in carried the claim IT names for managed workstations.
    managed: bool = False


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_B64URL = re.compile(r"[A-Za-z0-9_-]+")


def _unb64(text: str) -> bytes:
    """Strict, canonical base64url without padding.

    ``urlsafe_b64decode`` silently skips characters outside the alphabet and
    ignores stray low bits, so many spellings decoded to one token; only the
    one spelling :func:`_b64` produces is accepted.
    """
    if not _B64URL.fullmatch(text):
        raise TokenError("token is not base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError as exc:
        raise TokenError("token is not base64url") from exc
    if _b64(raw) != text:
        raise TokenError("token is not canonical base64url")
    return raw


class TokenSigner:
    """Issues and verifies HMAC-signed tokens with one server-held key."""

    def __init__(self, key: bytes, lifetime_s: int = 8 * 3600) -> None:
        if len(key) < 32:
            raise ValueError("token key must be at least 32 bytes")
        self._key = key
        self.lifetime_s = lifetime_s

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, b"cordon-token-v1." + payload, hashlib.sha256).digest()

    def issue(
        self,
        user_id: str,
        jkt: str,
        now: float | None = None,
        lifetime_s: int | None = None,
        *,
        managed: bool = False,
    ) -> tuple[str, TokenClaims]:
        """A new token for ``user_id``, bound to key ``jkt``, and its claims."""
        issued = int(time.time() if now is None else now)
        expires = issued + (lifetime_s or self.lifetime_s)
        claims = TokenClaims(user_id, issued, expires, secrets.token_hex(16), jkt, managed)
        fields: dict[str, object] = {
            "sub": claims.user_id,
            "iat": issued,
            "exp": claims.expires_at,
            "jti": claims.token_id,
            "cnf": {"jkt": jkt},
        }
        if managed:
            fields["mgd"] = True
        payload = json.dumps(
            fields,
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}", claims

    def verify(self, token: str, now: float | None = None) -> TokenClaims:
        """Return the claims of a valid token; raise :class:`TokenError` otherwise."""
        if token.count(".") != 1 or len(token) > 4096:
            raise TokenError("token malformed")
        payload_b64, mac_b64 = token.split(".")
        payload = _unb64(payload_b64)
        if not hmac.compare_digest(self._mac(payload), _unb64(mac_b64)):
            raise TokenError("token signature invalid")
        try:
            raw = json.loads(payload)
            claims = TokenClaims(
                str(raw["sub"]),
                int(raw["iat"]),
                int(raw["exp"]),
                str(raw["jti"]),
                str(raw["cnf"]["jkt"]),
                raw.get("mgd") is True,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise TokenError("token claims malformed") from exc
        if claims.expires_at <= (time.time() if now is None else now):
            raise TokenExpiredError("token expired")
        return claims
