"""Segments and what they carry, for the controller: select, mark, split, move, label, tag.

The base of :class:`~app.jobs.annotation_ops.AnnotationOps` (which owns the open
document and its selection): every operation edits the document through the
Qt-free :class:`~app.services.annotation.DocumentEditor`, which refuses edits to a
reading copy, and then announces the new segments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.domain.label_document import FieldValue, Segment
from app.player.playback import PlaybackEngine, PlaybackState
from app.services.annotation import DocumentEditor
from app.wire.schemas import AccessAction, Outcome


class SegmentOps:
    # Provided by AnnotationOps / Controller.
    _engine: PlaybackEngine
    _editor: DocumentEditor | None
    _selected: str | None
    _marked_span: tuple[int, int] | None
    _channel_gains: list[float]
    # PlaybackOps (declared only: a stub here would shadow it in the MRO).
    _emit_player_settings: Callable[[], None]
    _set_loop: Callable[[int | None, int | None], None]
    segment_text_changed: Any
    span_tagged: Any

    def record(
        self, action: AccessAction, outcome: Outcome = Outcome.OK, reason: str | None = None
    ) -> None:
        raise NotImplementedError

    def _editable(self) -> DocumentEditor | None:
        raise NotImplementedError

    @property
    def selected_segment(self) -> Segment | None:
        raise NotImplementedError

    def _segments_changed(self) -> None:
        raise NotImplementedError

    # -- segment operations -------------------------------------------------------
    def _rate(self) -> int:
        return self._editor.rate if self._editor is not None else 0

    def _soloed_channel(self) -> int | None:
        """The one audible channel of a stereo call, if the annotator soloed one."""
        gains = self._channel_gains
        audible = [i for i, g in enumerate(gains) if g > 0]
        return audible[0] if len(gains) > 1 and len(audible) == 1 else None

    def select_segment(self, segment_id: str | None, *, play: bool = False) -> None:
        """Select a segment (a row or a region); ``play`` plays it from its start."""
        if self._editor is None:
            return
        self._selected = segment_id if segment_id and self._editor.get(segment_id) else None
        self._segments_changed()
        segment = self.selected_segment
        if play and segment is not None and self._engine.loaded:
            self._engine.seek(segment.start)
            if self._engine.state is not PlaybackState.PLAYING:
                self._engine.play()
                self.record(AccessAction.PLAYBACK_STARTED)
            self.record(AccessAction.PLAYBACK_SEEKED)

    def select_region_at(self, seconds: float) -> None:
        if self._editor is None:
            return
        hits = self._editor.at(int(seconds * self._rate()))
        self._selected = hits[-1].id if hits else None
        self._segments_changed()

    def step_region(self, forward: bool) -> None:
        """Select the next (or previous) segment and play it from its start."""
        editor = self._editor
        if editor is None:
            return
        selected = self.selected_segment
        if selected is not None:  # step from the selection: the playhead lags a seek
            segment = editor.neighbour(selected.id, forward)
        else:
            here = self._engine.position_frames
            margin = self._rate() // 3  # Shift+Tab just after a start goes back one
            segment = (
                editor.next_after(here)
                if forward
                else editor.previous_before(max(0, here - margin))
            )
        if segment is not None:
            self.select_segment(segment.id, play=True)

    def mark_boundary(self) -> None:
        """ELAN-style: Alt+Enter while listening closes a segment at the heard position."""
        editor = self._editable()
        if editor is None:
            return
        segment = editor.mark_boundary(self._engine.position_frames, channel=self._soloed_channel())
        if segment is not None:
            self._selected = segment.id
        self._segments_changed()

    def split_at_playhead(self, char: int | None = None) -> None:
        """Enter while typing: split the selected segment at the heard position.

        The text after the cursor moves to the new second half, which becomes the
        selection. Outside the selected segment, Enter marks a boundary instead.
        """
        editor, segment = self._editable(), self.selected_segment
        if editor is None:
            return
        here = self._engine.position_frames
        if segment is None or not segment.contains(here):
            self.mark_boundary()
            return
        tail = editor.split(segment.id, here, char)
        if tail is not None:
            self._selected = tail.id
        self._segments_changed()

    def move_region(self, segment_id: str, start_s: float, end_s: float) -> None:
        editor = self._editable()
        if editor is None or editor.get(segment_id) is None:
            self._segments_changed()  # a refused drag: the region goes back where it was
            return
        rate = self._rate()
        editor.move(segment_id, round(start_s * rate), round(end_s * rate))
        self._selected = segment_id
        self._segments_changed()

    def create_region(self, start_s: float, end_s: float) -> None:
        """A segment drawn with the mouse; it becomes the selection (too short: ignored)."""
        editor = self._editable()
        if editor is None:
            return
        rate = self._rate()
        try:
            segment = editor.add_segment(
                round(start_s * rate), round(end_s * rate), channel=self._soloed_channel()
            )
        except ValueError:
            return  # shorter than a segment may be: a slip of the mouse, not an error
        self._selected = segment.id
        self._segments_changed()

    def delete_selected_region(self) -> None:
        editor = self._editable()
        if editor is not None and self._selected is not None:
            editor.remove(self._selected)
            self._selected = None
            self._segments_changed()

    def toggle_loop(self) -> None:
        segment = self.selected_segment
        if self._engine.loop is not None or segment is None:
            self._set_loop(None, None)
        else:
            self._set_loop(segment.start, segment.end)
            if self._engine.state is not PlaybackState.PLAYING:
                self._engine.play()
                self.record(AccessAction.PLAYBACK_STARTED)
        self._emit_player_settings()

    # -- text, speakers, labels, PII, fields -------------------------------------
    def set_segment_text(self, segment_id: str, text: str) -> None:
        """A keystroke: only the list row and the text change (the waveform does not)."""
        editor = self._editable()
        if editor is not None:
            editor.set_text(segment_id, text)
            self.segment_text_changed.emit(editor, self._selected)

    def set_speaker(self, speaker: str) -> None:
        editor = self._editable()
        if editor is not None and self._selected is not None:
            editor.set_speaker(self._selected, speaker)
            self._segments_changed()

    def toggle_label(self, name: str, value: str) -> None:
        editor = self._editable()
        if editor is not None and self._selected is not None:
            editor.toggle_label(self._selected, name, value)
            self._segments_changed()

    def mark_span(self, start_s: float, end_s: float) -> None:
        """Shift+drag on the waveform: the audio span the next PII key tags."""
        rate = self._rate()
        self._marked_span = (round(start_s * rate), round(end_s * rate)) if rate else None

    def tag_pii(self, category: str, chars: tuple[int, int] | None) -> bool:
        """Tag personal data: the selected words of the selected segment; else the span
        marked on the waveform (Shift+drag); else the selected segment's audio."""
        editor, segment = self._editable(), self.selected_segment
        marked, self._marked_span = self._marked_span, None
        if editor is None:
            return False
        if chars is None and marked is not None:
            inside = segment is not None and segment.start <= marked[0] and marked[1] <= segment.end
            try:
                editor.add_pii(
                    category, *marked, segment_id=segment.id if inside and segment else None
                )
            except (KeyError, ValueError):
                return False
            self.span_tagged.emit()
            self._segments_changed()
            return True
        if segment is None:
            return False
        try:
            if chars is not None:
                editor.add_pii(category, segment.start, segment.end, segment_id=segment.id,
                               char_start=chars[0], char_end=chars[1])  # fmt: skip
            else:
                editor.add_pii(category, segment.start, segment.end)
        except (KeyError, ValueError):
            return False
        self._segments_changed()
        return True

    def set_field(self, name: str, value: FieldValue | None) -> None:
        editor = self._editable()
        if editor is not None:
            editor.set_field(name, value)

    def set_comment(self, text: str) -> None:
        editor = self._editable()
        if editor is not None:
            editor.set_comment(text)
