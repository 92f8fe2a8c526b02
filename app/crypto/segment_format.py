"""The Cordon segment format: versioned, chunked AES-256-GCM in the STREAM style.

Layout::

    header  = "CRDN" | version u8 | header_len u16 | alg u8 | chunk_size u32
              | plaintext_len u64 | nonce_prefix[7] | project_id (u16 len + utf8)
              | segment_id (u16 len + utf8)
    chunk_i = AES-256-GCM(data_key, nonce = prefix | i u32 | last u8, aad = header)

Why this shape: per-chunk sealing lets the client verify and use the first
chunk before the rest arrives; the counter in the nonce detects reordering; the
last-chunk flag and the authenticated plaintext length detect truncation and
extension; the whole header is associated data of every chunk, so ids, chunk
size and length cannot be edited. One fresh data key per segment keeps GCM far
from its nonce limits.

Decryption writes into a buffer the caller owns (``decrypt_into``), one chunk
per call, so plaintext never lands in an unwipeable ``bytes`` and no single call
holds the GIL for long.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.crypto.errors import SegmentFormatError, SegmentIntegrityError
from app.crypto.fields import encode_fields
from app.crypto.secure_buffer import SecureBuffer

MAGIC = b"CRDN"
VERSION = 1
ALG_AES_256_GCM = 1
DEFAULT_CHUNK_SIZE = 1 << 20
MIN_CHUNK_SIZE = 1 << 10
MAX_CHUNK_SIZE = 1 << 24
TAG_BYTES = 16
NONCE_PREFIX_BYTES = 7
_FIXED = struct.Struct(">4sBHBIQ7s")  # magic, version, header_len, alg, chunk, length, prefix
MAX_HEADER_BYTES = 1024
_MAX_CHUNKS = 1 << 32


@dataclass(frozen=True, slots=True)
class SegmentHeader:
    """The authenticated header of one encrypted segment."""

    chunk_size: int
    plaintext_length: int
    nonce_prefix: bytes
    project_id: str
    segment_id: str

    @property
    def chunk_count(self) -> int:
        """Chunks in the stream; an empty segment still has one (empty, final) chunk."""
        return max(1, -(-self.plaintext_length // self.chunk_size))

    @property
    def ciphertext_length(self) -> int:
        """Exact length of header plus every sealed chunk."""
        return len(self.encode()) + self.plaintext_length + TAG_BYTES * self.chunk_count

    def encode(self) -> bytes:
        """Serialise the header; these bytes are every chunk's associated data."""
        ids = encode_fields(self.project_id, self.segment_id)
        header_len = _FIXED.size + len(ids)
        if header_len > MAX_HEADER_BYTES:
            raise SegmentFormatError("segment ids too long")
        fixed = _FIXED.pack(
            MAGIC,
            VERSION,
            header_len,
            ALG_AES_256_GCM,
            self.chunk_size,
            self.plaintext_length,
            self.nonce_prefix,
        )
        return fixed + ids

    def plaintext_chunk_length(self, index: int) -> int:
        """Plaintext bytes in chunk ``index`` (the last one may be short or empty)."""
        if index < self.chunk_count - 1:
            return self.chunk_size
        return self.plaintext_length - self.chunk_size * (self.chunk_count - 1)

    def nonce(self, index: int) -> bytes:
        """STREAM nonce: prefix, big-endian counter, last-chunk flag."""
        last = 1 if index == self.chunk_count - 1 else 0
        return self.nonce_prefix + struct.pack(">IB", index, last)


def parse_header(data: bytes | bytearray | memoryview) -> SegmentHeader | None:
    """Parse a header from the start of ``data``; ``None`` while more bytes are needed."""
    if len(data) < _FIXED.size:
        return None
    magic, version, header_len, alg, chunk_size, length, prefix = _FIXED.unpack_from(data)
    if magic != MAGIC:
        raise SegmentFormatError("not a Cordon segment")
    if version != VERSION or alg != ALG_AES_256_GCM:
        raise SegmentFormatError(f"unsupported segment version {version}/{alg}")
    if not _FIXED.size + 4 <= header_len <= MAX_HEADER_BYTES:
        raise SegmentFormatError("segment header length out of range")
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise SegmentFormatError("segment chunk size out of range")
    if len(data) < header_len:
        return None
    ids = bytes(data[_FIXED.size : header_len])
    fields = _decode_fields(ids)
    if len(fields) != 2:
        raise SegmentFormatError("segment header ids malformed")
    header = SegmentHeader(chunk_size, length, prefix, fields[0], fields[1])
    if header.chunk_count > _MAX_CHUNKS:
        raise SegmentFormatError("segment too long")
    return header


def _decode_fields(raw: bytes) -> list[str]:
    fields: list[str] = []
    pos = 0
    while pos < len(raw):
        if pos + 2 > len(raw):
            raise SegmentFormatError("segment header ids malformed")
        (n,) = struct.unpack_from(">H", raw, pos)
        pos += 2
        if pos + n > len(raw):
            raise SegmentFormatError("segment header ids malformed")
        try:
            fields.append(raw[pos : pos + n].decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise SegmentFormatError("segment header ids malformed") from exc
        pos += n
    return fields


class SegmentEncryptor:
    """Seals a segment chunk by chunk; used at ingest, where plaintext streams from a file."""

    def __init__(
        self,
        data_key: bytes,
        *,
        project_id: str,
        segment_id: str,
        plaintext_length: int,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        nonce_prefix: bytes | None = None,
    ) -> None:
        """``nonce_prefix`` is for known-answer tests only; production draws it at random."""
        if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
            raise ValueError("chunk size out of range")
        prefix = os.urandom(NONCE_PREFIX_BYTES) if nonce_prefix is None else nonce_prefix
        if len(prefix) != NONCE_PREFIX_BYTES:
            raise ValueError("nonce prefix must be 7 bytes")
        self.header = SegmentHeader(
            chunk_size,
            plaintext_length,
            prefix,
            project_id,
            segment_id,
        )
        self._aad = self.header.encode()
        self._aead = AESGCM(data_key)
        self._next = 0

    @property
    def header_bytes(self) -> bytes:
        """The serialised header, written before the first chunk."""
        return self._aad

    def seal_chunk(self, plaintext: bytes | bytearray | memoryview) -> bytes:
        """Seal the next chunk; its length must match what the header promises."""
        if self._next >= self.header.chunk_count:
            raise ValueError("all chunks already sealed")
        if len(plaintext) != self.header.plaintext_chunk_length(self._next):
            raise ValueError("chunk length does not match the header")
        sealed = self._aead.encrypt(self.header.nonce(self._next), plaintext, self._aad)
        self._next += 1
        return sealed

    @property
    def done(self) -> bool:
        """True once the final chunk was sealed."""
        return self._next == self.header.chunk_count


def encrypt_stream(
    data_key: bytes,
    source: BinaryIO,
    sink: BinaryIO,
    *,
    project_id: str,
    segment_id: str,
    plaintext_length: int,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> SegmentHeader:
    """Encrypt ``plaintext_length`` bytes from ``source`` into ``sink``, one chunk in memory."""
    enc = SegmentEncryptor(
        data_key,
        project_id=project_id,
        segment_id=segment_id,
        plaintext_length=plaintext_length,
        chunk_size=chunk_size,
    )
    sink.write(enc.header_bytes)
    buf = bytearray(chunk_size)
    view = memoryview(buf)
    try:
        for index in range(enc.header.chunk_count):
            want = enc.header.plaintext_chunk_length(index)
            got = _read_exactly(source, view[:want])
            if got != want:
                raise ValueError("source ended before the promised length")
            sink.write(enc.seal_chunk(view[:want]))
        if source.read(1):
            raise ValueError("source is longer than the promised length")
    finally:
        view.release()
        buf[:] = bytes(len(buf))
    return enc.header


def _read_exactly(source: BinaryIO, out: memoryview) -> int:
    filled = 0
    while filled < len(out):
        n = source.readinto(out[filled:])  # type: ignore[attr-defined]
        if not n:
            break
        filled += n
    return filled


class SegmentDecryptor:
    """Verifies and decrypts a segment as its bytes arrive, into a buffer the caller owns.

    ``allocate`` is called once, with the authenticated plaintext length, when
    the header has arrived; it returns the writable buffer to decrypt into.
    After every :meth:`feed`, :attr:`plaintext_available` bytes at the start of
    that buffer are verified plaintext, so playback can start before the end.
    """

    def __init__(
        self,
        data_key: bytes,
        *,
        project_id: str,
        segment_id: str,
        allocate: Callable[[int], memoryview],
        max_plaintext_length: int = 1 << 34,
    ) -> None:
        self._aead = AESGCM(data_key)
        self._project_id = project_id
        self._segment_id = segment_id
        self._allocate = allocate
        self._max_plaintext = max_plaintext_length
        self._pending = bytearray()
        self._header: SegmentHeader | None = None
        self._aad = b""
        self._out: memoryview | None = None
        self._next = 0
        self._available = 0

    @property
    def header(self) -> SegmentHeader | None:
        """The verified-to-parse header, once it has arrived."""
        return self._header

    @property
    def plaintext_available(self) -> int:
        """Verified plaintext bytes at the start of the output buffer."""
        return self._available

    @property
    def complete(self) -> bool:
        """True once every chunk, including the final one, verified."""
        return self._header is not None and self._next == self._header.chunk_count

    def feed(self, data: bytes | bytearray | memoryview) -> int:
        """Take more ciphertext; decrypt every complete chunk. Returns new plaintext bytes."""
        self._pending += data
        before = self._available
        if self._header is None:
            self._header = self._take_header()
        header = self._header
        if header is None:
            return 0
        while self._next < header.chunk_count:
            size = header.plaintext_chunk_length(self._next)
            if len(self._pending) < size + TAG_BYTES:
                break
            if self._out is None:
                self._out = self._open_first_chunk(header, size)
            else:
                self._open_chunk(header, self._out, size)
        if self._next == header.chunk_count and self._pending:
            raise SegmentIntegrityError("data after the final chunk")
        return self._available - before

    def finish(self) -> None:
        """Call at end of stream: a missing final chunk is an integrity error."""
        if not self.complete:
            raise SegmentIntegrityError("segment truncated")
        if self._pending:
            raise SegmentIntegrityError("data after the final chunk")

    def _take_header(self) -> SegmentHeader | None:
        header = parse_header(self._pending)
        if header is None:
            return None
        if header.project_id != self._project_id or header.segment_id != self._segment_id:
            raise SegmentFormatError("segment header names another segment")
        if header.plaintext_length > self._max_plaintext:
            raise SegmentFormatError("segment larger than allowed")
        self._aad = header.encode()
        del self._pending[: len(self._aad)]
        return header

    def _open_first_chunk(self, header: SegmentHeader, size: int) -> memoryview:
        """Verify chunk 0 before allocating: only an authentic header decides the size."""
        scratch = SecureBuffer(size)
        view = scratch.view()
        try:
            self._open_chunk(header, view, size)
            out = self._allocate(header.plaintext_length)
            if len(out) < header.plaintext_length:
                raise ValueError("allocated buffer too small")
            out[:size] = view
            return out
        finally:
            view.release()
            scratch.close()

    def _open_chunk(self, header: SegmentHeader, out: memoryview, size: int) -> None:
        start = self._next * header.chunk_size  # 0 for the first chunk's scratch
        sealed = memoryview(self._pending)[: size + TAG_BYTES]
        try:
            self._aead.decrypt_into(
                header.nonce(self._next), sealed, self._aad, out[start : start + size]
            )
        except InvalidTag as exc:
            out[start : start + size] = bytes(size)
            raise SegmentIntegrityError(f"chunk {self._next} failed authentication") from exc
        finally:
            sealed.release()
        del self._pending[: size + TAG_BYTES]
        self._next += 1
        self._available = start + size
