"""What a person heard of a task's recording, from the playback trace the server holds.

Only events that count: the person's own client events about this task, verified
(their device, this task's segment), from a device that fetched the segment (the
server recorded that fetch itself), and neither received before that fetch nor
stamped long before it (allowing for the workstation's clock being a little off).
Each device's trace is read on its own, in the order it was sent; what they heard
is the union.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from app.domain.coverage import MARKS, Mark, Span, TraceEvent, heard_spans, merge, unheard
from app.wire.schemas import AccessAction, ErrorCode, Outcome
from server import data_classes, db, listen_policy
from server.api.errors import ApiError
from server.api.task_access import TaskAccess

#: How far a workstation's clock may run behind the server's before events stop counting.
CLOCK_SKEW_S = 600
#: At most this many unheard spans are named in one answer (the rest are counted).
MAX_SPANS_SHOWN = 50


def heard_by(
    conn: Connection, task_id: str, segment_id: str, user_id: str, duration_ms: int
) -> list[Span]:
    """The merged spans (ms) of the task's recording ``user_id`` heard.

    Only events about the task's own segment count: context granted around a windowed
    task is another segment, and what was played of it is not the window heard.
    """
    events = db.access_events.c
    fetched: dict[str, float] = {
        str(device): float(at)
        for device, at in conn.execute(
            select(events.device_id, func.min(events.server_time))
            .where(
                events.task_id == task_id, events.segment_id == segment_id,
                events.user_id == user_id, events.source == "server",
                events.action == AccessAction.SEGMENT_FETCHED.value,
                events.outcome == Outcome.OK.value,
            )
            .group_by(events.device_id)
        )
    }  # fmt: skip
    if not fetched:
        return []
    rows = conn.execute(
        select(events.device_id, events.action, events.client_time, events.position_ms,
               events.reason, events.server_time)
        .where(
            events.task_id == task_id,
            events.segment_id.is_(None) | (events.segment_id == segment_id),
            events.user_id == user_id, events.source == "client",
            events.verified.is_(True), events.action.in_(MARKS),
            events.device_id.in_(list(fetched)),
        )
        .order_by(events.device_id, events.seq)
    ).all()  # fmt: skip
    traces: dict[str, list[TraceEvent]] = {}
    for device_id, action, client_time, position_ms, reason, server_time in rows:
        if client_time is None or position_ms is None:
            continue
        fetched_at = fetched[device_id]
        if server_time < fetched_at or client_time < fetched_at - CLOCK_SKEW_S:
            continue  # "heard" before this device ever had the audio
        traces.setdefault(device_id, []).append(
            TraceEvent(Mark(action), float(client_time), int(position_ms), reason)
        )
    spans: list[Span] = []
    for trace in traces.values():
        spans += heard_spans(trace, duration_ms)
    return merge(spans)


def _ms(frames: int, rate: int) -> int:
    return frames * 1000 // max(1, rate)


def refusal_for_submit(
    conn: Connection, access: TaskAccess, user_id: str, segments: list[tuple[int, int]]
) -> ApiError | None:
    """The 409 for a hand-in whose segments (frames) were not all heard, if the policy asks."""
    if not listen_policy.load(conn, access.project_id).submit_coverage or not segments:
        return None
    rate, frames = int(access.segment.sample_rate), int(access.segment.frames)
    heard = heard_by(conn, access.task_id, access.segment_id, user_id, _ms(frames, rate))
    gaps = unheard([(_ms(s, rate), _ms(e, rate)) for s, e in segments], heard)
    if not gaps:
        return None
    return ApiError(
        409, ErrorCode.COVERAGE_INCOMPLETE,
        f"listen to every segment before handing it in: {len(gaps)} span(s) not heard yet",
        reason="coverage_submit", project_id=access.project_id, task_id=access.task_id,
        segment_id=access.segment_id, unheard=gaps[:MAX_SPANS_SHOWN],
    )  # fmt: skip


def refusal_for_accept(conn: Connection, access: TaskAccess, user_id: str) -> ApiError | None:
    """The 409 for an accept by a reviewer who heard less of the recording than required."""
    # The data class sets a floor a project's own policy cannot go below.
    percent = max(
        listen_policy.load(conn, access.project_id).accept_coverage,
        data_classes.controls(data_classes.of_segment(conn, access.segment_id)).min_accept_coverage,
    )
    if percent <= 0:
        return None
    duration = _ms(int(access.segment.frames), int(access.segment.sample_rate))
    heard = heard_by(conn, access.task_id, access.segment_id, user_id, duration)
    gaps = unheard([(0, duration)], heard)
    missing = sum(end - start for start, end in gaps)
    if not gaps or duration - missing >= duration * percent // 100:
        return None
    return ApiError(
        409, ErrorCode.COVERAGE_INCOMPLETE,
        f"listen to {percent}% of the recording before accepting it: "
        f"{100 * (duration - missing) // max(1, duration)}% heard",
        reason="coverage_accept", project_id=access.project_id, task_id=access.task_id,
        segment_id=access.segment_id, unheard=gaps[:MAX_SPANS_SHOWN],
    )  # fmt: skip
