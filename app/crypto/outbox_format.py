"""The outbox file format: append-only records, each sealed with AES-256-GCM.

A file is ``MAGIC ‖ file id (16 random bytes)`` followed by records, each
``length (u32, big-endian) ‖ nonce (12) ‖ ciphertext ‖ tag (16)``. The AAD of
record *i* is ``MAGIC ‖ file id ‖ i (u64)``: a record cannot be moved to
another file or position, and removing or reordering records in the middle of
a file breaks every later one. Nothing in a file is readable without the key,
which lives only in the OS keyring.

A crash can leave a half-written last record. :func:`read_records` stops at
the first record that is short or fails to authenticate and reports where the
intact part ends, so the writer can cut the torn tail off; a failure *before*
the last record is damage, not a torn write, and is reported as such.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"CDNOBX01"
FILE_ID_SIZE = 16
HEADER_SIZE = len(MAGIC) + FILE_ID_SIZE
NONCE_SIZE = 12
TAG_SIZE = 16
KEY_SIZE = 32
MAX_RECORD = 1 << 22  # 4 MiB: a transcript is at most 200k characters
_LENGTH = struct.Struct(">I")


class OutboxFormatError(Exception):
    """The file is not an outbox file, or a record in it failed to authenticate."""


def new_header() -> bytes:
    return MAGIC + os.urandom(FILE_ID_SIZE)


def _aad(header: bytes, index: int) -> bytes:
    return header + index.to_bytes(8, "big")


def seal_record(key: bytes, header: bytes, index: int, plaintext: bytes) -> bytes:
    """One framed record, ready to append."""
    nonce = os.urandom(NONCE_SIZE)
    sealed = nonce + AESGCM(key).encrypt(nonce, plaintext, _aad(header, index))
    return _LENGTH.pack(len(sealed)) + sealed


@dataclass
class ReadResult:
    """What a file holds: its records, where the intact part ends, and why it stopped."""

    header: bytes
    records: list[bytes]
    good_length: int
    torn: bool  # a short or unauthenticated record at the very end (a crash mid-write)


def read_records(key: bytes, data: bytes) -> ReadResult:
    """Authenticate and open every record of one file's bytes.

    Raises :class:`OutboxFormatError` if the header is wrong or a record that
    is followed by more data fails to authenticate (tampering or damage).
    """
    if len(data) < HEADER_SIZE or not data.startswith(MAGIC):
        raise OutboxFormatError("not a Cordon outbox file")
    header = data[:HEADER_SIZE]
    aead = AESGCM(key)
    records: list[bytes] = []
    offset = HEADER_SIZE
    while offset < len(data):
        rest = len(data) - offset
        length = _LENGTH.unpack_from(data, offset)[0] if rest >= _LENGTH.size else 0
        end = offset + _LENGTH.size + length
        if rest < _LENGTH.size or not data[offset:].strip(b"\0"):
            return ReadResult(header, records, offset, torn=True)  # cut short by a crash
        if not NONCE_SIZE + TAG_SIZE <= length <= MAX_RECORD:
            raise OutboxFormatError(f"record {len(records)} has an impossible length")
        if end > len(data):
            return ReadResult(header, records, offset, torn=True)
        nonce = data[offset + _LENGTH.size : offset + _LENGTH.size + NONCE_SIZE]
        body = data[offset + _LENGTH.size + NONCE_SIZE : end]
        try:
            records.append(aead.decrypt(nonce, body, _aad(header, len(records))))
        except InvalidTag as exc:
            if end == len(data):
                return ReadResult(header, records, offset, torn=True)
            raise OutboxFormatError(f"record {len(records)} failed to authenticate") from exc
        offset = end
    return ReadResult(header, records, offset, torn=False)
