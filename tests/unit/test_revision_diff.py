"""The reviewer's diff: segments matched by id, text compared word by word."""

from __future__ import annotations

from dataclasses import replace

from app.domain.label_document import LabelDocument, Segment
from app.domain.lifecycle import STEPS, Party, Step, allowed_steps, next_status
from app.domain.revision_diff import Change, diff_documents, word_ops
from app.wire.schemas import TaskStatus


def _doc(*segments: Segment, fields: tuple[tuple[str, str], ...] = ()) -> LabelDocument:
    return LabelDocument(schema_version=1, segments=segments, fields=fields)


def test_words_replaced_inserted_and_deleted_read_as_words() -> None:
    ops = word_ops("the cat sat on the mat", "the dog sat on mat today")
    assert [(o.op, o.text) for o in ops] == [
        ("equal", "the"), ("delete", "cat"), ("insert", "dog"), ("equal", "sat on"),
        ("delete", "the"), ("equal", "mat"), ("insert", "today"),
    ]  # fmt: skip


def test_a_correction_is_moves_speakers_labels_text_and_fields() -> None:
    a = Segment("s1", 0, 800, speaker="agent", text="hello wrold")
    b = Segment("s2", 900, 1600, speaker="agent", text="unchanged")
    c = Segment("s3", 1700, 2000, text="gone")
    before = _doc(a, b, c, fields=(("outcome", "resolved"),))
    fixed = replace(a, start=40, speaker="customer", text="hello world",
                    labels=(("intent", ("greeting",)),))  # fmt: skip
    new = Segment("s4", 2100, 2500, text="added words")
    after = _doc(fixed, b, new, fields=(("outcome", "escalated"),))
    diff = diff_documents(before, after)
    assert [(d.change, d.segment_id) for d in diff.segments] == [
        (Change.CHANGED, "s1"), (Change.ADDED, "s4"), (Change.REMOVED, "s3")
    ]  # fmt: skip
    changed = diff.segments[0]
    assert changed.moved and changed.speaker_changed and changed.labels_changed
    assert not changed.channel_changed
    assert [(o.op, o.text) for o in changed.text] == [
        ("equal", "hello"), ("delete", "wrold"), ("insert", "world")
    ]  # fmt: skip
    assert [(f.name, f.before, f.after) for f in diff.fields] == [
        ("outcome", "resolved", "escalated")
    ]
    assert diff_documents(after, after).empty


def test_the_lifecycle_table_allows_exactly_the_documented_paths() -> None:
    path = [
        (Step.SAVE_DRAFT, TaskStatus.ASSIGNED, TaskStatus.IN_PROGRESS),
        (Step.SUBMIT, TaskStatus.IN_PROGRESS, TaskStatus.SUBMITTED),
        (Step.CLAIM, TaskStatus.SUBMITTED, TaskStatus.IN_REVIEW),
        (Step.REJECT, TaskStatus.IN_REVIEW, TaskStatus.REJECTED),
        (Step.SUBMIT, TaskStatus.REJECTED, TaskStatus.SUBMITTED),
        (Step.CLAIM, TaskStatus.SUBMITTED, TaskStatus.IN_REVIEW),
        (Step.ACCEPT, TaskStatus.IN_REVIEW, TaskStatus.ACCEPTED),
    ]
    for step, before, after in path:
        assert next_status(before, step) is after
    # Nothing leaves "accepted"; nobody accepts what is not held in review.
    assert all(next_status(TaskStatus.ACCEPTED, step) is None for step in Step)
    assert next_status(TaskStatus.SUBMITTED, Step.ACCEPT) is None
    assert next_status(TaskStatus.IN_REVIEW, Step.SUBMIT) is None
    holder = allowed_steps(TaskStatus.IN_REVIEW, frozenset({Party.REVIEWER, Party.HOLDER}))
    assert holder == {Step.RELEASE, Step.CORRECT, Step.ACCEPT, Step.REJECT}
    assert allowed_steps(TaskStatus.IN_REVIEW, frozenset({Party.REVIEWER})) == frozenset()
    assert allowed_steps(TaskStatus.IN_REVIEW, frozenset({Party.ASSIGNEE})) == frozenset()
    assert {party for party, _moves in STEPS.values()} == set(Party)
