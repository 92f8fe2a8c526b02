"""RLHF comparison bundles: a prompt and the model outputs to compare, as one sealed blob.

A bundle is content (a prompt can name a patient; an output can repeat it), so
it travels exactly like a segment: encrypted at rest with its own data key,
released by key grant, streamed as ciphertext, decrypted into memory only.
Layout of the plaintext::

    MAGIC (8) ‖ header length (u32, big-endian) ‖ header JSON ‖ audio bytes …

The header names the comparison kind, the prompt and each output (an id, its
text and/or where its audio lies in the bytes that follow). Audio stays in
its file format (WAV, FLAC, OGG) and is decoded in memory like a segment.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from app.wire.base import Count, Positive, _Model
from app.wire.label_document import Name

BUNDLE_MAGIC = b"CDNCMP01"
MAX_HEADER_BYTES = 4 << 20
MAX_OUTPUT_TEXT = 100_000
MAX_OUTPUTS = 16
ComparisonKind = Literal["pairwise", "ranking"]


class AudioPart(_Model):
    """Where a piece of audio lies in the bytes after the header."""

    offset: Count
    length: Positive


class ContentWire(_Model):
    text: Annotated[str, Field(max_length=MAX_OUTPUT_TEXT)] | None = None
    audio: AudioPart | None = None

    @model_validator(mode="after")
    def _something(self) -> ContentWire:
        if self.text is None and self.audio is None:
            raise ValueError("text, audio or both")
        return self


class OutputWire(ContentWire):
    id: Name


class BundleHeader(_Model):
    kind: ComparisonKind
    prompt: ContentWire
    outputs: Annotated[list[OutputWire], Field(min_length=2, max_length=MAX_OUTPUTS)]

    @model_validator(mode="after")
    def _shape(self) -> BundleHeader:
        ids = [o.id for o in self.outputs]
        if len(set(ids)) != len(ids):
            raise ValueError("output ids must be unique")
        if self.kind == "pairwise" and len(ids) != 2:
            raise ValueError("a pairwise comparison has exactly two outputs")
        return self
