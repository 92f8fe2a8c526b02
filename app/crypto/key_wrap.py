"""Symmetric sealing for things at rest: keys (root -> project -> data key) and labels.

AES-256-GCM with a random 96-bit nonce; the associated data names what the
sealed value is for, so a wrapped data key or a label moved to another row does
not open. A fresh data key per segment keeps every GCM key far below its
random-nonce limit.
"""

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.crypto.errors import KeyUnwrapError
from app.crypto.fields import encode_fields

KEY_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
_DOMAIN = b"cordon/seal/v1\x00"


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, plaintext: bytes, *context: str) -> bytes:
    """Encrypt ``plaintext`` under ``key``, bound to ``context`` (e.g. ``("label", task)``)."""
    if len(key) != KEY_BYTES:
        raise ValueError("keys must be 32 bytes")
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, _DOMAIN + encode_fields(*context))


def open_sealed(key: bytes, sealed: bytes, *context: str) -> bytes:
    """Open a value sealed by :func:`seal` with the same ``context``."""
    if len(sealed) < _NONCE_BYTES + _TAG_BYTES:
        raise KeyUnwrapError("sealed value is too short")
    nonce, body = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
    try:
        return AESGCM(key).decrypt(nonce, body, _DOMAIN + encode_fields(*context))
    except InvalidTag as exc:
        raise KeyUnwrapError("sealed value did not open") from exc


def wrap_key(kek: bytes, key: bytes, *context: str) -> bytes:
    """Seal a 256-bit ``key`` under ``kek``; ``context`` says which key it is."""
    if len(key) != KEY_BYTES:
        raise ValueError("keys must be 32 bytes")
    return seal(kek, key, "key", *context)


def unwrap_key(kek: bytes, wrapped: bytes, *context: str) -> bytes:
    """Open a key wrapped by :func:`wrap_key` with the same ``context``."""
    if len(wrapped) != _NONCE_BYTES + KEY_BYTES + _TAG_BYTES:
        raise KeyUnwrapError("wrapped key has the wrong length")
    return open_sealed(kek, wrapped, "key", *context)
