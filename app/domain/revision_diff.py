"""What a reviewer changed: one revision of a label document against the one it corrects.

Segments are matched by id (ids are stable across revisions: a correction edits the
annotator's segments, it does not re-create them), so a moved boundary reads as a
move, not as a removal plus an addition. Text is compared word by word with
:mod:`difflib` (the standard library's sequence matcher), which is what a reviewer
reads: a replaced word, not a run of changed characters. Qt-free: the review panel
renders the result, tests read it directly.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from enum import StrEnum

from app.domain.label_document import FieldValue, LabelDocument, Segment


class Change(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True)
class TextOp:
    """A run of words: ``equal``, ``delete`` (only before), ``insert`` (only after)."""

    op: str
    text: str


@dataclass(frozen=True)
class SegmentDiff:
    change: Change
    segment_id: str
    before: Segment | None
    after: Segment | None
    #: Word runs of the text; empty when the text did not change.
    text: tuple[TextOp, ...] = ()

    @property
    def moved(self) -> bool:
        b, a = self.before, self.after
        return b is not None and a is not None and (b.start, b.end) != (a.start, a.end)

    @property
    def speaker_changed(self) -> bool:
        b, a = self.before, self.after
        return b is not None and a is not None and b.speaker != a.speaker

    @property
    def labels_changed(self) -> bool:
        b, a = self.before, self.after
        return b is not None and a is not None and b.labels != a.labels

    @property
    def channel_changed(self) -> bool:
        b, a = self.before, self.after
        return b is not None and a is not None and b.channel != a.channel


@dataclass(frozen=True)
class FieldDiff:
    name: str
    before: FieldValue | None
    after: FieldValue | None


@dataclass(frozen=True)
class DocumentDiff:
    segments: tuple[SegmentDiff, ...]
    fields: tuple[FieldDiff, ...]
    pii_added: int
    pii_removed: int

    @property
    def empty(self) -> bool:
        return not (self.segments or self.fields or self.pii_added or self.pii_removed)


def word_ops(before: str, after: str) -> tuple[TextOp, ...]:
    """``before`` -> ``after`` as runs of equal, deleted and inserted words."""
    old, new = before.split(), after.split()
    ops: list[TextOp] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            ops.append(TextOp("equal", " ".join(old[i1:i2])))
            continue
        if i2 > i1:
            ops.append(TextOp("delete", " ".join(old[i1:i2])))
        if j2 > j1:
            ops.append(TextOp("insert", " ".join(new[j1:j2])))
    return tuple(ops)


def diff_documents(before: LabelDocument, after: LabelDocument) -> DocumentDiff:
    """Every segment added, removed or changed (in the order of ``after``, removed last)."""
    out: list[SegmentDiff] = []
    for seg in after.segments:
        old = before.segment(seg.id)
        if old is None:
            out.append(SegmentDiff(Change.ADDED, seg.id, None, seg, word_ops("", seg.text)))
        elif old != seg:
            text = word_ops(old.text, seg.text) if old.text != seg.text else ()
            out.append(SegmentDiff(Change.CHANGED, seg.id, old, seg, text))
    for seg in before.segments:
        if after.segment(seg.id) is None:
            out.append(SegmentDiff(Change.REMOVED, seg.id, seg, None, word_ops(seg.text, "")))
    old_fields, new_fields = dict(before.fields), dict(after.fields)
    fields = tuple(
        FieldDiff(name, old_fields.get(name), new_fields.get(name))
        for name in sorted(old_fields.keys() | new_fields.keys())
        if old_fields.get(name) != new_fields.get(name)
    )
    old_pii, new_pii = set(before.pii), set(after.pii)
    return DocumentDiff(tuple(out), fields, len(new_pii - old_pii), len(old_pii - new_pii))
