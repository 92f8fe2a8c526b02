"""Label documents for the tests and the outbox driver.

``demo_document`` fits the demo project's schema (version 1: a speaker on
every segment, a call outcome); with ``schema_version=0`` it fits a project
that declared no schema (no speaker, no fields).
"""

from __future__ import annotations

from app.domain.label_document import LabelDocument, PiiSpan, Segment

SPEAKERS = ("agent", "customer", "clinician")
_WORDS = [
    "yes",
    "the",
    "account",
    "number",
    "is",
    "on",
    "the",
    "letter",
    "we",
    "sent",
    "last",
    "week",
    "thank",
    "you",
]


def demo_document(
    text: str, *, schema_version: int = 1, start: int = 0, end: int = 800
) -> LabelDocument:
    if schema_version == 0:
        return LabelDocument(segments=(Segment("s1", start, end, text=text),))
    return LabelDocument(
        schema_version=schema_version,
        segments=(Segment("s1", start, end, speaker="agent", text=text),),
        fields=(("outcome", "resolved"),),
    )


def spread_segments(count: int, frames: int, rate: int, schema_version: int = 1) -> LabelDocument:
    """``count`` segments over ``frames``: two speakers taking turns on their own channels,
    every fifth overlapping the next, a dozen words each, labels and one PII tag in ten."""
    step = frames // max(1, count)
    segments, pii = [], []
    for i in range(count):
        start = i * step
        end = min(frames, start + (step * 3) // 2 if i % 5 == 0 else start + step - rate // 20)
        speaker = SPEAKERS[i % 2]
        words = " ".join(_WORDS[(i + k) % len(_WORDS)] for k in range(12))
        labels = (("intent", ("request",)),) if i % 3 == 0 else ()
        segments.append(
            Segment(f"s{i:05d}", start, max(end, start + 1), i % 2, speaker, words, labels)
        )
        if i % 10 == 0:
            pii.append(
                PiiSpan(f"p{i:05d}", "account_number", start, start + rate // 2, f"s{i:05d}", 0, 3)
            )
    return LabelDocument(
        schema_version=schema_version,
        segments=tuple(segments),
        pii=tuple(pii),
        fields=(("outcome", "resolved"),),
    )
