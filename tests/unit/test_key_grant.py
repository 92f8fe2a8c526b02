"""Per-device key delivery: only the named device, segment and unexpired grant open."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from app.crypto.device_keys import (
    PRIVATE_KEY_BYTES,
    PUBLIC_KEY_BYTES,
    DeviceKeyPair,
    load_public_key,
)
from app.crypto.errors import GrantExpiredError, KeyUnwrapError
from app.crypto.key_grant import GrantBinding, open_grant, seal_grant

DATA_KEY = b"k" * 32
NOW = 1_800_000_000
BINDING = GrantBinding("prj_1", "seg_1", "dev_1", "grt_1", NOW + 600)


@pytest.fixture(scope="module")
def device() -> DeviceKeyPair:
    return DeviceKeyPair.generate()


def test_round_trip_and_key_serialisation(device: DeviceKeyPair) -> None:
    wrapped = seal_grant(DATA_KEY, device.public_bytes(), BINDING)
    assert len(wrapped) == 1120 + 32 + 16  # ML-KEM-768+X25519 enc, key, tag
    restored = DeviceKeyPair.from_private_bytes(device.private_bytes())
    assert len(device.private_bytes()) == PRIVATE_KEY_BYTES
    assert restored.public_bytes() == device.public_bytes()
    assert len(device.public_bytes()) == PUBLIC_KEY_BYTES
    assert open_grant(wrapped, restored, BINDING, now=NOW) == DATA_KEY


def test_another_device_cannot_open(device: DeviceKeyPair) -> None:
    wrapped = seal_grant(DATA_KEY, device.public_bytes(), BINDING)
    with pytest.raises(KeyUnwrapError):
        open_grant(wrapped, DeviceKeyPair.generate(), BINDING, now=NOW)


@pytest.mark.parametrize(
    "field", ["project_id", "segment_id", "device_id", "grant_id", "expires_at"]
)
def test_every_bound_field_matters(device: DeviceKeyPair, field: str) -> None:
    wrapped = seal_grant(DATA_KEY, device.public_bytes(), BINDING)
    value = getattr(BINDING, field)
    changes: dict[str, Any] = {field: value + 1 if isinstance(value, int) else "x"}
    changed = dataclasses.replace(BINDING, **changes)
    with pytest.raises(KeyUnwrapError):
        open_grant(wrapped, device, changed, now=NOW)


def test_expired_grant_is_refused_before_opening(device: DeviceKeyPair) -> None:
    wrapped = seal_grant(DATA_KEY, device.public_bytes(), BINDING)
    with pytest.raises(GrantExpiredError):
        open_grant(wrapped, device, BINDING, now=BINDING.expires_at)


def test_tampered_grant_is_refused(device: DeviceKeyPair) -> None:
    wrapped = bytearray(seal_grant(DATA_KEY, device.public_bytes(), BINDING))
    for pos in (0, 500, 1119, 1120, len(wrapped) - 1):
        tampered = bytearray(wrapped)
        tampered[pos] ^= 1
        with pytest.raises(KeyUnwrapError):
            open_grant(bytes(tampered), device, BINDING, now=NOW)
    with pytest.raises(KeyUnwrapError):
        open_grant(bytes(wrapped[:-1]), device, BINDING, now=NOW)


def test_malformed_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="wrong length"):
        load_public_key(b"\x01" + bytes(10))
    with pytest.raises(KeyUnwrapError):
        DeviceKeyPair.from_private_bytes(b"\x02" + bytes(PRIVATE_KEY_BYTES - 1))
