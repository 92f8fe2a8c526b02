"""The segment format: round trips, a known answer, and every way to tamper with it."""

from __future__ import annotations

import hashlib
import io
import struct

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.crypto.errors import SegmentFormatError, SegmentIntegrityError
from app.crypto.segment_format import (
    TAG_BYTES,
    SegmentDecryptor,
    SegmentEncryptor,
    encrypt_stream,
    parse_header,
)

KEY = bytes(range(32))
CHUNK = 1024
# AES-GCM is deterministic for a fixed key and nonce, so the whole blob is pinned.
KAT_SHA256 = "6180e82c85979476c17f6ee3b4b317e1b846bb1977e8cec4cd11dd2e82319cbd"


def seal(plaintext: bytes, chunk: int = CHUNK, prefix: bytes | None = None) -> bytes:
    enc = SegmentEncryptor(
        KEY,
        project_id="prj_1",
        segment_id="seg_1",
        plaintext_length=len(plaintext),
        chunk_size=chunk,
        nonce_prefix=prefix,
    )
    out = bytearray(enc.header_bytes)
    for i in range(enc.header.chunk_count):
        start = i * chunk
        out += enc.seal_chunk(plaintext[start : start + enc.header.plaintext_chunk_length(i)])
    assert enc.done
    return bytes(out)


def open_all(blob: bytes, *, piece: int = 333, key: bytes = KEY, segment: str = "seg_1") -> bytes:
    holder: dict[str, bytearray] = {}

    def allocate(n: int) -> memoryview:
        holder["buf"] = bytearray(n)
        return memoryview(holder["buf"])

    dec = SegmentDecryptor(key, project_id="prj_1", segment_id=segment, allocate=allocate)
    for i in range(0, len(blob), piece):
        dec.feed(blob[i : i + piece])
    dec.finish()
    return bytes(holder["buf"])


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 512])
def test_round_trip_any_length(size: int) -> None:
    plaintext = hashlib.shake_256(b"speech").digest(size)
    blob = seal(plaintext)
    header = parse_header(blob)
    assert header is not None
    assert len(blob) == header.ciphertext_length
    assert open_all(blob) == plaintext
    assert open_all(blob, piece=1) == plaintext


def test_known_answer_matches_an_independent_construction() -> None:
    """Rebuild the documented layout by hand with raw AES-GCM: any format drift fails here."""
    prefix = b"\x00\x01\x02\x03\x04\x05\x06"
    plaintext = b"Cordon segment format v1" * 100  # 2400 bytes -> 3 chunks of 1024
    ids = b"\x00\x05prj_1\x00\x05seg_1"
    fixed = struct.Struct(">4sBHBIQ7s")
    header = fixed.pack(b"CRDN", 1, fixed.size + len(ids), 1, CHUNK, len(plaintext), prefix) + ids
    expected = bytearray(header)
    aead = AESGCM(KEY)
    for i, last in ((0, 0), (1, 0), (2, 1)):
        nonce = prefix + struct.pack(">IB", i, last)
        expected += aead.encrypt(nonce, plaintext[i * CHUNK : (i + 1) * CHUNK], header)
    assert seal(plaintext, prefix=prefix) == bytes(expected)
    assert hashlib.sha256(expected).hexdigest() == KAT_SHA256


def test_plaintext_is_available_chunk_by_chunk() -> None:
    plaintext = bytes(range(256)) * 16  # 4 chunks
    blob = seal(plaintext)
    holder: list[bytearray] = []

    def allocate(n: int) -> memoryview:
        holder.append(bytearray(n))
        return memoryview(holder[0])

    dec = SegmentDecryptor(KEY, project_id="prj_1", segment_id="seg_1", allocate=allocate)
    header_len = len(blob) - len(plaintext) - 4 * TAG_BYTES
    first_chunk_end = header_len + CHUNK + TAG_BYTES
    dec.feed(blob[:first_chunk_end])
    assert dec.plaintext_available == CHUNK
    assert bytes(holder[0][:CHUNK]) == plaintext[:CHUNK]
    assert not dec.complete


def test_every_flipped_byte_is_detected() -> None:
    plaintext = hashlib.shake_256(b"x").digest(2 * CHUNK + 100)
    blob = seal(plaintext)
    for pos in range(len(blob)):
        tampered = bytearray(blob)
        tampered[pos] ^= 0x01
        with pytest.raises((SegmentIntegrityError, SegmentFormatError)):
            open_all(bytes(tampered))


def test_truncation_anywhere_is_detected() -> None:
    blob = seal(hashlib.shake_256(b"t").digest(3 * CHUNK))
    for cut in [*range(0, len(blob), 97), len(blob) - 1]:
        with pytest.raises((SegmentIntegrityError, SegmentFormatError)):
            open_all(blob[:cut])


def test_dropping_the_final_chunk_is_detected() -> None:
    plaintext = hashlib.shake_256(b"f").digest(3 * CHUNK)
    blob = seal(plaintext)
    with pytest.raises(SegmentIntegrityError, match="truncated"):
        open_all(blob[: len(blob) - (CHUNK + TAG_BYTES)])


def test_reordered_chunks_are_detected() -> None:
    plaintext = hashlib.shake_256(b"r").digest(3 * CHUNK)
    blob = seal(plaintext)
    header_len = len(blob) - len(plaintext) - 3 * TAG_BYTES
    size = CHUNK + TAG_BYTES
    c0 = blob[header_len : header_len + size]
    c1 = blob[header_len + size : header_len + 2 * size]
    swapped = blob[:header_len] + c1 + c0 + blob[header_len + 2 * size :]
    with pytest.raises(SegmentIntegrityError, match="chunk 0"):
        open_all(swapped)


def test_extension_is_detected() -> None:
    blob = seal(b"a" * 100)
    with pytest.raises(SegmentIntegrityError, match="after the final chunk"):
        open_all(blob + b"\x00")
    other = seal(b"b" * 100)
    with pytest.raises(SegmentIntegrityError):
        open_all(blob + other)


def test_chunk_from_another_segment_is_refused() -> None:
    a = seal(b"a" * 3000, prefix=b"AAAAAAA")
    b = seal(b"b" * 3000, prefix=b"BBBBBBB")
    header_len = len(a) - 3000 - 3 * TAG_BYTES
    spliced = a[: header_len + CHUNK + TAG_BYTES] + b[header_len + CHUNK + TAG_BYTES :]
    with pytest.raises(SegmentIntegrityError, match="chunk 1"):
        open_all(spliced)


def test_wrong_key_and_wrong_segment_are_refused() -> None:
    blob = seal(b"z" * 50)
    with pytest.raises(SegmentIntegrityError):
        open_all(blob, key=bytes(32))
    with pytest.raises(SegmentFormatError, match="another segment"):
        open_all(blob, segment="seg_2")


def test_failed_chunk_leaves_zeros_in_the_output() -> None:
    plaintext = b"\xaa" * (2 * CHUNK)
    blob = bytearray(seal(plaintext))
    blob[-1] ^= 1  # breaks the second (last) chunk
    holder: list[bytearray] = []

    def allocate(n: int) -> memoryview:
        holder.append(bytearray(n))
        return memoryview(holder[0])

    dec = SegmentDecryptor(KEY, project_id="prj_1", segment_id="seg_1", allocate=allocate)
    with pytest.raises(SegmentIntegrityError):
        dec.feed(bytes(blob))
    assert bytes(holder[0][CHUNK:]) == bytes(CHUNK)


def test_encrypt_stream_checks_the_promised_length() -> None:
    data = b"q" * 5000
    sink = io.BytesIO()
    encrypt_stream(
        KEY, io.BytesIO(data), sink, project_id="prj_1", segment_id="seg_1",
        plaintext_length=5000, chunk_size=CHUNK,
    )  # fmt: skip
    assert open_all(sink.getvalue()) == data
    with pytest.raises(ValueError, match="ended before"):
        encrypt_stream(
            KEY, io.BytesIO(data[:10]), io.BytesIO(), project_id="p", segment_id="s",
            plaintext_length=5000, chunk_size=CHUNK,
        )  # fmt: skip
    with pytest.raises(ValueError, match="longer"):
        encrypt_stream(
            KEY, io.BytesIO(data), io.BytesIO(), project_id="p", segment_id="s",
            plaintext_length=10, chunk_size=CHUNK,
        )  # fmt: skip


def test_malformed_headers_are_format_errors() -> None:
    blob = bytearray(seal(b"h" * 10))
    with pytest.raises(SegmentFormatError, match="not a Cordon"):
        parse_header(b"XXXX" + bytes(blob[4:]))
    bad_version = bytearray(blob)
    bad_version[4] = 9
    with pytest.raises(SegmentFormatError, match="unsupported"):
        parse_header(bytes(bad_version))
    assert parse_header(bytes(blob[:10])) is None


def test_a_tampered_header_never_reaches_allocation() -> None:
    """The size to allocate comes only from a header the first chunk authenticated."""
    blob = bytearray(seal(b"s" * 3000))
    blob[16] ^= 0x40  # plaintext_length += 1 GiB: would ask for a huge buffer
    calls: list[int] = []

    def allocate(n: int) -> memoryview:
        calls.append(n)
        return memoryview(bytearray(n))

    dec = SegmentDecryptor(KEY, project_id="prj_1", segment_id="seg_1", allocate=allocate)
    with pytest.raises(SegmentIntegrityError):
        dec.feed(bytes(blob))
    assert calls == []
