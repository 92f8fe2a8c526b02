"""At-rest sealing: each value opens only under its key and its stated purpose."""

from __future__ import annotations

import pytest

from app.crypto.errors import KeyUnwrapError
from app.crypto.fields import encode_fields
from app.crypto.key_wrap import new_key, open_sealed, seal, unwrap_key, wrap_key


def test_wrap_round_trip_and_context_binding() -> None:
    kek, key = new_key(), new_key()
    wrapped = wrap_key(kek, key, "segment", "prj_1", "seg_1")
    assert unwrap_key(kek, wrapped, "segment", "prj_1", "seg_1") == key
    with pytest.raises(KeyUnwrapError):
        unwrap_key(kek, wrapped, "segment", "prj_1", "seg_2")
    with pytest.raises(KeyUnwrapError):
        unwrap_key(new_key(), wrapped, "segment", "prj_1", "seg_1")
    flipped = bytearray(wrapped)
    flipped[20] ^= 1
    with pytest.raises(KeyUnwrapError):
        unwrap_key(kek, bytes(flipped), "segment", "prj_1", "seg_1")


def test_a_sealed_label_is_not_a_wrapped_key() -> None:
    kek = new_key()
    sealed = seal(kek, b"x" * 32, "key", "segment", "p", "s")
    assert open_sealed(kek, sealed, "key", "segment", "p", "s") == b"x" * 32
    with pytest.raises(KeyUnwrapError):
        open_sealed(kek, sealed, "label", "segment", "p", "s")


def test_field_encoding_cannot_collide() -> None:
    assert encode_fields("a/b", "c") != encode_fields("a", "b/c")
    assert encode_fields("ab", "") != encode_fields("a", "b")
