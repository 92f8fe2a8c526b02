"""Ingest one batch of client access events (inside a group-commit savepoint).

Events are de-duplicated by their UUID, so a retried batch is harmless: an
event already stored counts as a duplicate and gets no second leaf. Rows and
leaves are written with one statement each per batch (not per event). An event
naming a task the caller may not see is still kept — losing it would hide an
attempt — but marked unverified and stripped of the project attribution.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from app.wire.schemas import AccessEventIn, EventBatchAck, LogRange
from server import db, dialect, sequences
from server.api.principal import Principal, membership_role
from server.api.task_access import device_of, is_gold, may_access
from server.auditlog import store


def ingest(
    conn: Connection, principal: Principal, events: Sequence[AccessEventIn]
) -> EventBatchAck:
    """Store the new events of a batch and their leaves; return the acknowledgement.

    Runs inside the group committer's transaction, which holds the write lock
    (:func:`server.dialect.begin_write`).
    """
    now = time.time()
    device_id = device_of(conn, principal)
    unique: dict[str, AccessEventIn] = {}
    for event in events:
        unique.setdefault(event.event_id, event)
    known = set(
        conn.execute(
            select(db.access_events.c.event_id).where(db.access_events.c.event_id.in_(unique))
        ).scalars()
    )
    fresh = [e for e in unique.values() if e.event_id not in known]
    if not fresh:
        return EventBatchAck(accepted=0, duplicates=len(events))
    visible: dict[str, tuple[str, frozenset[str]] | None] = {}
    rows = [_row(conn, principal, device_id, e, now, visible) for e in fresh]
    # Row numbers are assigned here, not by RETURNING: SQLAlchemy runs an ordered
    # RETURNING insert on SQLite one row at a time. The caller's transaction holds
    # the write lock, so max(seq) cannot move meanwhile.
    first = dialect.reserve_numbers(conn, "access_events", "seq", len(rows))
    for offset, row in enumerate(rows):
        row["seq"] = first + offset
    columns = list(rows[0])
    dialect.insert_rows(conn, "access_events", columns, [[row[c] for c in columns] for row in rows])
    ranges = store.append_many(conn, [(row["seq"], row) for row in rows])
    sequences.observe(conn, principal.actor(device_id), (e.seq for e in fresh))
    return EventBatchAck(
        accepted=len(fresh),
        duplicates=len(events) - len(fresh),
        logs=[LogRange(log_id=log, first_index=first, count=n) for log, first, n in ranges],
    )


def _row(
    conn: Connection,
    principal: Principal,
    device_id: str | None,
    event: AccessEventIn,
    now: float,
    visible: dict[str, tuple[str, frozenset[str]] | None],
) -> dict[str, Any]:
    project_id = None
    verified = event.task_id is None
    if event.task_id is not None:
        if event.task_id not in visible:
            visible[event.task_id] = _visible_task(conn, principal, event.task_id)
        found = visible[event.task_id]
        if found is not None:
            project_id, segments = found
            verified = event.segment_id is None or event.segment_id in segments
    return {
        "event_id": event.event_id,
        "source": "client",
        "action": event.action.value,
        "outcome": event.outcome.value,
        "reason": event.reason,
        "user_id": principal.user_id,
        "device_id": device_id,
        "project_id": project_id,
        "task_id": event.task_id,
        "segment_id": event.segment_id,
        "position_ms": event.position_ms,
        "verified": verified,
        "client_time": event.client_time,
        "server_time": now,
        "remote_addr": principal.remote_addr,
    }


def _visible_task(
    conn: Connection, principal: Principal, task_id: str
) -> tuple[str, frozenset[str]] | None:
    """(project, segments) of a task the caller may see, else ``None``: its own segment and
    the context stretches granted around it (playing those is an event about the task)."""
    task = conn.execute(select(db.tasks).where(db.tasks.c.id == task_id)).first()
    if task is None:
        return None
    role = membership_role(conn, principal.user_id, task.project_id)
    if not may_access(role, principal, task.assignee_id, task.status, gold=is_gold(conn, task_id)):
        return None
    granted = conn.execute(
        select(db.context_requests.c.segment_id).where(
            db.context_requests.c.task_id == task_id, db.context_requests.c.segment_id.is_not(None)
        )
    ).scalars()
    return str(task.project_id), frozenset({str(task.segment_id), *map(str, granted)})
