"""Editing one task's label document: segments, their text, speakers, labels, PII, task fields.

Qt-free so every rule is tested without a window; the widgets call these
methods and redraw from :attr:`DocumentEditor.segments`. Segments are frozen
values kept in start order; an edit replaces one, so :meth:`snapshot` (for
autosave and submit) is a pointer copy and never races the next keystroke.
Each edit bumps :attr:`generation`; autosave compares generations, not content.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import replace

from app.domain.document_check import Problem, check_document
from app.domain.label_document import (
    FieldValue,
    LabelDocument,
    PiiSpan,
    Preference,
    Segment,
    new_item_id,
    sort_segments,
)
from app.domain.project_schema import ProjectSchema


class ReadOnlyError(Exception):
    """An edit of a document opened for reading (a reviewer's)."""


class DocumentEditor:
    """The open task's document and the operations an annotator performs on it."""

    def __init__(
        self,
        schema: ProjectSchema,
        frames: int,
        channels: int,
        sample_rate: int,
        document: LabelDocument | None = None,
        *,
        read_only: bool = False,
        kind: str = "transcription",
        outputs: tuple[str, ...] = (),
    ) -> None:
        self.schema = schema
        #: ``"transcription"``, or an RLHF comparison (``"pairwise"``, ``"ranking"``) of
        #: ``outputs`` (their ids, in the bundle's order; known once the bundle is open).
        self.kind = kind
        self.outputs = outputs
        #: A reviewer reads the document; every edit raises :class:`ReadOnlyError`.
        self.read_only = read_only
        self.frames = frames
        self.channels = channels
        self.rate = max(1, sample_rate)
        #: The shortest segment: 10 ms (a slip of the mouse is not a segment).
        self.min_frames = max(1, self.rate // 100)
        doc = document or LabelDocument(schema_version=schema.version)
        self._segments: list[Segment] = list(sort_segments(doc.segments))
        self._starts = [s.start for s in self._segments]
        self._pii: list[PiiSpan] = list(doc.pii)
        self._fields: dict[str, FieldValue] = dict(doc.fields)
        self.comment = doc.comment
        self.preference: Preference | None = doc.preference
        self._ranking: tuple[tuple[str, ...], ...] | None = doc.ranking
        self.generation = 0
        #: Where ELAN-style boundary marking left off.
        self.pending_start: int | None = None
        self._listeners: list[Callable[[], None]] = []

    # -- reading -------------------------------------------------------------
    @property
    def segments(self) -> tuple[Segment, ...]:
        return tuple(self._segments)

    @property
    def pii(self) -> tuple[PiiSpan, ...]:
        return tuple(self._pii)

    def field_value(self, name: str) -> FieldValue | None:
        return self._fields.get(name)

    def __len__(self) -> int:
        return len(self._segments)

    def get(self, segment_id: str) -> Segment | None:
        i = self.index_of(segment_id)
        return self._segments[i] if i is not None else None

    def index_of(self, segment_id: str) -> int | None:
        return next((i for i, s in enumerate(self._segments) if s.id == segment_id), None)

    def at(self, frame: int) -> list[Segment]:
        return [
            s
            for s in self._segments[: bisect.bisect_right(self._starts, frame)]
            if s.contains(frame)
        ]

    def neighbour(self, segment_id: str, forward: bool) -> Segment | None:
        i = self.index_of(segment_id)
        if i is None:
            return None
        j = i + (1 if forward else -1)
        return self._segments[j] if 0 <= j < len(self._segments) else None

    def next_after(self, frame: int) -> Segment | None:
        i = bisect.bisect_right(self._starts, frame)
        return self._segments[i] if i < len(self._segments) else None

    def previous_before(self, frame: int) -> Segment | None:
        i = bisect.bisect_left(self._starts, frame) - 1
        return self._segments[i] if i >= 0 else None

    def snapshot(self) -> LabelDocument:
        """The document now (frozen; safe to encode on another thread)."""
        return LabelDocument(
            schema_version=self.schema.version,
            segments=tuple(self._segments),
            pii=tuple(self._pii),
            fields=tuple(sorted(self._fields.items())),
            comment=self.comment,
            preference=self.preference,
            ranking=self._ranking,
        )

    def problems(self, *, final: bool) -> list[Problem]:
        return check_document(
            self.snapshot(), self.schema, frames=self.frames, channels=self.channels,
            final=final, kind=self.kind, outputs=self.outputs,
        )  # fmt: skip

    def _writable(self) -> None:
        if self.read_only:
            raise ReadOnlyError("this document is open for reading")

    # -- change notification -------------------------------------------------
    def add_listener(self, callback: Callable[[], None]) -> None:
        self._listeners.append(callback)

    def _changed(self) -> None:
        self.generation += 1
        for callback in self._listeners:
            callback()

    def _store(self, segments: list[Segment]) -> None:
        self._segments = list(sort_segments(segments))
        self._starts = [s.start for s in self._segments]
        self._changed()

    def _replace(self, segment: Segment) -> Segment:
        i = self.index_of(segment.id)
        if i is None:
            raise KeyError(segment.id)
        if segment.start == self._segments[i].start:
            self._segments[i] = segment  # same place in start order: no re-sort
            self._changed()
        else:
            self._store([*self._segments[:i], segment, *self._segments[i + 1 :]])
        return segment

    def _clamp(self, frame: int) -> int:
        return max(0, min(int(frame), self.frames))

    # -- segments -------------------------------------------------------------
    def add_segment(
        self, start: int, end: int, *, channel: int | None = None, speaker: str | None = None
    ) -> Segment:
        """A new segment; ``ValueError`` if shorter than :attr:`min_frames`.

        A segment created while one channel of a stereo call is soloed belongs to
        that channel; a speaker with a default channel puts it there.
        """
        self._writable()
        start, end = sorted((self._clamp(start), self._clamp(end)))
        if end - start < self.min_frames:
            raise ValueError("segment too short")
        if channel is None and speaker is not None:
            channel = self._speaker_channel(speaker)
        if channel is not None and not 0 <= channel < self.channels:
            channel = None
        segment = Segment(new_item_id("s"), start, end, channel, speaker)
        self._store([*self._segments, segment])
        return segment

    def _speaker_channel(self, speaker: str) -> int | None:
        spec = self.schema.speaker(speaker)
        if spec is None or spec.channel is None or self.channels < 2:
            return None
        return spec.channel if spec.channel < self.channels else None

    def move(self, segment_id: str, start: int, end: int) -> Segment:
        """Move or resize (drag handles); PII audio spans inside it are clipped to it."""
        self._writable()
        segment = self.get(segment_id)
        if segment is None:
            raise KeyError(segment_id)
        start, end = sorted((self._clamp(start), self._clamp(end)))
        if end - start < self.min_frames:
            end = min(self.frames, start + self.min_frames)
            start = end - self.min_frames
        self._pii = [self._clip_span(p, start, end) if p.segment == segment_id else p
                     for p in self._pii]  # fmt: skip
        self._pii = [p for p in self._pii if p.end > p.start]
        return self._replace(replace(segment, start=start, end=end))

    @staticmethod
    def _clip_span(span: PiiSpan, start: int, end: int) -> PiiSpan:
        return replace(span, start=max(span.start, start), end=min(span.end, end))

    def remove(self, segment_id: str) -> None:
        """Delete a segment and the PII spans that point into its text."""
        self._writable()
        self._pii = [p for p in self._pii if p.segment != segment_id]
        self._store([s for s in self._segments if s.id != segment_id])

    def split(self, segment_id: str, frame: int, char: int | None = None) -> Segment | None:
        """ELAN-style split at ``frame``; text after ``char`` (the cursor) moves to the new half.

        Speaker, channel and labels are kept on both halves. ``None`` if ``frame``
        is too close to either end.
        """
        self._writable()
        segment = self.get(segment_id)
        if segment is None:
            raise KeyError(segment_id)
        frame = self._clamp(frame)
        if not segment.start + self.min_frames <= frame <= segment.end - self.min_frames:
            return None
        cut = len(segment.text) if char is None else max(0, min(char, len(segment.text)))
        head = replace(segment, end=frame, text=segment.text[:cut].rstrip())
        tail = replace(segment, id=new_item_id("s"), start=frame, text=segment.text[cut:].lstrip())
        lead = len(segment.text[cut:]) - len(tail.text)
        self._pii = [self._split_span(p, segment_id, tail.id, cut, lead) for p in self._pii]
        others = [s for s in self._segments if s.id != segment_id]
        self._store([*others, head, tail])
        return tail

    @staticmethod
    def _split_span(span: PiiSpan, head_id: str, tail_id: str, cut: int, lead: int) -> PiiSpan:
        """A PII span after its segment's text was cut at ``cut`` (``lead`` spaces dropped)."""
        first, last = span.char_start, span.char_end
        if span.segment != head_id or first is None or last is None:
            return span
        if first >= cut:  # wholly in the moved text: it moves with it
            return replace(span, segment=tail_id, char_start=max(0, first - cut - lead),
                           char_end=max(1, last - cut - lead))  # fmt: skip
        if last > cut:  # across the cut: the audio span stays, the text range cannot
            return replace(span, segment=None, char_start=None, char_end=None)
        return span

    def mark_boundary(self, frame: int, channel: int | None = None) -> Segment | None:
        """ELAN segmentation: each boundary closes a segment begun at the previous one.

        Inside an existing segment the boundary splits it there instead.
        """
        self._writable()
        frame = self._clamp(frame)
        inside = [
            s for s in self.at(frame)
            if s.start + self.min_frames <= frame <= s.end - self.min_frames
            and (channel is None or s.channel in (None, channel))
        ]  # fmt: skip
        if inside:
            self.pending_start = frame
            return self.split(inside[-1].id, frame)
        start, self.pending_start = self.pending_start, frame
        if start is None or frame - start < self.min_frames:
            return None
        return self.add_segment(start, frame, channel=channel)

    def set_text(self, segment_id: str, text: str) -> None:
        """The segment's transcript; PII ranges that no longer fit the text drop their range."""
        self._writable()
        segment = self.get(segment_id)
        if segment is None or segment.text == text:
            return
        self._pii = [
            replace(p, segment=None, char_start=None, char_end=None)
            if p.segment == segment_id and p.char_end is not None and p.char_end > len(text)
            else p
            for p in self._pii
        ]
        self._replace(replace(segment, text=text))

    def set_speaker(self, segment_id: str, speaker: str | None) -> None:
        """Set (or, given the same speaker again, clear) the speaker.

        On a stereo call a segment on both channels moves to the speaker's channel.
        """
        self._writable()
        segment = self.get(segment_id)
        if segment is None:
            return
        if speaker is not None and self.schema.speaker(speaker) is None:
            raise KeyError(speaker)
        if speaker == segment.speaker:
            speaker = None
        channel = segment.channel
        if speaker is not None and channel is None:
            channel = self._speaker_channel(speaker)
        self._replace(replace(segment, speaker=speaker, channel=channel))

    def toggle_label(self, segment_id: str, name: str, value: str) -> None:
        """Single choice: set, or clear if already set. Multi: add or remove ``value``."""
        self._writable()
        segment = self.get(segment_id)
        spec = self.schema.segment_label(name)
        if segment is None or spec is None or spec.value(value) is None:
            raise KeyError(f"{name}={value}")
        current = segment.label(name)
        if value in current:
            chosen = tuple(v for v in current if v != value)
        elif spec.multi:
            order = [v.name for v in spec.values]
            chosen = tuple(sorted((*current, value), key=order.index))
        else:
            chosen = (value,)
        self._replace(segment.with_label(name, chosen))

    # -- PII ------------------------------------------------------------------
    def add_pii(
        self,
        category: str,
        start: int,
        end: int,
        *,
        segment_id: str | None = None,
        char_start: int | None = None,
        char_end: int | None = None,
    ) -> PiiSpan:
        """Tag personal data: an audio span, and (in a segment's text) its characters."""
        self._writable()
        if self.schema.pii_category(category) is None:
            raise KeyError(category)
        start, end = sorted((self._clamp(start), self._clamp(end)))
        if end <= start:
            raise ValueError("empty span")
        if segment_id is not None:
            owner = self.get(segment_id)
            if owner is None:
                raise KeyError(segment_id)
            ranged = char_start is not None and char_end is not None
            if ranged and not 0 <= char_start < char_end <= len(owner.text):  # type: ignore[operator]
                raise ValueError("the range lies outside the segment's text")
        span = PiiSpan(new_item_id("p"), category, start, end, segment_id, char_start, char_end)
        self._pii.append(span)
        self._changed()
        return span

    def pii_in(self, segment_id: str) -> list[PiiSpan]:
        return [p for p in self._pii if p.segment == segment_id]

    # -- task fields ------------------------------------------------------------
    def set_field(self, name: str, value: FieldValue | None) -> None:
        self._writable()
        if self.schema.task_label(name) is None:
            raise KeyError(name)
        if value in (None, "", ()):
            if self._fields.pop(name, None) is not None:
                self._changed()
            return
        if self._fields.get(name) != value:
            self._fields[name] = value
            self._changed()

    # -- RLHF comparisons -------------------------------------------------------
    def choose(self, choice: str, strength: int | None) -> None:
        """Pairwise: ``"a"`` or ``"b"`` better by ``strength`` (1-3), or ``"tie"``."""
        self._writable()
        if choice not in ("a", "b", "tie") or (choice == "tie") != (strength is None):
            raise ValueError("a preference has a strength 1-3; a tie has none")
        if strength is not None and not 1 <= strength <= 3:
            raise ValueError("strength runs from 1 to 3")
        reason = self.preference.reason if self.preference is not None else ""
        self.preference = Preference(choice, strength, reason)
        self._changed()

    def set_reason(self, text: str) -> None:
        """Why; may be written before the choice (the draft keeps it, a submit needs both)."""
        self._writable()
        current = self.preference or Preference()
        if text != current.reason:
            self.preference = Preference(current.choice, current.strength, text)
            self._changed()

    @property
    def ranking(self) -> tuple[tuple[str, ...], ...]:
        """Best first, ties grouped; before the annotator ranks, the bundle's order."""
        if self._ranking is not None:
            return self._ranking
        return tuple((o,) for o in self.outputs)

    @property
    def ranked(self) -> bool:
        return self._ranking is not None

    def keep_order(self) -> None:
        """Accept the order shown as the ranking (an explicit act: nothing is assumed)."""
        self._writable()
        self._ranking = self.ranking
        self._changed()

    def move_output(self, output_id: str, up: bool) -> None:
        """One place up or down. An output tied with others leaves its group first."""
        self._writable()
        groups = [list(g) for g in self.ranking]
        i = next(k for k, g in enumerate(groups) if output_id in g)
        if len(groups[i]) > 1:
            groups[i].remove(output_id)
            groups.insert(i if up else i + 1, [output_id])
        else:
            j = i - 1 if up else i + 1
            if 0 <= j < len(groups):
                groups[i], groups[j] = groups[j], groups[i]
        self._ranking = tuple(tuple(g) for g in groups)
        self._changed()

    def toggle_tie(self, output_id: str) -> None:
        """Tie an output with the one ranked above it, or undo that tie."""
        self._writable()
        groups = [list(g) for g in self.ranking]
        i = next(k for k, g in enumerate(groups) if output_id in g)
        if len(groups[i]) > 1:
            groups[i].remove(output_id)
            groups.insert(i + 1, [output_id])
        elif i > 0:
            groups[i - 1].append(output_id)
            del groups[i]
        self._ranking = tuple(tuple(g) for g in groups)
        self._changed()

    def set_comment(self, text: str) -> None:
        self._writable()
        if text != self.comment:
            self.comment = text
            self._changed()
