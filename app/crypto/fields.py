"""Unambiguous encoding of identifier tuples for AEAD associated data and HPKE info.

Concatenating ids with a separator lets ``("a/b", "c")`` collide with
``("a", "b/c")``; a length prefix per field cannot collide.
"""

import struct

MAX_FIELD_BYTES = 0xFFFF


def encode_fields(*fields: str) -> bytes:
    """Return each field as a big-endian u16 length followed by its UTF-8 bytes."""
    out = bytearray()
    for field in fields:
        raw = field.encode("utf-8")
        if len(raw) > MAX_FIELD_BYTES:
            raise ValueError("field too long to encode")
        out += struct.pack(">H", len(raw))
        out += raw
    return bytes(out)
