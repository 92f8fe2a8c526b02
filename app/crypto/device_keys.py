"""Device key pairs for per-device key delivery (HPKE, ML-KEM-768 + X25519 hybrid).

A device's private key lives only in the OS keyring (see ``app.services``'s
device store); these helpers turn it into bytes and back. The public key is
what the server stores at enrolment and wraps data keys to.

Encodings (version byte first, so the suite can change later):
private = 0x01 | ML-KEM-768 seed (64) | X25519 private (32)
public  = 0x01 | ML-KEM-768 public (1184) | X25519 public (32)
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from app.crypto.errors import KeyUnwrapError

SUITE_MLKEM768_X25519 = 1
_SEED = 64
_X25519 = 32
_MLKEM_PUB = 1184
PRIVATE_KEY_BYTES = 1 + _SEED + _X25519
PUBLIC_KEY_BYTES = 1 + _MLKEM_PUB + _X25519


class DeviceKeyPair:
    """A device's hybrid HPKE key pair."""

    def __init__(self, mlkem_key: mlkem.MLKEM768PrivateKey, x_key: x25519.X25519PrivateKey):
        self._mlkem = mlkem_key
        self._x = x_key
        self.private_key = hpke.MLKEM768X25519PrivateKey(mlkem_key, x_key)

    @classmethod
    def generate(cls) -> DeviceKeyPair:
        """A fresh key pair from the OS CSPRNG."""
        return cls(mlkem.MLKEM768PrivateKey.generate(), x25519.X25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, raw: bytes) -> DeviceKeyPair:
        """Rebuild a key pair from :meth:`private_bytes` output."""
        if len(raw) != PRIVATE_KEY_BYTES or raw[0] != SUITE_MLKEM768_X25519:
            raise KeyUnwrapError("stored device key is malformed")
        seed, x_raw = raw[1 : 1 + _SEED], raw[1 + _SEED :]
        return cls(
            mlkem.MLKEM768PrivateKey.from_seed_bytes(seed),
            x25519.X25519PrivateKey.from_private_bytes(x_raw),
        )

    def private_bytes(self) -> bytes:
        """Serialise for the keyring (never for a file)."""
        return (
            bytes([SUITE_MLKEM768_X25519])
            + self._mlkem.private_bytes_raw()
            + self._x.private_bytes_raw()
        )

    def public_bytes(self) -> bytes:
        """Serialise the public half for enrolment."""
        return (
            bytes([SUITE_MLKEM768_X25519])
            + self._mlkem.public_key().public_bytes_raw()
            + self._x.public_key().public_bytes_raw()
        )


def load_public_key(raw: bytes) -> hpke.MLKEM768X25519PublicKey:
    """Parse an enrolment public key; raises ``ValueError`` on anything malformed."""
    if len(raw) != PUBLIC_KEY_BYTES or raw[0] != SUITE_MLKEM768_X25519:
        raise ValueError("device public key has the wrong length or suite")
    return hpke.MLKEM768X25519PublicKey(
        mlkem.MLKEM768PublicKey.from_public_bytes(raw[1 : 1 + _MLKEM_PUB]),
        x25519.X25519PublicKey.from_public_bytes(raw[1 + _MLKEM_PUB :]),
    )


def public_key_fingerprint(raw: bytes) -> str:
    """Short, stable id for a device public key (for logs and the enrolment UI)."""
    return hashlib.sha256(raw).hexdigest()[:32]
