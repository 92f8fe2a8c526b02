"""Which task and device a caller may use: the one place task authorisation lives.

An annotator sees the tasks assigned to them; a reviewer sees every submitted
task of the projects they review. A task outside that is answered 404
(existence is not revealed); a visible task used in a way the role does not
allow, or with a device that is not the caller's, is answered 403. Every
refusal is recorded as ``access_refused`` in its own transaction, so it stays
recorded although the request's own transaction rolls back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from sqlalchemy import Connection, Row, select

from app.wire.schemas import AccessAction, ErrorCode, Outcome, Role, TaskStatus
from server import audit, db
from server.api.errors import ApiError
from server.api.principal import Principal, membership_role
from server.context import ServerContext


@dataclass(frozen=True)
class TaskAccess:
    task: Row[tuple[object, ...]]
    segment: Row[tuple[object, ...]]
    project: Row[tuple[object, ...]]
    role: Role

    @property
    def task_id(self) -> str:
        return str(self.task.id)

    @property
    def project_id(self) -> str:
        return str(self.project.id)

    @property
    def segment_id(self) -> str:
        return str(self.segment.id)

    def record(self, conn: Connection, actor: audit.Actor, action: AccessAction) -> None:
        """Record ``action`` on this task inside the caller's transaction."""
        audit.record(
            conn,
            actor,
            action,
            project_id=self.project_id,
            task_id=self.task_id,
            segment_id=self.segment_id,
        )


def may_access(role: Role | None, principal: Principal, assignee_id: str, status: str) -> bool:
    """The visibility rule, shared by the task list and every task route."""
    if role is Role.ANNOTATOR:
        return assignee_id == principal.user_id
    if role is Role.REVIEWER:
        return status == TaskStatus.SUBMITTED.value
    return False


def load_task(
    ctx: ServerContext,
    principal: Principal,
    task_id: str,
    why: str,
    conn: Connection | None = None,
) -> TaskAccess:
    """The task if the caller may see it (checked on ``conn`` when given); else refuse 404."""
    if conn is None:
        with ctx.engine.connect() as own:
            return load_task(ctx, principal, task_id, why, own)
    task = conn.execute(select(db.tasks).where(db.tasks.c.id == task_id)).first()
    role = membership_role(conn, principal.user_id, task.project_id) if task else None
    if (
        task is None
        or role is None
        or not may_access(role, principal, task.assignee_id, task.status)
    ):
        refuse(ctx, principal, 404, ErrorCode.NOT_FOUND, "no such task", why, task_id)
    segment = conn.execute(select(db.segments).where(db.segments.c.id == task.segment_id)).one()
    project = conn.execute(select(db.projects).where(db.projects.c.id == task.project_id)).one()
    return TaskAccess(task, segment, project, role)


def active_device(
    ctx: ServerContext, conn: Connection, principal: Principal, task_id: str | None = None
) -> str:
    """The device named in ``X-Cordon-Device``: it must be the caller's and not revoked."""
    device_id = principal.device_header
    if not device_id:
        refuse(
            ctx, principal, 400, ErrorCode.UNKNOWN_DEVICE,
            "X-Cordon-Device header is required", "device_missing", task_id,
        )  # fmt: skip
    row = conn.execute(
        select(db.devices.c.user_id, db.devices.c.revoked_at).where(db.devices.c.id == device_id)
    ).first()
    if row is None or row.user_id != principal.user_id or row.revoked_at is not None:
        refuse(
            ctx, principal, 403, ErrorCode.UNKNOWN_DEVICE,
            "device is not enrolled for this user", "device_not_enrolled", task_id,
        )  # fmt: skip
    return device_id


def refuse(
    ctx: ServerContext,
    principal: Principal,
    status: int,
    code: ErrorCode,
    message: str,
    reason: str,
    task_id: str | None = None,
) -> NoReturn:
    """Commit an ``access_refused`` event on its own, then answer with the error."""
    with ctx.engine.begin() as conn:
        audit.record(
            conn,
            principal.actor(),
            AccessAction.ACCESS_REFUSED,
            outcome=Outcome.REFUSED,
            reason=reason,
            task_id=task_id[:64] if task_id else None,
        )
    raise ApiError(status, code, message)
