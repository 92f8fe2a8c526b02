"""The tier layout ELAN and Praat share: speakers, segment labels and PII as timed tiers.

Both formats keep the intervals of one tier apart (an ELAN time-aligned tier
and a Praat interval tier cannot hold two annotations at once), while Cordon's
segments may overlap, also for one speaker. So each source of intervals is
spread over as few tiers as it needs: ``customer``, then ``customer-2`` for
what overlaps it, and so on. Lanes are computed in the target format's own
time unit, so rounding to milliseconds cannot make two intervals collide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from app.domain.label_document import LabelDocument, Segment
from app.domain.project_schema import ProjectSchema

T = TypeVar("T", bound=float)
#: The tier of segments that name no speaker.
UNASSIGNED = "unassigned"
PII = "pii"
#: Between the values of a multi-value label, in one annotation.
VALUE_JOINER = "+"

Kind = Literal["speaker", "label", "pii"]


@dataclass(frozen=True)
class Tier(Generic[T]):
    """One output tier: ``source`` is the speaker (``None``: none), label or ``pii`` it holds."""

    name: str
    kind: Kind
    source: str | None
    entries: tuple[tuple[T, T, str], ...]


class Names:
    """Hands out names unique within one namespace (``agent``, ``agent (2)``, ...)."""

    def __init__(self, again: str = "{base} ({n})") -> None:
        self._taken: set[str] = set()
        self._again = again

    def claim(self, base: str) -> str:
        name, n = base, 1
        while name in self._taken:
            n += 1
            name = self._again.format(base=base, n=n)
        self._taken.add(name)
        return name


def lanes(entries: Iterable[tuple[T, T, str]]) -> list[list[tuple[T, T, str]]]:
    """Spread intervals over as few lanes as needed so none overlaps another in its lane.

    Earliest start first, each into the first lane that has ended by then
    (touching is not overlapping). Always at least one lane, possibly empty.
    """
    out: list[list[tuple[T, T, str]]] = [[]]
    for entry in sorted(entries, key=lambda e: (e[0], e[1])):
        lane = next((lane for lane in out if not lane or lane[-1][1] <= entry[0]), None)
        if lane is None:
            out.append([entry])
        else:
            lane.append(entry)
    return out


def _speakers(doc: LabelDocument, schema: ProjectSchema) -> list[str | None]:
    """Schema speakers in the schema's order, then any others the document names."""
    order: list[str | None] = [s.name for s in schema.speakers]
    for seg in doc.segments:
        if seg.speaker not in order:
            order.append(seg.speaker)
    # A segment without a speaker lands on its own tier, last.
    if None in order:
        order.remove(None)
        order.append(None)
    return order


def _labels(doc: LabelDocument, schema: ProjectSchema) -> list[str]:
    order = [f.name for f in schema.segment_labels]
    for seg in doc.segments:
        order.extend(name for name, _ in seg.labels if name not in order)
    return order


def layout(
    doc: LabelDocument,
    schema: ProjectSchema,
    span: Callable[[int, int], tuple[T, T]],
) -> list[Tier[T]]:
    """Every tier in output order: speakers (schema order), segment labels, then PII.

    ``span`` turns a frame range into the format's times. Every schema speaker
    and label gets a tier even when empty, so the file is ready for more work.
    """
    names = Names()
    tiers: list[Tier[T]] = []

    def add(base: str, kind: Kind, source: str | None, entries: Sequence[tuple[T, T, str]]) -> None:
        for i, lane in enumerate(lanes(entries)):
            name = names.claim(base if i == 0 else f"{base}-{i + 1}")
            tiers.append(Tier(name, kind, source, tuple(lane)))

    def timed(seg: Segment, value: str) -> tuple[T, T, str]:
        return (*span(seg.start, seg.end), value)

    for speaker in _speakers(doc, schema):
        segs = [s for s in doc.segments if s.speaker == speaker]
        add(speaker or UNASSIGNED, "speaker", speaker, [timed(s, s.text) for s in segs])
    for label in _labels(doc, schema):
        add(
            label,
            "label",
            label,
            [timed(s, VALUE_JOINER.join(s.label(label))) for s in doc.segments if s.label(label)],
        )
    add(PII, "pii", PII, [(*span(p.start, p.end), p.category) for p in doc.pii])
    return tiers
