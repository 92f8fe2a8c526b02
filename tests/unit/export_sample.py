"""A realistic label document for the export tests, and what each export should say.

Expectations are computed from the document itself, never copied from an
earlier output, so a writer that drops, moves or renames anything fails.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from itertools import pairwise

from app.domain.label_document import LabelDocument, PiiSpan, Segment, sort_segments
from app.domain.project_schema import parse_schema
from server.demo import DEMO_SCHEMA
from server.exports.items import ExportItem
from server.project_schemas import read_file

SCHEMA = parse_schema(read_file(DEMO_SCHEMA), version=3)
RATE = 16_000
FRAMES = RATE * 12

Span = tuple[float, float, str]


def document() -> LabelDocument:
    """Two speakers, two customer turns overlapping each other, one turn with no speaker,
    one without text; frames that do not fall on whole milliseconds."""
    q, i = "quality", "intent"
    segments = [
        Segment("s-a1", 0, 24_000, 0, "agent", "Bonjour, ici Hélène.", ((i, ("greeting",)),)),
        Segment("s-c1", 20_000, 56_007, 1, "customer", "Grüß Gott, hier Weiß.",
                ((i, ("verification",)), (q, ("overlap", "noise")))),
        Segment("s-c2", 40_003, 64_001, 1, "customer", "日本から電話です", ((q, ("inaudible",)),)),
        Segment("s-a2", 64_000, 96_123, 0, "agent", "Account 1234 5678, thank you.",
                ((i, ("request",)),)),
        Segment("s-n1", 100_000, 108_008, None, None, "[laughter] \"quoted\" <tag> & more"),
        Segment("s-a3", 110_000, 130_000, None, "agent", "", ((i, ("resolution",)),)),
    ]  # fmt: skip
    pii = (
        PiiSpan("p-1", "person_name", 30_000, 40_000, "s-c1", 16, 20),
        PiiSpan("p-2", "account_number", 70_000, 80_000, "s-a2", 8, 17),
        PiiSpan("p-3", "person_name", 36_000, 45_000),
    )
    fields = (("audio_quality", 4), ("notes", "Rückruf nötig"), ("outcome", "resolved"))
    return LabelDocument(3, sort_segments(segments), pii, fields, comment="für QA")


def item(doc: LabelDocument, audio: str | None = "audio/task 1.wav") -> ExportItem:
    provenance = {"accepted_by": "reviewer-7", "revision": 2}
    return ExportItem("task-1", "src-9", "Anruf Nr. 1", RATE, FRAMES, 2, doc, provenance, audio)


DOC = document()
EMPTY = LabelDocument(3)


def ms(frame: int) -> int:
    return round(frame * 1000 / RATE)


def tiers_of(names: list[str], base: str) -> list[str]:
    """The tier for ``base`` and its overflow tiers (``base-2``, ...)."""
    return [n for n in names if re.fullmatch(rf"{re.escape(base)}(-\d+)?", n)]


def speaker_tier(speaker: str | None) -> str:
    return speaker or "unassigned"


def label_value(seg: Segment, name: str) -> str:
    return "+".join(seg.label(name))


def expected(doc: LabelDocument, time: Callable[[int], float]) -> dict[str, list[Span]]:
    """Per tier base: the (start, end, value) the document says, ``time`` converting frames."""
    out: dict[str, list[Span]] = defaultdict(list)
    for s in doc.segments:
        out[speaker_tier(s.speaker)].append((time(s.start), time(s.end), s.text))
        for name, _ in s.labels:
            out[name].append((time(s.start), time(s.end), label_value(s, name)))
    out["pii"] = [(time(p.start), time(p.end), p.category) for p in doc.pii]
    return {k: sorted(v) for k, v in out.items()}


def no_overlap(spans: list[Span]) -> bool:
    ordered = sorted(spans)
    return all(a[1] <= b[0] for a, b in pairwise(ordered))
