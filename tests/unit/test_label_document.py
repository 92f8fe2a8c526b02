"""The label document: round trips, the legacy format, and every check against a schema."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from app.domain.document_check import check_document
from app.domain.label_document import (
    LabelDocument,
    PiiSpan,
    Preference,
    Segment,
    from_wire,
    migrate_legacy,
    read_stored,
    to_json,
    to_json_dict,
    to_wire,
)
from app.domain.project_schema import parse_schema
from app.wire.label_document import LabelDocumentWire
from server.demo import DEMO_SCHEMA
from server.project_schemas import read_file

SCHEMA = parse_schema(read_file(DEMO_SCHEMA), version=1)
FRAMES = 16_000 * 10


def sample() -> LabelDocument:
    return LabelDocument(
        schema_version=1,
        segments=(
            Segment(
                "s1",
                0,
                16_000,
                0,
                "agent",
                "Good morning, Ana speaking",
                (("intent", ("greeting",)),),
            ),
            Segment(
                "s2",
                8_000,
                40_000,
                1,
                "customer",
                "my account is 4417",
                (("quality", ("overlap", "noise")),),
            ),
        ),
        pii=(
            PiiSpan("p1", "person_name", 9_000, 12_000, "s1", 14, 17),
            PiiSpan("p2", "account_number", 30_000, 38_000),
        ),
        fields=(("audio_quality", 4), ("outcome", "resolved")),
        comment="checked twice",
    )


def test_round_trip_through_json_is_exact() -> None:
    doc = sample()
    again = from_wire(LabelDocumentWire.model_validate_json(to_json(doc)))
    assert again == doc
    assert to_wire(again) == to_wire(doc)


def test_the_fast_json_form_is_the_wire_form() -> None:
    doc = LabelDocument(
        schema_version=1, segments=sample().segments, pii=sample().pii,
        fields=(("outcome", "resolved"), ("tags", ("a", "b"))), comment="c",
        preference=Preference("b", 2, "why"), ranking=(("x", "y"), ("z",)),
    )  # fmt: skip
    assert to_json_dict(doc) == to_wire(doc).model_dump(mode="json")
    assert to_json_dict(sample()) == to_wire(sample()).model_dump(mode="json")
    assert LabelDocumentWire.model_validate(to_json_dict(doc)) == to_wire(doc)


def test_the_sample_fits_the_demo_schema() -> None:
    assert check_document(sample(), SCHEMA, frames=FRAMES, channels=2, final=True) == []


def test_legacy_labels_migrate_on_read_without_losing_text() -> None:
    stored = {"transcript": "whole call text", "regions": [{"start_frame": 5, "end_frame": 9}]}
    doc = read_stored(stored, frames=100)
    assert [(s.start, s.end, s.text) for s in doc.segments] == [
        (0, 100, "whole call text"),
        (5, 9, ""),
    ]
    assert doc == migrate_legacy(stored, 100)  # stable ids: the same document every time
    assert read_stored({"document": to_wire(sample()).model_dump()}, FRAMES) == sample()


def _with(**changes: Any) -> LabelDocument:
    doc = sample()
    return LabelDocument(
        **{
            **{
                f: getattr(doc, f)
                for f in ("schema_version", "segments", "pii", "fields", "comment")
            },
            **changes,
        }
    )


def _seg(i: int, **changes: Any) -> tuple[Segment, ...]:
    from dataclasses import replace  # noqa: PLC0415

    segs = list(sample().segments)
    segs[i] = replace(segs[i], **changes)
    return tuple(segs)


@pytest.mark.parametrize(
    ("doc", "final", "path"),
    [
        (_with(segments=_seg(1, speaker="narrator")), False, "$.segments[1].speaker"),
        (
            _with(segments=_seg(0, labels=(("intent", ("bye",)),))),
            False,
            "$.segments[0].labels.intent[0]",
        ),
        (
            _with(segments=_seg(0, labels=(("mood", ("calm",)),))),
            False,
            "$.segments[0].labels.mood",
        ),
        (
            _with(segments=_seg(0, labels=(("intent", ("greeting", "request")),))),
            False,
            "$.segments[0].labels.intent",
        ),
        (_with(segments=_seg(1, end=FRAMES + 1)), False, "$.segments[1].end"),
        (_with(segments=_seg(1, channel=2)), False, "$.segments[1].channel"),
        (_with(segments=_seg(1, id="s1")), False, "$.segments[1].id"),
        (_with(pii=(PiiSpan("p", "pet_name", 0, 10),)), False, "$.pii[0].category"),
        (_with(pii=(PiiSpan("p", "person_name", 0, FRAMES + 5),)), False, "$.pii[0].end"),
        (_with(pii=(PiiSpan("p", "person_name", 20_000, 21_000, "s1"),)), False, "$.pii[0].start"),
        (
            _with(pii=(PiiSpan("p", "person_name", 100, 200, "s1", 20, 99),)),
            False,
            "$.pii[0].char_end",
        ),
        (_with(pii=(PiiSpan("p", "person_name", 100, 200, "s9"),)), False, "$.pii[0].segment"),
        (_with(fields=(("outcome", "won"),)), False, "$.fields.outcome"),
        (
            _with(fields=(("audio_quality", 6), ("outcome", "resolved"))),
            False,
            "$.fields.audio_quality",
        ),
        (_with(fields=(("notes", "x" * 1001), ("outcome", "resolved"))), False, "$.fields.notes"),
        (_with(fields=(("colour", "red"), ("outcome", "resolved"))), False, "$.fields.colour"),
        (_with(fields=()), True, "$.fields.outcome"),
        (_with(segments=_seg(1, speaker=None)), True, "$.segments[1].speaker"),
        (_with(schema_version=2), False, "$.schema_version"),
    ],
)
def test_each_misfit_names_its_path(doc: LabelDocument, final: bool, path: str) -> None:
    problems = check_document(doc, SCHEMA, frames=FRAMES, channels=2, final=final)
    assert [p.path for p in problems][:1] == [path]


def test_required_fields_are_asked_of_a_submit_not_of_a_draft() -> None:
    draft = _with(fields=(), segments=_seg(1, speaker=None))
    assert check_document(draft, SCHEMA, frames=FRAMES, channels=2, final=False) == []
    assert len(check_document(draft, SCHEMA, frames=FRAMES, channels=2, final=True)) == 2


@pytest.mark.parametrize(
    "bad",
    [
        {"segments": [{"id": "s", "start": 5, "end": 5}]},
        {"segments": [{"id": "s", "start": 0, "end": 9, "text": "x" * 20_001}]},
        {"segments": [{"id": "bad id", "start": 0, "end": 9}]},
        {"pii": [{"id": "p", "category": "c", "start": 0, "end": 9, "char_start": 1}]},
        {"format_version": 1},
        {"segments": [{"id": "s", "start": 0, "end": 2**60}]},
    ],
)
def test_structure_is_refused_by_the_wire_model(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        LabelDocumentWire.model_validate(bad)
