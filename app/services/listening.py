"""What the user heard of the open task, to mark the rest before the server would refuse.

The server counts coverage from the events it holds (:mod:`app.domain.coverage`); this
keeps the same trace for the open task on this workstation (fed by the controller as it
records each playback event) and adds what the server already counted at opening
(earlier sessions, other workstations). Spans and positions only, in memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from app.domain.coverage import MARKS, Mark, Span, TraceEvent, heard_spans, merge, unheard


class ListenTracker:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.task_id: str | None = None
        self.duration_ms = 0
        self._trace: list[TraceEvent] = []
        self._known: list[Span] = []
        self._playing = False
        self._position: Callable[[], int] = lambda: 0
        #: The server's count for this task arrived: until then nothing is called unheard
        #: (this session alone would miss what was heard before), and the server decides.
        self.loaded = False

    def reset(self, task_id: str | None, duration_ms: int, position: Callable[[], int]) -> None:
        """A task opened (or none): forget the last one's trace."""
        self.task_id, self.duration_ms, self._position = task_id, duration_ms, position
        self._trace, self._known, self._playing = [], [], False
        self.loaded = False

    def add_known(self, task_id: str, heard: list[Span]) -> None:
        """What the server had counted for this task when it opened."""
        if task_id == self.task_id:
            self._known = merge([*self._known, *heard])
            self.loaded = True

    def note(self, action: str, position_ms: int, reason: str | None) -> None:
        if action not in MARKS or self.task_id is None:
            return
        mark = Mark(action)
        self._trace.append(TraceEvent(mark, self._clock(), position_ms, reason))
        if mark is Mark.STARTED:
            self._playing = True
        elif mark in (Mark.PAUSED, Mark.CLOSED):
            self._playing = False

    @property
    def playing(self) -> bool:
        """The trace says playback is running (a stop it did not record is to be said)."""
        return self._playing

    def heard(self) -> list[Span]:
        trace = self._trace
        if self._playing:  # up to now, as a position marker would say
            trace = [*trace, TraceEvent(Mark.PROGRESS, self._clock(), self._position())]
        return merge([*self._known, *heard_spans(trace, self.duration_ms)])

    def unheard(self, required: list[Span]) -> list[Span]:
        """What of ``required`` is not heard yet (nothing, until the server's count is in)."""
        return unheard(required, self.heard()) if self.loaded else []

    def heard_ms(self) -> int:
        return sum(end - start for start, end in self.heard())
