"""The task lifecycle on the server: every step checked against one table and recorded.

:mod:`app.domain.lifecycle` says which step goes from which status to which and who
may take it; this module finds who the caller is to the task (its annotator, a
reviewer who did not annotate it, the reviewer holding it), refuses what the table
forbids (403 for the wrong person, 409 for the wrong moment, each with an audit leaf
through the usual refusal path), and writes the step: a numbered ``task_transitions``
row, the task's new status (guarded by its old one, so two reviewers racing for the
same task cannot both win) and a ``task_transitioned`` leaf in the same transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, select, update

from app.domain.lifecycle import Party, Step, forbidden_words, next_status, party_of
from app.wire.schemas import AccessAction, ErrorCode, Role, TaskStatus
from server import audit, db, task_keys
from server.api.errors import ApiError
from server.api.task_access import TaskAccess
from server.context import ServerContext
from server.ingest import new_id

#: The sealing context of a transition's reason (see ``KeyVault.seal_record``).
REASON_KIND = "transition_reason"


@dataclass(frozen=True)
class Transition:
    seq: int
    from_status: TaskStatus
    to_status: TaskStatus


def holder(conn: Connection, task_id: str) -> str | None:
    """The reviewer holding the task in review (who took the newest ``claim``), if any."""
    status = conn.execute(select(db.tasks.c.status).where(db.tasks.c.id == task_id)).scalar_one()
    if status != TaskStatus.IN_REVIEW.value:
        return None
    return conn.execute(
        select(db.task_transitions.c.actor_id)
        .where(
            db.task_transitions.c.task_id == task_id,
            db.task_transitions.c.step == Step.CLAIM.value,
        )
        .order_by(db.task_transitions.c.seq.desc())
        .limit(1)
    ).scalar_one_or_none()


def parties(conn: Connection, access: TaskAccess, user_id: str) -> frozenset[Party]:
    """What the caller stands as to this task (possibly nothing)."""
    found: set[Party] = set()
    if access.role is Role.ANNOTATOR and access.task.assignee_id == user_id:
        found.add(Party.ASSIGNEE)
    if access.role is Role.REVIEWER and access.task.assignee_id != user_id:
        found.add(Party.REVIEWER)
        if holder(conn, access.task_id) == user_id:
            found.add(Party.HOLDER)
    return frozenset(found)


def newest_handed_in(conn: Connection, task_id: str) -> int | None:
    """The newest revision that is not a draft (what a reviewer judges)."""
    return conn.execute(
        select(func.max(db.labels.c.revision))
        .select_from(db.labels.outerjoin(db.label_revisions))
        .where(
            db.labels.c.task_id == task_id,
            # A label stored before revisions were described counts as handed in.
            func.coalesce(db.label_revisions.c.draft, False).is_(False),
        )
    ).scalar_one_or_none()


def _status(conn: Connection, access: TaskAccess) -> TaskStatus:
    """The task's status now (inside the request's transaction)."""
    return TaskStatus(conn.execute(
        select(db.tasks.c.status).where(db.tasks.c.id == access.task_id)
    ).scalar_one())  # fmt: skip


def check(conn: Connection, access: TaskAccess, user_id: str, step: Step) -> TaskStatus:
    """The status ``step`` leads to; refuses (403/409) what the lifecycle forbids."""
    return _checked(conn, access, user_id, step)[1]


def _checked(
    conn: Connection, access: TaskAccess, user_id: str, step: Step
) -> tuple[TaskStatus, TaskStatus]:
    """(status now, status after ``step``), or the refusal."""
    party = party_of(step)
    status = _status(conn, access)
    if party not in parties(conn, access, user_id):
        if party is Party.ASSIGNEE:
            message, reason = "only the assigned annotator does this", "not_assignee"
        elif access.role is Role.REVIEWER and access.task.assignee_id == user_id:
            message, reason = "a reviewer does not review their own work", "own_work"
        elif party is Party.HOLDER and access.role is Role.REVIEWER:
            raise _forbidden_moment(access, step, status, "task_not_held")
        else:
            message, reason = "only a reviewer of this project does this", "not_reviewer"
        access.refuse(403, ErrorCode.FORBIDDEN, message, reason)
    target = next_status(status, step)
    if target is None:
        raise _forbidden_moment(access, step, status, f"{step.value}_from_{status.value}")
    return status, target


def _forbidden_moment(access: TaskAccess, step: Step, status: TaskStatus, reason: str) -> ApiError:
    words = forbidden_words(status, step)
    if reason == "task_not_held":
        held = status is TaskStatus.IN_REVIEW
        words = "another reviewer holds this task" if held else "take the task for review first"
    return access.refusal(409, ErrorCode.TRANSITION_FORBIDDEN, words, reason[:64])


def apply(
    ctx: ServerContext,
    conn: Connection,
    access: TaskAccess,
    actor: audit.Actor,
    step: Step,
    *,
    revision: int | None = None,
    reason: str | None = None,
) -> Transition:
    """Take ``step`` (checked first): a numbered transition, the new status, one leaf."""
    user_id = str(actor.user_id)
    current, target = _checked(conn, access, user_id, step)
    moved = conn.execute(
        update(db.tasks)
        .where(db.tasks.c.id == access.task_id, db.tasks.c.status == current.value)
        .values(status=target.value)
    )
    if moved.rowcount != 1:  # pragma: no cover - the write lock makes this unreachable on SQLite
        raise ApiError(409, ErrorCode.CONFLICT, "the task changed meanwhile; try again")
    seq = 1 + (conn.execute(
        select(func.coalesce(func.max(db.task_transitions.c.seq), 0))
        .where(db.task_transitions.c.task_id == access.task_id)
    ).scalar_one())  # fmt: skip
    transition_id = new_id("trn")
    sealed = None
    if reason is not None:
        sealed = ctx.vault.seal_record(
            access.project_id, access.project.wrapped_key, REASON_KIND, access.task_id,
            transition_id, reason.encode("utf-8"),
            task_keys.ensure(conn, ctx.vault, access.task_id),
        )  # fmt: skip
    conn.execute(
        insert(db.task_transitions).values(
            id=transition_id, task_id=access.task_id, seq=seq, step=step.value,
            from_status=current.value, to_status=target.value, actor_id=user_id,
            actor_role=access.role.value, revision=revision, sealed_reason=sealed,
            created_at=int(time.time()),
        )
    )  # fmt: skip
    audit.record(
        conn, actor, AccessAction.TASK_TRANSITIONED, reason=step.value,
        project_id=access.project_id, task_id=access.task_id, segment_id=access.segment_id,
    )  # fmt: skip
    return Transition(seq, current, target)
