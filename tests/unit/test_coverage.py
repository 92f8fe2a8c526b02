"""Listen coverage from a playback trace: time times speed, seeks, loops, the speed cap."""

from __future__ import annotations

from app.domain.coverage import (
    Mark,
    TraceEvent,
    heard_spans,
    loop_reason,
    speed_reason,
    unheard,
)

DURATION = 60_000


def ev(mark: Mark, at: float, pos: int, reason: str | None = None) -> TraceEvent:
    return TraceEvent(mark, at, pos, reason)


def test_playing_covers_wall_time_times_speed_from_each_position() -> None:
    trace = [
        ev(Mark.STARTED, 100.0, 0),
        ev(Mark.SEEKED, 102.0, 10_000),  # heard 0-2 s, then jumped to 10 s
        ev(Mark.SPEED, 103.0, 11_000, speed_reason(1.5)),  # 10-11 s at 1x
        ev(Mark.PAUSED, 105.0, 14_000),  # 11-14 s at 1.5x
        ev(Mark.STARTED, 200.0, 30_000),  # a long pause heard nothing
        ev(Mark.PROGRESS, 201.0, 31_500),  # 30-31.5 s
    ]
    assert heard_spans(trace, DURATION) == [(0, 2000), (10_000, 14_000), (30_000, 31_500)]


def test_above_twice_the_speed_nothing_counts() -> None:
    trace = [
        ev(Mark.SPEED, 99.0, 0, speed_reason(2.5)),
        ev(Mark.STARTED, 100.0, 0),
        ev(Mark.SPEED, 110.0, 25_000, speed_reason(2.0)),
        ev(Mark.PAUSED, 111.0, 27_000),
    ]
    assert heard_spans(trace, DURATION) == [(25_000, 27_000)]


def test_a_loop_wraps_and_playing_stops_at_the_end() -> None:
    looped = [
        ev(Mark.LOOP, 99.0, 5000, loop_reason((5000, 6000))),
        ev(Mark.STARTED, 100.0, 5500),
        ev(Mark.PAUSED, 110.0, 5200),  # ten seconds inside a one-second loop
    ]
    assert heard_spans(looped, DURATION) == [(5000, 6000)]
    off = [*looped[:2], ev(Mark.LOOP, 100.2, 5700, loop_reason(None)), ev(Mark.PAUSED, 101.2, 0)]
    assert heard_spans(off, DURATION) == [(5500, 6700)]
    to_end = [ev(Mark.STARTED, 0.0, 59_000), ev(Mark.CLOSED, 30.0, 60_000)]
    assert heard_spans(to_end, DURATION) == [(59_000, 60_000)]


def test_unheard_names_the_gaps_above_the_tolerance() -> None:
    heard = [(0, 2000), (2100, 5000), (9000, 10_000)]
    assert unheard([(0, 5000)], heard) == []  # a 100 ms gap is jitter
    assert unheard([(0, 12_000)], heard) == [(5000, 9000), (10_000, 12_000)]
    assert unheard([(4000, 4500), (4200, 9500)], heard) == [(5000, 9000)]
    assert unheard([(0, 1000)], []) == [(0, 1000)]


def test_unheard_agrees_with_a_millisecond_by_millisecond_count() -> None:
    """Random spans: the single walk equals marking every millisecond heard or not."""
    import random  # noqa: PLC0415

    import numpy as np  # noqa: PLC0415

    from app.domain.coverage import merge  # noqa: PLC0415

    rng = random.Random(7)  # noqa: S311 - test data, not secrets
    for _ in range(50):
        length = 20_000
        heard = merge((a, a + rng.randrange(1, 3000)) for a in rng.sample(range(length - 3000), 12))
        required = [(a, a + rng.randrange(1, 4000)) for a in rng.sample(range(length - 4000), 8)]
        mask = np.zeros(length, dtype=bool)
        for a, b in required:
            mask[a:b] = True
        for a, b in heard:
            mask[a:b] = False
        edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
        expected = [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
        assert unheard(required, heard, tolerance_ms=0) == expected
