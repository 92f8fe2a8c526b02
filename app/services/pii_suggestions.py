"""What the server's PII recognizers proposed for the open document, and what became of it.

A proposal is shown until the annotator confirms it (it becomes a PII span on the
segment's characters and audio) or dismisses it (it is not shown again for the
same words in this session). A proposal whose words were edited away, or that an
existing span already covers, is dropped. Qt-free; the jobs layer asks the
server and calls :meth:`SuggestionBook.answered` with the reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.domain.label_document import PiiSpan
from app.services.annotation import DocumentEditor
from app.wire.pii import PiiSuggestionsOut


@dataclass(frozen=True)
class Suggestion:
    segment: str
    segment_index: int
    category: str
    kind: str
    char_start: int
    char_end: int
    words: str


class SuggestionBook:
    def __init__(self) -> None:
        self._by_segment: dict[str, list[Suggestion]] = {}
        self._dismissed: set[tuple[str, str, str]] = set()

    def clear(self) -> None:
        """A new document: forget proposals and dismissals."""
        self._by_segment.clear()
        self._dismissed.clear()

    def all(self) -> list[Suggestion]:
        return sorted(
            (s for items in self._by_segment.values() for s in items),
            key=lambda s: (s.segment_index, s.char_start),
        )

    def answered(
        self, editor: DocumentEditor, sent: Mapping[str, str], answer: PiiSuggestionsOut
    ) -> None:
        """The server's reply for ``sent`` (segment id -> the text asked about)."""
        for segment_id, text in sent.items():
            segment = editor.get(segment_id)
            if segment is None or segment.text != text:
                continue  # edited since: a newer ask follows
            index = editor.index_of(segment_id) or 0
            found = []
            for hit in answer.suggestions:
                if hit.segment != segment_id or not 0 <= hit.char_start < hit.char_end <= len(text):
                    continue
                words = text[hit.char_start : hit.char_end]
                if (segment_id, hit.category, words) in self._dismissed:
                    continue
                if _covered(editor.pii_in(segment_id), hit.char_start, hit.char_end):
                    continue
                found.append(Suggestion(segment_id, index, hit.category, hit.kind,
                                        hit.char_start, hit.char_end, words))  # fmt: skip
            self._by_segment[segment_id] = found

    def edited(self, segment_id: str) -> None:
        """The segment's text changed: its proposals no longer point at the right words."""
        self._by_segment.pop(segment_id, None)

    def dismiss(self, suggestion: Suggestion) -> None:
        self._dismissed.add((suggestion.segment, suggestion.category, suggestion.words))
        self._drop(suggestion)

    def confirm(self, editor: DocumentEditor, suggestion: Suggestion) -> PiiSpan | None:
        """Tag the proposal as PII (its characters, and its segment's audio span)."""
        segment = editor.get(suggestion.segment)
        self._drop(suggestion)
        if segment is None or segment.text[suggestion.char_start : suggestion.char_end] != (
            suggestion.words
        ):
            return None
        return editor.add_pii(
            suggestion.category, segment.start, segment.end, segment_id=segment.id,
            char_start=suggestion.char_start, char_end=suggestion.char_end,
        )  # fmt: skip

    def _drop(self, suggestion: Suggestion) -> None:
        items = self._by_segment.get(suggestion.segment, [])
        self._by_segment[suggestion.segment] = [s for s in items if s != suggestion]


def _covered(spans: list[PiiSpan], start: int, end: int) -> bool:
    return any(
        p.char_start is not None and p.char_end is not None
        and p.char_start <= start and end <= p.char_end
        for p in spans
    )  # fmt: skip
