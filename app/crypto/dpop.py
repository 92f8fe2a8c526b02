"""DPoP proofs (RFC 9449): every request signed by the workstation's own key.

A Cordon access token is bound to the thumbprint of one device signing key
(its ``cnf.jkt``). Each request then carries a fresh proof — a JWT signed by
that key naming the method, the URL, the time, a one-off id, the hash of the
token and the server's current nonce — so a token copied off a workstation
is useless without the key, which never leaves the OS keyring.

The client builds proofs with :class:`DPoPKey`; the server checks them
(``server.dpop``). Both use the helpers here, so the thumbprint and URL rules
cannot drift apart. ES256 (P-256) only: the algorithm every DPoP server must
support, with keys OpenSSL signs in microseconds.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ALGORITHM = "ES256"
PROOF_TYPE = "dpop+jwt"
#: Header names (RFC 9449 §4.1, §8).
PROOF_HEADER = "DPoP"
NONCE_HEADER = "DPoP-Nonce"
#: The Authorization scheme of a DPoP-bound token.
SCHEME = "DPoP"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 thumbprint of a P-256 public JWK: SHA-256 of its required members, sorted.

    Only ``crv``, ``kty``, ``x`` and ``y`` count, so a key sent with extra members
    (``kid``, ``use``) has the same thumbprint as the bare key.
    """
    members = {name: str(jwk[name]) for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode("ascii")
    return b64url(hashlib.sha256(canonical).digest())


def access_token_hash(token: str) -> str:
    """``ath``: base64url of the SHA-256 of the access token's ASCII bytes."""
    return b64url(hashlib.sha256(token.encode("ascii")).digest())


def target_uri(url: str) -> str:
    """``htu``: the request URL without query or fragment, scheme and host lower-case."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, "", ""))


class DPoPKey:
    """One device signing key (P-256). Its private half belongs in the OS keyring only."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise ValueError("a DPoP key must be on P-256")
        self._key = private_key
        numbers = private_key.public_key().public_numbers()
        self.public_jwk: dict[str, str] = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")),
        }
        self.thumbprint = jwk_thumbprint(self.public_jwk)

    @classmethod
    def generate(cls) -> DPoPKey:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_private_bytes(cls, raw: bytes) -> DPoPKey:
        """Rebuild from :meth:`private_bytes` (PKCS#8 DER); ``ValueError`` if malformed."""
        key = serialization.load_der_private_key(raw, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("stored DPoP key is not an EC key")
        return cls(key)

    def private_bytes(self) -> bytes:
        """Serialise for the keyring (never for a file)."""
        return self._key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def proof(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        nonce: str | None = None,
        now: float | None = None,
    ) -> str:
        """A one-off proof for ``method url`` (with ``ath`` when a token goes with it)."""
        claims: dict[str, Any] = {
            "htm": method.upper(),
            "htu": target_uri(url),
            "iat": int(time.time() if now is None else now),
            "jti": secrets.token_urlsafe(18),
        }
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        if nonce is not None:
            claims["nonce"] = nonce
        headers = {"typ": PROOF_TYPE, "jwk": self.public_jwk}
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers=headers)
