"""Client access-event batches.

Events are de-duplicated by their UUID (a retried batch is harmless). An event
naming a task the caller may not see is still kept — losing it would hide an
attempt — but marked unverified and stripped of the project attribution.
"""

from __future__ import annotations

import time

from fastapi import APIRouter
from sqlalchemy import Connection, select

from app.wire.schemas import CLIENT_ACTIONS, ErrorCode, EventBatchAck, EventBatchIn
from server import audit, db
from server.api.errors import ApiError
from server.api.principal import (
    Ctx,
    CurrentPrincipal,
    JsonBody,
    Principal,
    membership_role,
)
from server.api.task_access import may_access
from server.auditlog.checkpoints import EVERY_ENTRIES

router = APIRouter(prefix="/v1")


@router.post("/events", dependencies=[JsonBody])
def post_events(body: EventBatchIn, principal: CurrentPrincipal, ctx: Ctx) -> EventBatchAck:
    if any(e.action not in CLIENT_ACTIONS for e in body.events):
        raise ApiError(422, ErrorCode.INVALID_REQUEST, "server-side actions cannot be reported")
    now = time.time()
    accepted = 0
    boundary = False
    with ctx.engine.begin() as conn:
        device_id = principal.device_header
        if device_id is not None:
            owner = conn.execute(
                select(db.devices.c.user_id).where(db.devices.c.id == device_id)
            ).scalar()
            if owner != principal.user_id:
                device_id = None
        visible: dict[str, tuple[str, str] | None] = {}
        for event in body.events:
            project_id = segment_id = None
            verified = event.task_id is None
            if event.task_id is not None:
                if event.task_id not in visible:
                    visible[event.task_id] = _visible_task(conn, principal, event.task_id)
                found = visible[event.task_id]
                if found is not None:
                    project_id, segment_id = found
                    verified = event.segment_id in (None, segment_id)
            inserted = audit.insert_event(
                conn,
                {
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
                },
            )
            if inserted is not None:
                accepted += 1
                boundary |= (inserted[1] + 1) % EVERY_ENTRIES == 0
    if boundary:
        ctx.checkpointer.run_once()  # committed above: sign and export the new sizes
    return EventBatchAck(accepted=accepted, duplicates=len(body.events) - accepted)


def _visible_task(conn: Connection, principal: Principal, task_id: str) -> tuple[str, str] | None:
    """(project, segment) of a task the caller may see, else ``None``."""
    task = conn.execute(select(db.tasks).where(db.tasks.c.id == task_id)).first()
    if task is None:
        return None
    role = membership_role(conn, principal.user_id, task.project_id)
    if not may_access(role, principal, task.assignee_id, task.status):
        return None
    return str(task.project_id), str(task.segment_id)
