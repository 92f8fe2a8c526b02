"""An opened RLHF comparison: the prompt and the outputs, read from a decrypted bundle.

Qt-free and copy-free for audio: the parts are views into the caller's secure
buffer (decoded later, in memory); texts become strings, like a transcript
being typed. A bundle that does not parse is refused whole.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from pydantic import ValidationError

from app.wire.comparison import (
    BUNDLE_MAGIC,
    MAX_HEADER_BYTES,
    AudioPart,
    BundleHeader,
    ComparisonKind,
    ContentWire,
)

_LENGTH = struct.Struct(">I")


class BundleError(ValueError):
    """The decrypted bundle is not a comparison Cordon understands."""


@dataclass(frozen=True)
class Content:
    text: str | None
    audio: memoryview | None


@dataclass(frozen=True)
class Output(Content):
    output_id: str


@dataclass(frozen=True)
class Comparison:
    kind: ComparisonKind
    prompt: Content
    outputs: tuple[Output, ...]

    @property
    def output_ids(self) -> tuple[str, ...]:
        return tuple(o.output_id for o in self.outputs)


def build_bundle(header: BundleHeader, audio: bytes) -> bytes:
    """The plaintext of a bundle (the server's ingest seals it at once)."""
    encoded = header.model_dump_json(exclude_none=True).encode("utf-8")
    return BUNDLE_MAGIC + _LENGTH.pack(len(encoded)) + encoded + audio


def parse_bundle(plaintext: memoryview) -> Comparison:
    """Read a bundle; audio parts are views into ``plaintext`` (no copy)."""
    head = len(BUNDLE_MAGIC) + _LENGTH.size
    if len(plaintext) < head or bytes(plaintext[: len(BUNDLE_MAGIC)]) != BUNDLE_MAGIC:
        raise BundleError("not a comparison bundle")
    (length,) = _LENGTH.unpack_from(plaintext, len(BUNDLE_MAGIC))
    if length > MAX_HEADER_BYTES or head + length > len(plaintext):
        raise BundleError("impossible header length")
    try:
        header = BundleHeader.model_validate_json(bytes(plaintext[head : head + length]))
    except ValidationError as exc:
        raise BundleError("the bundle header does not validate") from exc
    body = plaintext[head + length :]

    def part(audio: AudioPart | None) -> memoryview | None:
        if audio is None:
            return None
        if audio.offset + audio.length > len(body):
            raise BundleError("an audio part lies outside the bundle")
        return body[audio.offset : audio.offset + audio.length]

    def content(wire: ContentWire) -> Content:
        return Content(wire.text, part(wire.audio))

    outputs = tuple(Output(o.text, part(o.audio), o.id) for o in header.outputs)
    return Comparison(header.kind, content(header.prompt), outputs)
