"""Does a label document fit its project schema and its source? One answer for both sides.

The server refuses a document that does not fit (422 with the JSON path of
the first problem); the client asks the same question before it submits, so
the annotator sees the problem at the segment instead of a refusal later.
A draft only has to be *consistent* (no unknown names, nothing outside the
audio); completeness (required fields, speakers, text) is asked of a submit.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.label_document import FieldValue, LabelDocument, Preference, Segment
from app.domain.project_schema import ProjectSchema, TaskLabel


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class _Checker:
    """Collects problems; one method per part of the document."""

    def __init__(self, doc: LabelDocument, schema: ProjectSchema, final: bool) -> None:
        self.doc, self.schema, self.final = doc, schema, final
        self.final_fields = final
        self.problems: list[Problem] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def segments(self, frames: int, channels: int) -> None:
        ids: dict[str, int] = {}
        for i, seg in enumerate(self.doc.segments):
            path = f"$.segments[{i}]"
            if seg.id in ids:
                self.problem(f"{path}.id", f"segment id is also used by $.segments[{ids[seg.id]}]")
            ids.setdefault(seg.id, i)
            if seg.end > frames:
                self.problem(f"{path}.end", "the segment ends after the audio")
            if seg.channel is not None and seg.channel >= channels:
                self.problem(f"{path}.channel", f"the audio has {channels} channel(s)")
            if seg.speaker is not None and self.schema.speaker(seg.speaker) is None:
                self.problem(f"{path}.speaker", "not a speaker of this project")
            self.labels(path, seg)
            if self.final:
                self.complete(path, seg)

    def labels(self, path: str, seg: Segment) -> None:
        for name, values in seg.labels:
            spec = self.schema.segment_label(name)
            where = f"{path}.labels.{name}"
            if spec is None:
                self.problem(where, "not a segment label of this project")
                continue
            if not spec.multi and len(values) > 1:
                self.problem(where, "takes one value")
            if len(set(values)) != len(values):
                self.problem(where, "a value is repeated")
            for j, value in enumerate(values):
                if spec.value(value) is None:
                    self.problem(f"{where}[{j}]", "not a value of this label")

    def complete(self, path: str, seg: Segment) -> None:
        if self.schema.require_speaker and seg.speaker is None:
            self.problem(f"{path}.speaker", "every segment needs a speaker")
        if self.schema.require_text and not seg.text.strip():
            self.problem(f"{path}.text", "every segment needs its text")
        for spec in self.schema.segment_labels:
            if spec.required and not seg.label(spec.name):
                self.problem(f"{path}.labels.{spec.name}", "required")

    def pii(self, frames: int) -> None:
        span_ids: set[str] = set()
        for i, span in enumerate(self.doc.pii):
            path = f"$.pii[{i}]"
            if span.id in span_ids:
                self.problem(f"{path}.id", "span id is used twice")
            span_ids.add(span.id)
            if self.schema.pii_category(span.category) is None:
                self.problem(f"{path}.category", "not a PII category of this project")
            if span.end > frames:
                self.problem(f"{path}.end", "the span ends after the audio")
            if span.segment is None:
                continue
            owner = self.doc.segment(span.segment)
            if owner is None:
                self.problem(f"{path}.segment", "no such segment")
                continue
            if span.start < owner.start or span.end > owner.end:
                self.problem(f"{path}.start", "the span lies outside its segment")
            if span.char_end is not None and span.char_end > len(owner.text):
                self.problem(f"{path}.char_end", "the range lies outside its segment's text")

    def fields(self) -> None:
        for name, value in self.doc.fields:
            path = f"$.fields.{name}"
            spec = self.schema.task_label(name)
            if spec is None:
                self.problem(path, "not a task label of this project")
            else:
                message = _field_problem(spec, value)
                if message:
                    self.problem(path, message)
        if self.final_fields:
            for spec in self.schema.task_labels:
                if spec.required and self.doc.field_value(spec.name) in {None, "", ()}:
                    self.problem(f"$.fields.{spec.name}", "required")

    def comparison(self, kind: str, outputs: tuple[str, ...]) -> None:
        """A pairwise task takes a preference, a ranking task an order of its outputs."""
        doc = self.doc
        if kind != "pairwise" and doc.preference is not None:
            self.problem("$.preference", "only a pairwise comparison takes a preference")
        if kind != "ranking" and doc.ranking is not None:
            self.problem("$.ranking", "only a ranking comparison takes a ranking")
        if kind == "pairwise" and self.final and (doc.preference or _NONE).choice is None:
            self.problem("$.preference.choice", "required")
        if kind != "ranking":
            return
        seen: set[str] = set()
        for i, group in enumerate(doc.ranking or ()):
            for j, output in enumerate(group):
                if output not in outputs:
                    self.problem(f"$.ranking[{i}][{j}]", "not an output of this comparison")
                elif output in seen:
                    self.problem(f"$.ranking[{i}][{j}]", "ranked twice")
                seen.add(output)
        if self.final and set(outputs) - seen:
            self.problem("$.ranking", "every output needs a rank")


_NONE = Preference()


def _field_problem(spec: TaskLabel, value: FieldValue) -> str | None:
    """What is wrong with ``value`` for the task field ``spec`` (``None``: nothing)."""
    if spec.kind == "rating":
        fits = isinstance(value, int) and 1 <= value <= spec.max
        return None if fits else f"a rating from 1 to {spec.max}"
    if spec.kind == "text":
        if not isinstance(value, str):
            return "text expected"
        return f"longer than {spec.max_chars} characters" if len(value) > spec.max_chars else None
    chosen = (value,) if isinstance(value, str) else value
    if not isinstance(chosen, tuple) or (spec.kind == "choice" and len(chosen) != 1):
        return "one value expected" if spec.kind == "choice" else "a list expected"
    if any(not any(c.name == v for c in spec.values) for v in chosen):
        return "not a value of this label"
    return None


def check_document(
    doc: LabelDocument,
    schema: ProjectSchema,
    *,
    frames: int,
    channels: int,
    final: bool,
    kind: str = "transcription",
    outputs: tuple[str, ...] = (),
) -> list[Problem]:
    """Every problem, in document order (the server reports the first).

    ``kind`` and ``outputs``: the task is an RLHF comparison of these output ids.
    """
    checker = _Checker(doc, schema, final)
    if doc.schema_version != schema.version:
        checker.problem("$.schema_version", f"the project schema is version {schema.version}")
        return checker.problems
    checker.segments(frames, channels)
    checker.pii(frames)
    # The schema's task fields describe transcription tasks; a comparison is judged by its
    # preference or ranking alone, so none of them is required of it.
    checker.final_fields = final and kind == "transcription"
    checker.fields()
    checker.comparison(kind, outputs)
    return checker.problems
