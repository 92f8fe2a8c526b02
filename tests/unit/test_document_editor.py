"""The document editor: segmentation, text, speakers, labels, PII and fields, without a window."""

from __future__ import annotations

import pytest

from app.domain.project_schema import parse_schema
from app.services.annotation import DocumentEditor
from server.demo import DEMO_SCHEMA
from server.project_schemas import read_file

SCHEMA = parse_schema(read_file(DEMO_SCHEMA), version=1)
RATE = 16_000


def editor(channels: int = 2) -> DocumentEditor:
    return DocumentEditor(SCHEMA, frames=RATE * 60, channels=channels, sample_rate=RATE)


def test_elan_marking_makes_consecutive_segments_and_splits_inside_one() -> None:
    ed = editor()
    assert ed.mark_boundary(RATE) is None  # the first boundary only starts a segment
    first = ed.mark_boundary(3 * RATE)
    second = ed.mark_boundary(5 * RATE)
    assert first is not None and second is not None
    assert [(s.start, s.end) for s in ed.segments] == [(RATE, 3 * RATE), (3 * RATE, 5 * RATE)]
    ed.mark_boundary(4 * RATE)  # inside the second: a split
    assert [(s.start, s.end) for s in ed.segments][1:] == [
        (3 * RATE, 4 * RATE),
        (4 * RATE, 5 * RATE),
    ]


def test_split_at_the_cursor_moves_the_rest_of_the_text_and_its_pii() -> None:
    ed = editor()
    seg = ed.add_segment(0, 4 * RATE)
    ed.set_text(seg.id, "hello there my name is Ana")
    ed.add_pii("person_name", RATE * 3, RATE * 4, segment_id=seg.id, char_start=23, char_end=26)
    tail = ed.split(seg.id, 2 * RATE, char=11)
    assert tail is not None
    head = ed.get(seg.id)
    assert head is not None and head.text == "hello there"
    assert tail.text == "my name is Ana"
    (span,) = ed.pii
    assert span.segment == tail.id and tail.text[span.char_start : span.char_end] == "Ana"


def test_speaker_puts_a_both_channel_segment_on_its_channel_and_toggles_off() -> None:
    ed = editor(channels=2)
    seg = ed.add_segment(0, RATE)
    ed.set_speaker(seg.id, "customer")
    got = ed.get(seg.id)
    assert got is not None and (got.speaker, got.channel) == ("customer", 1)
    ed.set_speaker(seg.id, "customer")
    got = ed.get(seg.id)
    assert got is not None and got.speaker is None and got.channel == 1
    mono = editor(channels=1)
    m = mono.add_segment(0, RATE, speaker="agent")
    assert m.channel is None  # a mono call has no left and right
    with pytest.raises(KeyError):
        ed.set_speaker(seg.id, "narrator")


def test_single_labels_replace_and_multi_labels_accumulate_in_schema_order() -> None:
    ed = editor()
    seg = ed.add_segment(0, RATE)
    ed.toggle_label(seg.id, "intent", "greeting")
    ed.toggle_label(seg.id, "intent", "request")
    ed.toggle_label(seg.id, "quality", "inaudible")
    ed.toggle_label(seg.id, "quality", "overlap")
    got = ed.get(seg.id)
    assert got is not None
    assert got.label("intent") == ("request",)
    assert got.label("quality") == ("overlap", "inaudible")
    ed.toggle_label(seg.id, "intent", "request")
    got = ed.get(seg.id)
    assert got is not None and got.label("intent") == ()
    with pytest.raises(KeyError):
        ed.toggle_label(seg.id, "intent", "farewell")


def test_overlapping_segments_and_navigation() -> None:
    ed = editor()
    a = ed.add_segment(0, 3 * RATE, channel=0)
    b = ed.add_segment(2 * RATE, 5 * RATE, channel=1)
    assert {s.id for s in ed.at(int(2.5 * RATE))} == {a.id, b.id}
    assert ed.neighbour(a.id, forward=True) == b
    assert ed.next_after(RATE) == b
    assert ed.previous_before(2 * RATE) == a
    with pytest.raises(ValueError, match="short"):
        ed.add_segment(0, 10)


def test_text_edits_that_cut_a_pii_range_keep_the_audio_span() -> None:
    ed = editor()
    seg = ed.add_segment(0, RATE)
    ed.set_text(seg.id, "call 4417 now")
    ed.add_pii("account_number", 100, 200, segment_id=seg.id, char_start=5, char_end=9)
    ed.set_text(seg.id, "call")
    (span,) = ed.pii
    assert (span.start, span.end, span.char_start) == (100, 200, None)
    ed.remove(seg.id)
    assert ed.pii == (span,)  # unbound from the text, it stays as an audio span
    other = ed.add_segment(0, RATE)
    with pytest.raises(ValueError, match="outside"):
        ed.add_pii("person_name", 0, 10, segment_id=other.id, char_start=0, char_end=3)


def test_fields_and_the_generation_counter() -> None:
    ed = editor()
    g = ed.generation
    ed.set_field("outcome", "resolved")
    ed.set_field("outcome", "resolved")  # unchanged: no new generation
    assert ed.generation == g + 1
    ed.set_field("outcome", None)
    assert ed.field_value("outcome") is None and ed.generation == g + 2
    with pytest.raises(KeyError):
        ed.set_field("colour", "red")


def test_snapshot_is_frozen_against_later_edits() -> None:
    ed = editor()
    seg = ed.add_segment(0, RATE)
    ed.set_text(seg.id, "before")
    snap = ed.snapshot()
    ed.set_text(seg.id, "after")
    assert snap.segments[0].text == "before"
    assert ed.snapshot().segments[0].text == "after"
    problems = ed.problems(final=True)
    assert {p.path for p in problems} == {"$.segments[0].speaker", "$.fields.outcome"}
