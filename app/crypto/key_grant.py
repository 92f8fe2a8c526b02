"""Per-device delivery of a segment's data key with HPKE (RFC 9180).

The server wraps the segment's data key to the requesting device's public key
in HPKE base mode. ``cryptography``'s HPKE has no AAD argument, so everything
the grant is about (project, segment, device, grant id, expiry) is bound in
``info``: a grant replayed to another device, segment or expiry does not open.
The client checks the expiry before opening, and opens with the ids *it*
expects, never with ids read from the response.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke

from app.crypto.device_keys import DeviceKeyPair, load_public_key
from app.crypto.errors import GrantExpiredError, KeyUnwrapError
from app.crypto.fields import encode_fields

SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_INFO_DOMAIN = b"cordon/v1/segment-key\x00"


@dataclass(frozen=True, slots=True)
class GrantBinding:
    """What a key grant is for; every field goes into HPKE ``info``."""

    project_id: str
    segment_id: str
    device_id: str
    grant_id: str
    expires_at: int

    def info(self) -> bytes:
        """The HPKE ``info`` string for this binding."""
        return _INFO_DOMAIN + encode_fields(
            self.project_id,
            self.segment_id,
            self.device_id,
            self.grant_id,
            str(self.expires_at),
        )


def seal_grant(data_key: bytes, device_public_key: bytes, binding: GrantBinding) -> bytes:
    """Wrap ``data_key`` to a device (server side)."""
    return SUITE.encrypt(data_key, load_public_key(device_public_key), info=binding.info())


def open_grant(
    wrapped: bytes,
    device: DeviceKeyPair,
    binding: GrantBinding,
    *,
    now: float | None = None,
) -> bytes:
    """Unwrap a data key on the device named in ``binding`` (client side)."""
    current = time.time() if now is None else now
    if binding.expires_at <= current:
        raise GrantExpiredError("key grant expired")
    try:
        return SUITE.decrypt(wrapped, device.private_key, info=binding.info())
    except (InvalidTag, ValueError) as exc:
        raise KeyUnwrapError("key grant did not open on this device") from exc
