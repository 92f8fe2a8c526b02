"""The label document's JSON form: what the client submits and the server seals.

One task revision is one document: segments (each with its own text, speaker,
channel and labels), PII spans, and task-level fields. ``format_version`` says
how this JSON is laid out; ``schema_version`` names the project schema version
the document was made under, so the server validates it against exactly the
rules the annotator saw. Structure and size limits live here; whether a label
or speaker exists is the project schema's business
(:mod:`app.domain.document_check`).

The legacy form ``{"transcript", "regions"}`` (format 1, never sent any more)
is read by :func:`app.domain.label_document.migrate_legacy`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from app.wire.base import Count, Positive, _Model

FORMAT_VERSION: Literal[2] = 2
MAX_SEGMENTS = 20_000
MAX_PII_SPANS = 20_000
#: One segment's text: a long turn is a few hundred words; a whole dictation in one
#: segment still fits.
MAX_SEGMENT_CHARS = 20_000
#: The free comment; also holds a legacy call-wide transcript migrated from an old outbox.
MAX_COMMENT_CHARS = 200_000
MAX_FIELD_CHARS = 10_000
MAX_FIELDS = 64
MAX_LABELS_PER_SEGMENT = 32
#: Ids the client mints for segments and spans, and the names a schema gives.
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
#: A task field's value: a choice (or several), a rating, or free text.
FieldValue = Annotated[str, Field(max_length=MAX_FIELD_CHARS)] | Count | list[Name]


class _Span(_Model):
    """Frames of the source at its own rate, end exclusive."""

    start: Count
    end: Positive

    @model_validator(mode="after")
    def _ordered(self) -> _Span:
        if self.end <= self.start:
            raise ValueError("a span must end after it starts")
        return self


class SegmentWire(_Span):
    id: Name
    #: ``None``: both channels (or a mono source); else the 0-based channel.
    channel: Annotated[int, Field(ge=0, le=63)] | None = None
    speaker: Name | None = None
    text: Annotated[str, Field(max_length=MAX_SEGMENT_CHARS)] = ""
    #: Segment label field -> the chosen values (one for a single choice).
    labels: Annotated[
        dict[Name, Annotated[list[Name], Field(max_length=MAX_LABELS_PER_SEGMENT)]],
        Field(max_length=MAX_LABELS_PER_SEGMENT),
    ] = Field(default_factory=dict)


class PiiSpanWire(_Span):
    id: Name
    category: Name
    #: The segment whose text holds the span, and the character range in that text.
    segment: Name | None = None
    char_start: Count | None = None
    char_end: Count | None = None

    @model_validator(mode="after")
    def _text_range(self) -> PiiSpanWire:
        has_range = self.char_start is not None or self.char_end is not None
        if has_range:
            if self.segment is None or self.char_start is None or self.char_end is None:
                raise ValueError("a text range needs its segment, char_start and char_end")
            if self.char_end <= self.char_start:
                raise ValueError("a text range must end after it starts")
        return self


class PreferenceWire(_Model):
    """A pairwise judgement: which output is better, by how much, and why."""

    #: ``None`` while only the reason is written (a draft); a submit needs a choice.
    choice: Literal["a", "b", "tie"] | None = None
    #: 1 slightly, 2 clearly, 3 much better; none for a tie.
    strength: Annotated[int, Field(ge=1, le=3)] | None = None
    reason: Annotated[str, Field(max_length=MAX_FIELD_CHARS)] = ""

    @model_validator(mode="after")
    def _strength(self) -> PreferenceWire:
        if self.choice in ("a", "b") and self.strength is None:
            raise ValueError("a preference has a strength")
        if self.choice in ("tie", None) and self.strength is not None:
            raise ValueError("a tie (or no choice yet) has no strength")
        return self


#: A ranking, best first; the outputs in one inner list are tied.
Ranking = Annotated[
    list[Annotated[list[Name], Field(min_length=1, max_length=16)]], Field(max_length=16)
]


class LabelDocumentWire(_Model):
    format_version: Literal[2] = FORMAT_VERSION
    #: The project schema version the document was made under (0: the project has none).
    schema_version: Count = 0
    segments: Annotated[list[SegmentWire], Field(max_length=MAX_SEGMENTS)] = Field(
        default_factory=list
    )
    pii: Annotated[list[PiiSpanWire], Field(max_length=MAX_PII_SPANS)] = Field(default_factory=list)
    fields: Annotated[dict[Name, FieldValue], Field(max_length=MAX_FIELDS)] = Field(
        default_factory=dict
    )
    comment: Annotated[str, Field(max_length=MAX_COMMENT_CHARS)] = ""
    #: RLHF comparisons: a pairwise task's preference, a ranking task's order.
    preference: PreferenceWire | None = None
    ranking: Ranking | None = None
