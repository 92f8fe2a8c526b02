"""Which task a caller may touch, and how: the one place task authorisation lives.

An annotator sees the tasks assigned to them; a reviewer sees every submitted
task of the projects they review. Anything else is answered 404 (existence is
not revealed) and recorded as a refused access in its own transaction.
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


def load_task(ctx: ServerContext, principal: Principal, task_id: str, why: str) -> TaskAccess:
    """Return the task if the caller may access it; otherwise audit a refusal and 404."""
    with ctx.engine.connect() as conn:
        task = conn.execute(select(db.tasks).where(db.tasks.c.id == task_id)).first()
        role = membership_role(conn, principal.user_id, task.project_id) if task else None
        if task is not None and may_access(role, principal, task.assignee_id, task.status):
            segment = conn.execute(
                select(db.segments).where(db.segments.c.id == task.segment_id)
            ).one()
            project = conn.execute(
                select(db.projects).where(db.projects.c.id == task.project_id)
            ).one()
            if role is not None:
                return TaskAccess(task, segment, project, role)
    return refuse(ctx, principal, task_id, why)


def refuse(ctx: ServerContext, principal: Principal, task_id: str, why: str) -> NoReturn:
    """Record a refused access (committed on its own) and answer 404."""
    with ctx.engine.begin() as conn:
        audit.record(
            conn,
            principal.actor(),
            AccessAction.ACCESS_REFUSED,
            outcome=Outcome.REFUSED,
            reason=why,
            task_id=task_id[:64],
        )
    raise ApiError(404, ErrorCode.NOT_FOUND, "no such task")
