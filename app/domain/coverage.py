"""Listen coverage: which parts of a recording someone heard, from their playback trace.

One function for the server (which refuses a submit or an accept on it) and the client
(which shows the unheard spans on the waveform before the user tries). The trace is
the playback events the client records anyway — play, pause, seek, speed, loop, and a
position marker — each with the playhead position and the workstation's clock. While
playing at speed ``s``, ``t`` seconds of wall time cover ``t * s`` seconds of audio from
the last known position, wrapping inside a loop. Nothing counts above
:data:`MAX_HEARD_SPEED`: faster than that, speech is skimmed, not heard.

What this can and cannot prove: the server counts only events it holds, from a device
that fetched the segment, and never more audio than the wall time the trace spans
allows; a modified client that invents a plausible trace is not detected.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

#: Faster than this, nothing counts as heard.
MAX_HEARD_SPEED = 2.0
#: Gaps shorter than this are not reported (event timing jitter, a boundary a frame off).
TOLERANCE_MS = 250

Span = tuple[int, int]


class Mark(StrEnum):
    """What a trace event says about playback (a subset of the access actions)."""

    STARTED = "playback_started"
    PAUSED = "playback_paused"
    SEEKED = "playback_seeked"
    SPEED = "playback_speed"  # reason ``speed_<percent>``
    LOOP = "playback_loop"  # reason ``loop_<start ms>_<end ms>`` or ``loop_off``
    PROGRESS = "playback_progress"  # where the playhead is, while playing (before a submit)
    CLOSED = "segment_closed"


MARKS = frozenset(m.value for m in Mark)


@dataclass(frozen=True)
class TraceEvent:
    mark: Mark
    #: Seconds on the workstation's clock.
    at: float
    position_ms: int
    reason: str | None = None


def speed_reason(speed: float) -> str:
    return f"speed_{round(speed * 100)}"


def loop_reason(loop: Span | None) -> str:
    return "loop_off" if loop is None else f"loop_{loop[0]}_{loop[1]}"


def _speed(reason: str | None) -> float | None:
    if reason and reason.startswith("speed_") and reason[6:].isdigit():
        return int(reason[6:]) / 100
    return None


def _loop(reason: str | None) -> Span | None:
    parts = (reason or "").split("_")
    if (
        len(parts) == 3
        and parts[1].isdigit()
        and parts[2].isdigit()
        and int(parts[2]) > int(parts[1])
    ):
        return int(parts[1]), int(parts[2])
    return None


def _played(pos: int, amount: int, loop: Span | None, duration: int) -> list[Span]:
    """``amount`` ms of audio played from ``pos``: wrapping inside ``loop``, stopping at the end."""
    if amount <= 0:
        return []
    if loop is not None and loop[0] <= pos < loop[1]:
        first = (pos, min(loop[1], pos + amount))
        rest = amount - (first[1] - pos)
        if rest <= 0:
            return [first]
        return [first, (loop[0], min(loop[1], loop[0] + rest))]
    return [(pos, min(duration, pos + amount))]


def heard_spans(events: Iterable[TraceEvent], duration_ms: int) -> list[Span]:
    """The merged spans (ms) a trace covers, in order."""
    spans: list[Span] = []
    playing, pos, since, speed = False, 0, 0.0, 1.0
    loop: Span | None = None
    for event in events:
        if playing and speed <= MAX_HEARD_SPEED:
            amount = round(max(0.0, event.at - since) * 1000 * speed)
            spans += _played(pos, amount, loop, duration_ms)
        since, pos = event.at, min(max(0, event.position_ms), duration_ms)
        if event.mark is Mark.STARTED:
            playing = True
        elif event.mark in (Mark.PAUSED, Mark.CLOSED):
            playing = False
        elif event.mark is Mark.SPEED:
            speed = _speed(event.reason) or speed
        elif event.mark is Mark.LOOP:
            loop = _loop(event.reason)
    return merge(spans)


def merge(spans: Iterable[Span]) -> list[Span]:
    out: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def unheard(
    required: Iterable[Span], heard: list[Span], tolerance_ms: int = TOLERANCE_MS
) -> list[Span]:
    """The parts of ``required`` not in ``heard`` (merged), ignoring gaps under the tolerance.

    Both are walked once, in order (``heard`` is merged and sorted, as :func:`heard_spans`
    and :func:`merge` return it): a 2-hour call with 2,000 segments costs about a millisecond.
    """
    gaps: list[Span] = []
    j = 0
    for start, end in merge(required):
        while j < len(heard) and heard[j][1] <= start:
            j += 1  # heard spans wholly before this one never matter again
        cursor, k = start, j
        while k < len(heard) and heard[k][0] < end:
            h_start, h_end = heard[k]
            if h_start > cursor:
                gaps.append((cursor, h_start))
            cursor = max(cursor, h_end)
            if cursor >= end:
                break
            k += 1
        if cursor < end:
            gaps.append((cursor, end))
    return [g for g in merge(gaps) if g[1] - g[0] >= tolerance_ms]
