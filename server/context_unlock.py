"""Context unlock: an annotator of a windowed task asks to hear ± N seconds around it.

The ask carries a typed justification (sealed under the project key like a label), is
limited per annotator and task per day, and is audited. By project policy it is granted
at once or waits for a reviewer of the project. A grant cuts the wider stretch of the
source recording as a segment of its own (:func:`server.windows.cut`), released only to
the task's annotator through the same key-grant and stream as the task's own audio.

Defaults (no policy row): up to 10 s either side, no approval, 3 asks a day per task.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from app.wire.schemas import AccessAction
from server import audit, data_classes, db, task_keys, windows
from server.context import ServerContext
from server.ingest import new_id
from server.upsert import upsert

KIND = "context"
DAY_S = 86_400
PENDING, GRANTED, DENIED = "pending", "granted", "denied"


@dataclass(frozen=True)
class ContextPolicy:
    #: Seconds either side of the window an annotator may ask for (0: no unlock).
    max_s: int = 10
    #: A reviewer of the project grants each ask (else it is granted at once).
    approval: bool = False
    #: Asks per annotator and task in any 24 hours.
    per_day: int = 3


DEFAULT = ContextPolicy()


class ContextError(Exception):
    """An ask the rules refuse; ``reason`` is the stable code, ``status`` the HTTP answer."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


def load_policy(conn: Connection, project_id: str) -> ContextPolicy:
    row = conn.execute(
        select(db.context_policies).where(db.context_policies.c.project_id == project_id)
    ).first()
    if row is None:
        return DEFAULT
    return ContextPolicy(int(row.max_s), bool(row.approval), int(row.per_day))


def store_policy(
    conn: Connection, project_id: str, policy: ContextPolicy, actor: audit.Actor
) -> None:
    """Set the rules (audited ``policy_changed``, reason ``context_<s>_<approval>``)."""
    if not 0 <= policy.max_s <= 600 or not 1 <= policy.per_day <= 100:
        raise ValueError("context: 0-600 seconds, 1-100 asks a day")
    values = {
        "project_id": project_id, "max_s": policy.max_s, "approval": policy.approval,
        "per_day": policy.per_day, "updated_at": int(time.time()),
    }  # fmt: skip
    upsert(conn, db.context_policies, ["project_id"], values)
    rule = "approval" if policy.approval else "direct"
    audit.record(
        conn, actor, AccessAction.POLICY_CHANGED, reason=f"context_{policy.max_s}_{rule}",
        project_id=project_id,
    )  # fmt: skip


def check_ask(conn: Connection, task: Any, user_id: str, seconds: int) -> ContextPolicy:
    """Refuse an ask the rules do not allow (called again inside the recording transaction)."""
    window = windows.window_of(conn, task.segment_id)
    if window is None:
        raise ContextError(409, "not_windowed", "the task holds the whole recording already")
    erased = conn.execute(
        select(db.segments.c.id).where(
            db.segments.c.id.in_([task.segment_id, window.source_segment_id]),
            db.segments.c.erased_at.is_not(None),
        )
    ).first()
    if erased is not None:
        raise ContextError(410, "erased", "the recording's audio was erased")
    policy = load_policy(conn, task.project_id)
    data_class = data_classes.of_segment(conn, task.segment_id)
    if not data_classes.controls(data_class).context_unlock:
        raise ContextError(
            403, "class_refused", f"{data_class.value} recordings allow no context unlock"
        )
    if policy.max_s == 0:
        raise ContextError(403, "context_disabled", "the project allows no context unlock")
    if seconds > policy.max_s:
        raise ContextError(
            422, "context_too_long", f"the project allows at most {policy.max_s} s either side"
        )
    recent = conn.execute(
        select(func.count())
        .select_from(db.context_requests)
        .where(
            db.context_requests.c.task_id == task.id,
            db.context_requests.c.user_id == user_id,
            db.context_requests.c.created_at > int(time.time()) - DAY_S,
        )
    ).scalar_one()
    if recent >= policy.per_day:
        raise ContextError(
            429, "rate_limited", f"at most {policy.per_day} context asks a day for one task"
        )
    return policy


def widen(ctx: ServerContext, conn: Connection, task_segment_id: str, seconds: int) -> str:
    """Cut ``seconds`` either side of the task's window (clamped to the recording).

    Call it outside a write transaction: the cut decrypts and encodes the recording and
    commits on its own (the same stretch again is the same cut).
    """
    window = windows.window_of(conn, task_segment_id)
    source = conn.execute(
        select(db.segments).where(db.segments.c.id == window.source_segment_id)
    ).one()
    rate = int(source.sample_rate)
    start = max(0, int(window.start_frame) - seconds * rate)
    end = min(int(source.frames), int(window.end_frame) + seconds * rate)
    return windows.cut(ctx, source.id, start / rate, end / rate).segment_id


def record_ask(
    ctx: ServerContext, conn: Connection, task: Any, user_id: str, seconds: int,
    justification: str, granted: str | None, actor: audit.Actor,
) -> Any:  # fmt: skip
    """Store the ask, granted with segment ``granted`` or pending; audited. Its row."""
    request_id = new_id("ctx")
    project = conn.execute(select(db.projects).where(db.projects.c.id == task.project_id)).one()
    sealed = ctx.vault.seal_record(
        project.id, project.wrapped_key, KIND, task.id, request_id, justification.encode(),
        task_keys.ensure(conn, ctx.vault, task.id),
    )  # fmt: skip
    now = int(time.time())
    conn.execute(
        insert(db.context_requests).values(
            id=request_id, task_id=task.id, user_id=user_id, seconds=seconds,
            sealed_justification=sealed, status=GRANTED if granted else PENDING,
            segment_id=granted, created_at=now, decided_at=now if granted else None,
        )
    )  # fmt: skip
    audit.record(
        conn, actor, AccessAction.CONTEXT_REQUESTED, reason=GRANTED if granted else PENDING,
        project_id=task.project_id, task_id=task.id, segment_id=task.segment_id,
    )  # fmt: skip
    return get(conn, request_id)


def record_decision(
    conn: Connection, request: Any, granted: str | None, reviewer_id: str, actor: audit.Actor
) -> Any:
    """A reviewer's answer to a pending ask (``granted``: the cut, or ``None`` to deny)."""
    moved = conn.execute(
        update(db.context_requests)
        .where(db.context_requests.c.id == request.id, db.context_requests.c.status == PENDING)
        .values(
            status=GRANTED if granted else DENIED,
            segment_id=granted,
            decided_by=reviewer_id,
            decided_at=int(time.time()),
        )
    ).rowcount
    if moved != 1:
        raise ContextError(409, "context_decided", "the ask was already decided")
    task = conn.execute(select(db.tasks).where(db.tasks.c.id == request.task_id)).one()
    audit.record(
        conn, actor, AccessAction.CONTEXT_DECIDED, reason=GRANTED if granted else DENIED,
        project_id=task.project_id, task_id=task.id, segment_id=task.segment_id,
    )  # fmt: skip
    return get(conn, request.id)


def get(conn: Connection, request_id: str) -> Any:
    return conn.execute(
        select(db.context_requests).where(db.context_requests.c.id == request_id)
    ).first()


def of_task(conn: Connection, task_id: str) -> list[Any]:
    return list(
        conn.execute(
            select(db.context_requests)
            .where(db.context_requests.c.task_id == task_id)
            .order_by(db.context_requests.c.created_at, db.context_requests.c.id)
        )
    )


def extent(conn: Connection, request: Any) -> tuple[float, float]:
    """Seconds before and after the window that a granted ask covers (0, 0 until then)."""
    if request.segment_id is None:
        return 0.0, 0.0
    task = conn.execute(select(db.tasks).where(db.tasks.c.id == request.task_id)).one()
    window = windows.window_of(conn, task.segment_id)
    wider = windows.window_of(conn, request.segment_id)
    rate = conn.execute(
        select(db.segments.c.sample_rate).where(db.segments.c.id == task.segment_id)
    ).scalar_one()
    before = (int(window.start_frame) - int(wider.start_frame)) / rate
    after = (int(wider.end_frame) - int(window.end_frame)) / rate
    return before, after


def justification(ctx: ServerContext, conn: Connection, request: Any) -> str:
    if not request.sealed_justification:
        return "(erased)"  # the task's records were erased (server.erasure)
    task = conn.execute(select(db.tasks).where(db.tasks.c.id == request.task_id)).one()
    project = conn.execute(select(db.projects).where(db.projects.c.id == task.project_id)).one()
    return ctx.vault.open_record(
        project.id, project.wrapped_key, KIND, task.id, request.id, request.sealed_justification,
        task.wrapped_key,
    ).decode()  # fmt: skip
