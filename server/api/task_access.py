"""Which task and device a caller may use: the one place task authorisation lives.

An annotator sees the tasks assigned to them; a reviewer sees every handed-in
task (submitted, in review, decided) of the projects they review. A task outside
that is answered 404 (existence is not revealed); a visible task used in a way the
role does not allow, or with a device that is missing, revoked or not the
caller's, is answered 400/403; what the lifecycle forbids is answered by
:mod:`server.api.task_lifecycle`. Every refusal is raised as an :class:`ApiError`; the error
handler records it as ``access_refused`` after the request's transaction has
rolled back (:mod:`server.api.refusals`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import Connection, Row, select

from app.domain.lifecycle import REVIEWABLE
from app.wire.schemas import AccessAction, ErrorCode, Role, TaskStatus
from server import audit, db
from server.api import permissions
from server.api.errors import ApiError
from server.api.permissions import Capability
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

    def refuse(self, status: int, code: ErrorCode, message: str, reason: str) -> NoReturn:
        """Refuse a use of this (visible) task; the record is attributed to it."""
        raise self.refusal(status, code, message, reason)

    def refusal(
        self, status: int, code: ErrorCode, message: str, reason: str, *, path: str | None = None
    ) -> ApiError:
        """The error refusing a use of this task (``path``: where in the body the problem is)."""
        return ApiError(
            status, code, message, reason=reason, path=path,
            project_id=self.project_id, task_id=self.task_id, segment_id=self.segment_id,
        )  # fmt: skip

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


def may_access(
    role: Role | None, principal: Principal, assignee_id: str, status: str, *, gold: bool
) -> bool:
    """The visibility rule, shared by the task list and every task route.

    A gold task (:mod:`server.gold`) is its annotator's like any other, and no
    reviewer's: its hand-ins are scored against the known answer instead.
    """
    if permissions.may(role, Capability.ANNOTATE):
        return assignee_id == principal.user_id
    if permissions.may(role, Capability.REVIEW):
        # Their own work stays visible to a reviewer (it is theirs), but reviewing it is
        # refused by the lifecycle (``own_work``) and the queue leaves it out.
        return not gold and TaskStatus(status) in REVIEWABLE
    return False


def is_gold(conn: Connection, task_id: str) -> bool:
    return (
        conn.execute(
            select(db.gold_tasks.c.task_id).where(db.gold_tasks.c.task_id == task_id)
        ).first()
        is not None
    )


def load_task(
    ctx: ServerContext,
    principal: Principal,
    task_id: str,
    why: str,
    conn: Connection | None = None,
) -> TaskAccess:
    """The task if the caller may see it (checked on ``conn`` when given); else refuse 404.

    A refused task that exists is attributed to its project's log (its auditors
    should see the attempt); the caller still cannot tell it exists.
    """
    if conn is None:
        with ctx.engine.connect() as own:
            return load_task(ctx, principal, task_id, why, own)
    task = conn.execute(select(db.tasks).where(db.tasks.c.id == task_id)).first()
    role = membership_role(conn, principal.user_id, task.project_id) if task else None
    if (
        task is None
        or role is None
        or not may_access(
            role, principal, task.assignee_id, task.status, gold=is_gold(conn, task_id)
        )
    ):
        raise ApiError(
            404, ErrorCode.NOT_FOUND, "no such task", reason=why,
            project_id=task.project_id if task else None, task_id=task_id,
        )  # fmt: skip
    segment = conn.execute(select(db.segments).where(db.segments.c.id == task.segment_id)).one()
    project = conn.execute(select(db.projects).where(db.projects.c.id == task.project_id)).one()
    return TaskAccess(task, segment, project, role)


@dataclass(frozen=True)
class ActiveDevice:
    device_id: str
    managed: bool


def active_device(conn: Connection, principal: Principal, access: TaskAccess | None = None) -> str:
    """The caller's approved device on this workstation (see :func:`approved_device`)."""
    return approved_device(conn, principal, access).device_id


def approved_device(
    conn: Connection, principal: Principal, access: TaskAccess | None = None
) -> ActiveDevice:
    """The caller's device on this workstation: enrolled for them with the proving key,
    and approved.

    The device is whichever enrolment is bound to the key that signed the
    request's DPoP proof; nothing the client names can point elsewhere. One that
    waits for an administrator's approval gets 403 ``device_pending``.
    """
    project_id = access.project_id if access is not None else None
    task_id = access.task_id if access is not None else None
    row = _device_row(conn, principal)
    if row is None:
        raise ApiError(
            403, ErrorCode.UNKNOWN_DEVICE, "this workstation is not enrolled for this user",
            reason="device_not_enrolled", project_id=project_id, task_id=task_id,
        )  # fmt: skip
    if row.state == "pending":
        raise ApiError(
            403, ErrorCode.DEVICE_PENDING,
            "this workstation waits for an administrator's approval",
            reason="device_pending", project_id=project_id, task_id=task_id,
        )  # fmt: skip
    return ActiveDevice(str(row.id), bool(row.managed))


def device_of(conn: Connection, principal: Principal) -> str | None:
    """The newest active device of the caller bound to the proving key, if any."""
    row = _device_row(conn, principal)
    return str(row.id) if row is not None else None


def _device_row(conn: Connection, principal: Principal) -> Any:
    return conn.execute(
        select(db.devices.c.id, db.devices.c.state, db.devices.c.managed)
        .where(
            db.devices.c.user_id == principal.user_id,
            db.devices.c.jkt == principal.jkt,
            db.devices.c.revoked_at.is_(None),
        )
        .order_by(db.devices.c.created_at.desc(), db.devices.c.id.desc())
        .limit(1)
    ).first()
