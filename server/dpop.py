"""Checking DPoP proofs (RFC 9449) on the server.

A proof is accepted only if all of this holds, in this order: it is a JWT of
type ``dpop+jwt`` signed with ES256 by the P-256 public key in its own header
(no private members), it names this request's method and URL, it is fresh
(``iat`` within the window), it carries a nonce this server issued in the last
two nonce periods, it hashes the access token it came with (``ath``), and its
``jti`` was not seen before. Only then is the ``jti`` remembered, so a refused
proof cannot be used to poison the cache.

Nonces are stateless — an HMAC of the current period under a secret in the
data directory, the same for every server process and across restarts — so
every response can carry one without a database write. The server's replay
cache is a file every process shares (:mod:`server.dpop_replay`), so neither
another process nor a restart accepts a proof twice; :class:`ReplayCache`
keeps ``jti``s in memory for one process (tests).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import jwt
from jwt.algorithms import ECAlgorithm

from app.crypto.dpop import (
    ALGORITHM,
    PROOF_TYPE,
    access_token_hash,
    b64url,
    jwk_thumbprint,
    target_uri,
)

#: A proof older than this (or this far ahead of the server's clock) is refused.
PROOF_MAX_AGE_S = 120
PROOF_MAX_AHEAD_S = 30
NONCE_PERIOD_S = 300
MAX_PROOF_BYTES = 4096
MAX_JTI_CHARS = 128


class ProofError(Exception):
    """The proof is refused. ``reason`` is a stable code for the audit leaf."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class NonceError(ProofError):
    """The proof lacks a current nonce: the client should retry with the one sent."""


class NonceSource:
    """Issues and checks nonces: HMAC(secret, period), current or previous period valid."""

    def __init__(self, secret: bytes | None = None, period_s: int = NONCE_PERIOD_S) -> None:
        self._secret = secret or secrets.token_bytes(32)
        self._period = period_s

    def _for(self, period: int) -> str:
        mac = hmac.new(self._secret, b"cordon-dpop-nonce." + str(period).encode(), hashlib.sha256)
        return b64url(mac.digest()[:18])

    def current(self, now: float | None = None) -> str:
        return self._for(int((time.time() if now is None else now) // self._period))

    def valid(self, nonce: str, now: float | None = None) -> bool:
        period = int((time.time() if now is None else now) // self._period)
        return any(
            hmac.compare_digest(nonce.encode(), self._for(p).encode()) for p in (period, period - 1)
        )


class ReplayCache:
    """The ``jti``s seen while their proofs could still be fresh (thread-safe)."""

    def __init__(self, keep_s: int = PROOF_MAX_AGE_S + PROOF_MAX_AHEAD_S) -> None:
        self._keep = keep_s
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._next_prune = 0.0

    def first_use(self, jti: str, now: float) -> bool:
        """Remember ``jti``; ``False`` if it was already used."""
        with self._lock:
            if now >= self._next_prune:
                self._seen = {k: t for k, t in self._seen.items() if t > now}
                self._next_prune = now + 5
            if jti in self._seen:
                return False
            self._seen[jti] = now + self._keep
            return True


@dataclass(frozen=True)
class Proof:
    """A verified proof: the thumbprint of the key that signed it."""

    jkt: str
    jti: str


class Replay(Protocol):
    """Where seen ``jti``s are kept: this process's memory, or a file all processes share."""

    def first_use(self, jti: str, now: float) -> bool: ...


class ProofVerifier:
    """Verifies proofs for one server process."""

    def __init__(self, nonces: NonceSource | None = None, replay: Replay | None = None):
        self.nonces = nonces or NonceSource()
        self._replay = replay or ReplayCache()

    def verify(
        self,
        proof: str | None,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        now: float | None = None,
    ) -> Proof:
        """The proof's key thumbprint, or :class:`ProofError` naming what is wrong."""
        now = time.time() if now is None else now
        jwk, claims = _signed_claims(proof)
        if claims.get("htm") != method.upper():
            raise ProofError("dpop_wrong_method", "the DPoP proof is for another method")
        if claims.get("htu") != target_uri(url):
            raise ProofError("dpop_wrong_url", "the DPoP proof is for another URL")
        iat = claims.get("iat")
        if not isinstance(iat, int) or isinstance(iat, bool):
            raise ProofError("dpop_malformed", "the DPoP proof has no issue time")
        if iat < now - PROOF_MAX_AGE_S or iat > now + PROOF_MAX_AHEAD_S:
            raise ProofError("dpop_stale", "the DPoP proof is too old or from the future")
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not self.nonces.valid(nonce, now):
            raise NonceError("dpop_nonce", "the DPoP proof needs the server's current nonce")
        if access_token is not None and not _same(
            claims.get("ath"), access_token_hash(access_token)
        ):
            raise ProofError("dpop_wrong_token", "the DPoP proof is for another access token")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not 8 <= len(jti) <= MAX_JTI_CHARS:
            raise ProofError("dpop_malformed", "the DPoP proof has no valid jti")
        if not self._replay.first_use(jti, now):
            raise ProofError("dpop_replayed", "this DPoP proof was already used")
        return Proof(jwk_thumbprint(jwk), jti)


def _signed_claims(proof: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The proof's public key and claims, once its signature by that key verifies."""
    if not proof:
        raise ProofError("dpop_missing", "a DPoP proof is required")
    if len(proof) > MAX_PROOF_BYTES or "," in proof or " " in proof:
        raise ProofError("dpop_malformed", "the DPoP proof is malformed")
    jwk = _header_key(proof)
    key = _public_key(jwk)
    try:
        claims: dict[str, Any] = jwt.decode(
            proof,
            key,
            algorithms=[ALGORITHM],
            options={"verify_aud": False, "verify_iat": False, "verify_exp": False},
        )
    except jwt.InvalidSignatureError as exc:
        raise ProofError("dpop_bad_signature", "the DPoP proof's signature is wrong") from exc
    except jwt.PyJWTError as exc:
        raise ProofError("dpop_malformed", "the DPoP proof is malformed") from exc
    return jwk, claims


def _same(value: object, expected: str) -> bool:
    return isinstance(value, str) and hmac.compare_digest(value.encode(), expected.encode())


def _header_key(proof: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(proof)
    except jwt.PyJWTError as exc:
        raise ProofError("dpop_malformed", "the DPoP proof is malformed") from exc
    if header.get("typ") != PROOF_TYPE:
        raise ProofError("dpop_malformed", "the DPoP proof's type is not dpop+jwt")
    if header.get("alg") != ALGORITHM:
        raise ProofError("dpop_algorithm", "the DPoP proof must be signed with ES256")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise ProofError("dpop_malformed", "the DPoP proof carries no public key")
    return jwk


def _public_key(jwk: dict[str, Any]) -> Any:
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or "d" in jwk:
        raise ProofError("dpop_malformed", "the DPoP proof's key must be a public P-256 key")
    if not all(isinstance(jwk.get(k), str) for k in ("x", "y")):
        raise ProofError("dpop_malformed", "the DPoP proof's key is malformed")
    try:
        return ECAlgorithm.from_jwk(json.dumps(jwk))
    except (jwt.PyJWTError, ValueError) as exc:
        raise ProofError("dpop_malformed", "the DPoP proof's key is malformed") from exc
