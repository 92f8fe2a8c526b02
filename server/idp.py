"""Trusting identity providers: which ones, how their tokens are checked, who they make.

An administrator registers a provider once (``cordon-server idp add``): its
issuer, the audience Cordon's tokens are for (the desktop client's id, or the
API's), the CA that signs its TLS certificate, an algorithm allow-list and
the clock skew to allow. Discovery runs then, over that pinned TLS, and the
JWKS address it names is stored.

A sign-in presents one of its tokens. PyJWT checks it — signature by a key of
the provider's JWKS (fetched over the same pinned TLS, cached, fetched again
for an unknown ``kid``), algorithm on the allow-list (never ``none`` or an
HMAC), issuer, audience, expiry and not-before with the skew — and Cordon adds
two rules of its own: the token must be recent (issued within
:data:`MAX_TOKEN_AGE_S`), and each token is exchanged once (a token lifted
from a log cannot be exchanged again). Nothing is parsed by hand.

The person is then found by (provider, ``sub``) — created on first sign-in —
and the provider's groups or app roles are mapped to Cordon roles per project
by the rules an administrator set (``cordon-server idp map``).
"""

from __future__ import annotations

import hashlib
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from sqlalchemy import Connection, delete, insert, select, update

from app.wire.schemas import Role
from server import db
from server.ingest import new_id

#: Asymmetric algorithms only: an HMAC "signature" keyed with a public key is forgeable.
ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
DEFAULT_ALGORITHMS = ("RS256", "ES256")
#: A token issued longer ago than this is refused even if not expired: sign-ins are fresh.
MAX_TOKEN_AGE_S = 15 * 60
MAX_TOKEN_CHARS = 16_384


class IdpError(Exception):
    """A provider could not be registered or reached (for the administrator)."""


class IdpTokenError(Exception):
    """A presented token is refused; ``reason`` is the stable audit code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Provider:
    name: str
    issuer: str
    audience: str
    jwks_uri: str
    ca_pem: str | None
    algorithms: tuple[str, ...]
    clock_skew_s: int
    username_claim: str
    groups_claim: str


def tls_context(ca_pem: str | None) -> ssl.SSLContext:
    """A TLS context trusting only ``ca_pem`` (or the system store when none is set)."""
    context = ssl.create_default_context(cadata=ca_pem) if ca_pem else ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def discover(issuer: str, ca_pem: str | None, timeout: float = 10.0) -> dict[str, Any]:
    """The provider's discovery document, fetched over pinned TLS; its issuer must match."""
    if not issuer.startswith("https://"):
        raise IdpError("the issuer must be an https:// URL")
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would replace the pinned CA
    verify: str | bool = True
    ca_file = None
    if ca_pem:
        import tempfile  # noqa: PLC0415 - requests wants a file; the CA is public

        ca_file = tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False)  # noqa: SIM115
        ca_file.write(ca_pem)
        ca_file.close()
        verify = ca_file.name
    try:
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        response = session.get(url, verify=verify, timeout=timeout, allow_redirects=False)
        response.raise_for_status()
        document: dict[str, Any] = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise IdpError(f"discovery at {issuer} failed: {type(exc).__name__}") from exc
    finally:
        session.close()
        if ca_file is not None:
            import os  # noqa: PLC0415

            os.unlink(ca_file.name)
    if document.get("issuer") != issuer:
        raise IdpError(f"the provider calls itself {document.get('issuer')!r}, not {issuer!r}")
    if not str(document.get("jwks_uri", "")).startswith("https://"):
        raise IdpError("the provider's jwks_uri is not an https:// URL")
    return document


def register(
    conn: Connection,
    name: str,
    issuer: str,
    audience: str,
    *,
    ca_pem: str | None,
    jwks_uri: str,
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS,
    clock_skew_s: int = 60,
    username_claim: str = "preferred_username",
    groups_claim: str = "groups",
) -> None:
    """Store (or replace) a provider's settings."""
    refused = set(algorithms) - ALLOWED_ALGORITHMS
    if refused or not algorithms:
        raise IdpError(f"algorithms not allowed: {', '.join(sorted(refused)) or 'none given'}")
    if not 0 <= clock_skew_s <= 300:
        raise IdpError("the clock skew must be between 0 and 300 seconds")
    values = {
        "issuer": issuer,
        "audience": audience,
        "jwks_uri": jwks_uri,
        "ca_pem": ca_pem,
        "algorithms": ",".join(algorithms),
        "clock_skew_s": clock_skew_s,
        "username_claim": username_claim,
        "groups_claim": groups_claim,
    }
    table = db.identity_providers
    if conn.execute(select(table.c.name).where(table.c.name == name)).first():
        conn.execute(update(table).where(table.c.name == name).values(**values))
    else:
        conn.execute(insert(table).values(name=name, created_at=int(time.time()), **values))


def load(conn: Connection, name: str) -> Provider | None:
    row = conn.execute(
        select(db.identity_providers).where(db.identity_providers.c.name == name)
    ).first()
    if row is None:
        return None
    return Provider(
        row.name, row.issuer, row.audience, row.jwks_uri, row.ca_pem,
        tuple(row.algorithms.split(",")), row.clock_skew_s, row.username_claim, row.groups_claim,
    )  # fmt: skip


class TokenChecker:
    """Validates provider tokens; one JWKS client (and its key cache) per provider."""

    def __init__(self, refetch_cooldown_s: float = 30.0) -> None:
        self._clients: dict[tuple[str, str, str | None], jwt.PyJWKClient] = {}
        self._lock = threading.Lock()
        #: An unknown ``kid`` fetches the JWKS again at most this often (no refetch storms).
        self._cooldown = refetch_cooldown_s

    def _jwks(self, provider: Provider) -> jwt.PyJWKClient:
        key = (provider.name, provider.jwks_uri, provider.ca_pem)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = jwt.PyJWKClient(
                    provider.jwks_uri,
                    cache_keys=True,
                    lifespan=3600,
                    timeout=10,
                    ssl_context=tls_context(provider.ca_pem),
                    cooldown_duration=self._cooldown,
                )
                self._clients[key] = client
            return client

    def check(self, provider: Provider, token: str, now: float | None = None) -> dict[str, Any]:
        """The token's claims if it is the provider's, for Cordon, current; else IdpTokenError."""
        now = time.time() if now is None else now
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise IdpTokenError("malformed", "the identity token is malformed")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise IdpTokenError("malformed", "the identity token is malformed") from exc
        if header.get("alg") not in provider.algorithms:
            raise IdpTokenError(
                "algorithm_refused", "the identity token is signed with an algorithm not allowed"
            )
        try:
            signing_key = self._jwks(provider).get_signing_key(str(header.get("kid", "")))
        except jwt.PyJWKClientConnectionError as exc:
            raise IdpTokenError(
                "jwks_unreachable", "the identity provider's keys cannot be fetched"
            ) from exc
        except jwt.PyJWKClientError as exc:
            raise IdpTokenError(
                "unknown_key", "the identity token is signed by a key the provider does not list"
            ) from exc
        return _decode(provider, token, signing_key.key, now)


_DECODE_ERRORS: tuple[tuple[type[Exception], str, str], ...] = (
    (jwt.ExpiredSignatureError, "token_expired", "the identity token has expired"),
    (jwt.ImmatureSignatureError, "token_not_yet_valid", "the identity token is not valid yet"),
    (jwt.InvalidAudienceError, "wrong_audience", "the identity token is for another application"),
    (jwt.InvalidIssuerError, "wrong_issuer", "the identity token is from another issuer"),
    (jwt.InvalidSignatureError, "bad_signature", "the identity token's signature is wrong"),
    (jwt.MissingRequiredClaimError, "claim_missing", "the identity token lacks a required claim"),
    (jwt.InvalidAlgorithmError, "algorithm_refused", "the identity token's algorithm is refused"),
)


def _decode(provider: Provider, token: str, key: Any, now: float) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=list(provider.algorithms),
            audience=provider.audience,
            issuer=provider.issuer,
            leeway=provider.clock_skew_s,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError as exc:
        for kind, reason, message in _DECODE_ERRORS:
            if isinstance(exc, kind):
                raise IdpTokenError(reason, message) from exc
        raise IdpTokenError("malformed", "the identity token is malformed") from exc
    iat = claims["iat"]
    if not isinstance(iat, int | float) or iat < now - MAX_TOKEN_AGE_S - provider.clock_skew_s:
        raise IdpTokenError("token_stale", "the identity token is too old; sign in again")
    if not isinstance(claims["sub"], str) or not 0 < len(claims["sub"]) <= 255:
        raise IdpTokenError("claim_missing", "the identity token's subject is not usable")
    return claims


def first_use(conn: Connection, token: str, expires_at: int, now: float) -> bool:
    """Record that ``token`` was exchanged; ``False`` if it already was."""
    digest = hashlib.sha256(token.encode("ascii", "replace")).hexdigest()
    table = db.idp_token_uses
    conn.execute(delete(table).where(table.c.expires_at < int(now)))
    if conn.execute(select(table.c.digest).where(table.c.digest == digest)).first():
        return False
    conn.execute(insert(table).values(digest=digest, expires_at=int(expires_at)))
    return True


@dataclass(frozen=True)
class Person:
    user_id: str
    username: str
    display_name: str
    disabled: bool
    created: bool


def person_for(conn: Connection, provider: Provider, claims: Mapping[str, Any]) -> Person:
    """The Cordon user behind (provider, sub), created on first sign-in."""
    subject = str(claims["sub"])
    link = db.user_identities
    row = conn.execute(
        select(db.users)
        .join(link, link.c.user_id == db.users.c.id)
        .where(link.c.provider == provider.name, link.c.subject == subject)
    ).first()
    if row is not None:
        return Person(row.id, row.username, row.display_name, row.disabled_at is not None, False)
    wanted = str(claims.get(provider.username_claim) or subject)[:48]
    username = _free_username(conn, wanted, provider.name)
    display = str(claims.get("name") or username)[:128]
    user_id = new_id("usr")
    conn.execute(
        insert(db.users).values(
            id=user_id, username=username, display_name=display, is_demo=False,
            created_at=int(time.time()),
        )
    )  # fmt: skip
    conn.execute(insert(link).values(provider=provider.name, subject=subject, user_id=user_id))
    return Person(user_id, username, display, False, True)


def _free_username(conn: Connection, wanted: str, provider: str) -> str:
    for candidate in [wanted, f"{wanted}@{provider}"[:64]]:
        taken = conn.execute(select(db.users.c.id).where(db.users.c.username == candidate)).first()
        if taken is None:
            return candidate
    return f"{wanted[:40]}-{new_id('u')[-8:]}"


def claim_values(claims: Mapping[str, Any], name: str) -> set[str]:
    value = claims.get(name)
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        return {str(v) for v in value if isinstance(v, str | int)}
    return set()


def sync_roles(
    conn: Connection, provider: Provider, user_id: str, claims: Mapping[str, Any]
) -> dict[str, Role]:
    """Set the user's provider-granted memberships from the mapping rules; return them.

    A membership an administrator set by hand (not granted by a provider) is
    left alone. Where several rules match in one project, the first rule made wins.
    """
    values = claim_values(claims, provider.groups_claim)
    rules = conn.execute(
        select(db.idp_role_rules)
        .where(db.idp_role_rules.c.provider == provider.name)
        .order_by(db.idp_role_rules.c.created_at, db.idp_role_rules.c.id)
    ).all()
    wanted: dict[str, Role] = {}
    for rule in rules:
        if rule.claim_value in values and rule.project_id not in wanted:
            wanted[rule.project_id] = Role(rule.role)
    grant = f"idp:{provider.name}"
    m = db.memberships
    current = {r.project_id: r for r in conn.execute(select(m).where(m.c.user_id == user_id)).all()}
    for project_id, row in current.items():
        if row.granted_by == grant and project_id not in wanted:
            conn.execute(delete(m).where(m.c.user_id == user_id, m.c.project_id == project_id))
    for project_id, role in wanted.items():
        existing = current.get(project_id)
        if existing is None:
            conn.execute(
                insert(m).values(
                    user_id=user_id, project_id=project_id, role=role, granted_by=grant
                )
            )
        elif existing.granted_by == grant and existing.role != role:
            conn.execute(
                update(m)
                .where(m.c.user_id == user_id, m.c.project_id == project_id)
                .values(role=role)
            )
    return wanted
