"""The label document: one task's annotation, as the client edits it and the server keeps it.

Frozen values throughout. An edit replaces one segment in a tuple, so taking
a snapshot for autosave or submit is a pointer copy on the GUI thread and the
JSON encoding can run anywhere else without a lock. Times are frames of the
source at its own rate (exact, independent of zoom); segments may overlap
(two speakers at once) and are kept in start order.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from app.wire.label_document import (
    FORMAT_VERSION,
    LabelDocumentWire,
)

FieldValue = str | int | tuple[str, ...]


def new_item_id(prefix: str) -> str:
    """A segment or span id: unique across workstations, stable across revisions."""
    return f"{prefix}{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True, slots=True)
class Segment:
    """A span of the source with its own text, speaker, channel and labels."""

    id: str
    start: int
    end: int
    channel: int | None = None
    speaker: str | None = None
    text: str = ""
    #: Segment label field -> chosen values, in the schema's order.
    labels: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def label(self, name: str) -> tuple[str, ...]:
        return next((values for key, values in self.labels if key == name), ())

    def with_label(self, name: str, values: tuple[str, ...]) -> Segment:
        rest = tuple((k, v) for k, v in self.labels if k != name)
        return replace(self, labels=tuple(sorted((*rest, (name, values)))) if values else rest)

    def contains(self, frame: int) -> bool:
        return self.start <= frame < self.end


@dataclass(frozen=True, slots=True)
class PiiSpan:
    """Personal data: an audio span, and where it lies in a segment's text, the characters."""

    id: str
    category: str
    start: int
    end: int
    segment: str | None = None
    char_start: int | None = None
    char_end: int | None = None


@dataclass(frozen=True, slots=True)
class Preference:
    """Pairwise: ``"a"``, ``"b"`` or ``"tie"`` (``None``: not chosen yet); strength 1-3
    (none for a tie); why."""

    choice: str | None = None
    strength: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class LabelDocument:
    schema_version: int = 0
    segments: tuple[Segment, ...] = ()
    pii: tuple[PiiSpan, ...] = ()
    fields: tuple[tuple[str, FieldValue], ...] = ()
    comment: str = ""
    preference: Preference | None = None
    #: Ranking, best first; outputs in one group are tied.
    ranking: tuple[tuple[str, ...], ...] | None = None
    _index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def segment(self, segment_id: str) -> Segment | None:
        if not self._index and self.segments:
            self._index.update({s.id: i for i, s in enumerate(self.segments)})
        i = self._index.get(segment_id)
        return self.segments[i] if i is not None else None

    def field_value(self, name: str) -> FieldValue | None:
        return next((value for key, value in self.fields if key == name), None)


def sort_segments(segments: list[Segment] | tuple[Segment, ...]) -> tuple[Segment, ...]:
    return tuple(sorted(segments, key=lambda s: (s.start, s.end, s.id)))


def to_json_dict(doc: LabelDocument) -> dict[str, Any]:
    """The document's wire form as plain JSON values, built directly from the frozen values.

    The one encoder: :func:`to_wire` validates its output, and a test holds that validating
    and dumping it changes nothing. Autosave uses it alone, because building the pydantic
    models re-validates every segment (~20 ms for 2,000), paid on every pause in typing;
    documents are validated where they come *in* (the server, :func:`from_wire`).
    """
    pref = doc.preference
    return {
        "format_version": FORMAT_VERSION,
        "schema_version": doc.schema_version,
        "segments": [
            {"start": s.start, "end": s.end, "id": s.id, "channel": s.channel,
             "speaker": s.speaker, "text": s.text, "labels": {k: list(v) for k, v in s.labels}}
            for s in doc.segments
        ],
        "pii": [
            {"start": p.start, "end": p.end, "id": p.id, "category": p.category,
             "segment": p.segment, "char_start": p.char_start, "char_end": p.char_end}
            for p in doc.pii
        ],
        "fields": {k: list(v) if isinstance(v, tuple) else v for k, v in doc.fields},
        "comment": doc.comment,
        "preference": (
            None if pref is None
            else {"choice": pref.choice, "strength": pref.strength, "reason": pref.reason}
        ),
        "ranking": None if doc.ranking is None else [list(g) for g in doc.ranking],
    }  # fmt: skip


def to_wire(doc: LabelDocument) -> LabelDocumentWire:
    """The document's wire model (validated; for what goes out through the API client)."""
    return LabelDocumentWire.model_validate(to_json_dict(doc))


def to_json(doc: LabelDocument) -> bytes:
    """The document's canonical JSON (what is sealed, drafted and sent)."""
    return json.dumps(to_json_dict(doc), separators=(",", ":")).encode("utf-8")


def from_wire(wire: LabelDocumentWire) -> LabelDocument:
    return LabelDocument(
        schema_version=wire.schema_version,
        segments=sort_segments(
            [
                Segment(
                    s.id,
                    s.start,
                    s.end,
                    s.channel,
                    s.speaker,
                    s.text,
                    tuple(sorted((k, tuple(v)) for k, v in s.labels.items())),
                )
                for s in wire.segments
            ]
        ),
        pii=tuple(
            PiiSpan(p.id, p.category, p.start, p.end, p.segment, p.char_start, p.char_end)
            for p in wire.pii
        ),
        fields=tuple(
            sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in wire.fields.items())
        ),
        comment=wire.comment,
        preference=(
            Preference(wire.preference.choice, wire.preference.strength, wire.preference.reason)
            if wire.preference is not None
            else None
        ),
        ranking=tuple(tuple(g) for g in wire.ranking) if wire.ranking is not None else None,
    )


def migrate_legacy(stored: dict[str, Any], frames: int) -> LabelDocument:
    """Read a format-1 label (``{"transcript", "regions"}``) as a document.

    Each old region becomes a segment without text; the old call-wide
    transcript becomes one segment over the whole source (first in start
    order), so no typed word is dropped. Ids are derived from positions, so
    reading the same stored label twice gives the same document.
    """
    segments = [
        Segment(f"legacy{i}", int(r["start_frame"]), int(r["end_frame"]))
        for i, r in enumerate(stored.get("regions", []))
    ]
    transcript = str(stored.get("transcript", ""))
    if transcript and frames > 0:
        segments.append(Segment("legacy_transcript", 0, frames, text=transcript))
    return LabelDocument(segments=sort_segments(segments))


def read_stored(stored: dict[str, Any], frames: int) -> LabelDocument:
    """A stored label of any format as a document (format 1 is migrated on read)."""
    if "document" in stored:
        return from_wire(LabelDocumentWire.model_validate(stored["document"]))
    return migrate_legacy(stored, frames)
