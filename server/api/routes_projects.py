"""Project-level routes for a project's managers: report, policy, and who works on what.

A manager holds no content rights: these answer aggregates, settings, recording titles,
names and statuses only. A caller who is not a member of the project gets 404 (the
project is not revealed); a member in another role 403 ``not_manager``; both are
refusals with a leaf. Assignment rules live in :mod:`server.assignment`; a rule's
refusal is answered with its stable reason.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import Connection, func, select

from app.wire.manage import (
    AssignIn,
    AssignOut,
    ManagedTaskOut,
    MemberOut,
    PolicyIn,
    PolicyOut,
    ProjectTasksOut,
    ReassignIn,
    RecordingOut,
)
from app.wire.report import ReportOut
from app.wire.schemas import ErrorCode, Role, TaskStatus
from server import (
    assignment,
    context_unlock,
    db,
    gold,
    listen_policy,
    report,
    segment_meta,
    windows,
)
from server.api import permissions
from server.api.errors import ApiError
from server.api.params import ProjectId, TaskId
from server.api.permissions import Capability
from server.api.principal import Ctx, CurrentPrincipal, JsonBody, Principal
from server.context import ServerContext

router = APIRouter(prefix="/v1")

#: A refused assignment rule -> (status, code). Unknown ids are 404 like any hidden row.
_REFUSALS = {
    "unknown_recording": (404, ErrorCode.NOT_FOUND),
    "unknown_task": (404, ErrorCode.NOT_FOUND),
    "not_annotator": (422, ErrorCode.INVALID_REQUEST),
    "already_on_recording": (409, ErrorCode.CONFLICT),
    "task_moved": (409, ErrorCode.CONFLICT),
    "erased": (410, ErrorCode.ERASED),
}


def _require_manager(ctx: ServerContext, principal: Principal, project_id: str, why: str) -> None:
    """A manager or administrator of the project (``permissions``: plan)."""
    with ctx.engine.connect() as conn:
        permissions.require(conn, principal, project_id, Capability.PLAN, unknown_reason=why)


def _refusal(exc: assignment.AssignmentError, project_id: str, task_id: str | None) -> ApiError:
    status, code = _REFUSALS.get(exc.code, (409, ErrorCode.TRANSITION_FORBIDDEN))
    return ApiError(status, code, str(exc), reason=exc.code, project_id=project_id,
                    task_id=task_id)  # fmt: skip


@router.get("/projects/{project_id}/report")
def project_report(project_id: ProjectId, principal: CurrentPrincipal, ctx: Ctx) -> ReportOut:
    """The project's quality figures (aggregates only); making it is audited.

    A plain function: FastAPI runs it on its thread pool, off the event loop (opening
    every handed-in document and the agreement libraries take a while).
    """
    _require_manager(ctx, principal, project_id, "report_read")
    return report.project_report(ctx, project_id, principal.actor())


def _policy(conn: Connection, project_id: str, added: int = 0, tasks: int = 0) -> PolicyOut:
    listen = listen_policy.load(conn, project_id)
    unlock = context_unlock.load_policy(conn, project_id)
    return PolicyOut(
        project_id=project_id, submit_coverage=listen.submit_coverage,
        accept_coverage=listen.accept_coverage, gold_rate=gold.load_rate(conn, project_id),
        context_max_s=unlock.max_s, context_approval=unlock.approval,
        annotations_per_recording=assignment.load_per_recording(conn, project_id),
        tasks_added=tasks, gold_tasks_added=added,
    )  # fmt: skip


@router.put("/projects/{project_id}/policy", dependencies=[JsonBody])
def set_policy(
    project_id: ProjectId, body: PolicyIn, principal: CurrentPrincipal, ctx: Ctx
) -> PolicyOut:
    """What must have been heard before a hand-in and an accept, the gold rate and the
    context-unlock rules; each change audited."""
    _require_manager(ctx, principal, project_id, "policy_set")
    actor = principal.actor()
    policy = listen_policy.ListenPolicy(body.submit_coverage, body.accept_coverage)
    listen_policy.apply(ctx.engine, project_id, policy, actor)
    with ctx.engine.begin() as conn:
        added = []
        if body.gold_rate is not None and body.gold_rate != gold.load_rate(conn, project_id):
            added = assignment.set_gold_rate(conn, project_id, body.gold_rate, actor)
        was = context_unlock.load_policy(conn, project_id)
        unlock = context_unlock.ContextPolicy(
            was.max_s if body.context_max_s is None else body.context_max_s,
            was.approval if body.context_approval is None else body.context_approval,
            was.per_day,
        )
        if unlock != was:
            context_unlock.store_policy(conn, project_id, unlock, actor)
        tasks = 0
        per = body.annotations_per_recording
        if per is not None and per != assignment.load_per_recording(conn, project_id):
            tasks = assignment.set_per_recording(conn, project_id, per, actor)
        return _policy(conn, project_id, len(added), tasks)


@router.get("/projects/{project_id}/tasks")
def project_tasks(project_id: ProjectId, principal: CurrentPrincipal, ctx: Ctx) -> ProjectTasksOut:
    """Every task of the project with its annotator and status, the recordings, the
    annotators and the policy: what a manager plans assignments with (no content)."""
    _require_manager(ctx, principal, project_id, "project_tasks")
    with ctx.engine.connect() as conn:
        project = conn.execute(select(db.projects).where(db.projects.c.id == project_id)).one()
        name = project.name
        rows = conn.execute(
            select(
                db.tasks,
                db.segments.c.title,
                db.segments.c.sealed_title,
                db.segments.c.erased_at.label("segment_erased_at"),
                db.users.c.display_name,
                db.gold_tasks.c.gold_id,
            )
            .join(db.segments, db.segments.c.id == db.tasks.c.segment_id)
            .join(db.users, db.users.c.id == db.tasks.c.assignee_id)
            .outerjoin(db.gold_tasks, db.gold_tasks.c.task_id == db.tasks.c.id)
            .where(db.tasks.c.project_id == project_id)
            .order_by(db.tasks.c.created_at, db.tasks.c.id)
        ).all()
        counts = (
            select(db.tasks.c.segment_id, func.count().label("n"))
            .group_by(db.tasks.c.segment_id)
            .subquery()
        )
        recordings = conn.execute(
            select(db.segments, counts.c.n, db.gold_answers.c.id.label("gold_id"))
            .outerjoin(counts, counts.c.segment_id == db.segments.c.id)
            .outerjoin(db.gold_answers, db.gold_answers.c.segment_id == db.segments.c.id)
            .where(
                db.segments.c.project_id == project_id,
                db.segments.c.erased_at.is_(None),  # nothing left to assign
                # a stretch granted as context is one annotator's, not a recording to assign
                db.segments.c.id.not_in(
                    select(db.context_requests.c.segment_id).where(
                        db.context_requests.c.segment_id.is_not(None)
                    )
                ),
            )
            .order_by(db.segments.c.id)
        ).all()
        annotators = conn.execute(
            select(db.users.c.id, db.users.c.display_name)
            .join(db.memberships, db.memberships.c.user_id == db.users.c.id)
            .where(
                db.memberships.c.project_id == project_id,
                db.memberships.c.role == Role.ANNOTATOR.value,
            )
            .order_by(db.users.c.display_name, db.users.c.id)
        ).all()
        policy = _policy(conn, project_id)

    def title(segment_id: str, r: Any, erased_at: int | None) -> str:
        return segment_meta.opened_title(
            ctx.vault, project_id, project.wrapped_key, segment_id, r.title, r.sealed_title,
            erased_at,
        )  # fmt: skip

    # Titles are sealed: sorted here, not in SQL.
    task_titles = {r.id: title(r.segment_id, r, r.segment_erased_at) for r in rows}
    rows = sorted(rows, key=lambda r: (r.created_at, task_titles[r.id], r.id))
    recording_titles = {r.id: title(r.id, r, r.erased_at) for r in recordings}
    recordings = sorted(recordings, key=lambda r: (recording_titles[r.id], r.id))
    return ProjectTasksOut(
        project_id=project_id,
        project_name=name,
        tasks=[
            ManagedTaskOut(
                task_id=r.id,
                segment_id=r.segment_id,
                title=task_titles[r.id],
                assignee_id=r.assignee_id,
                assignee_name=r.display_name,
                status=TaskStatus(r.status),
                gold=r.gold_id is not None,
                created_at=r.created_at,
            )
            for r in rows
        ],
        recordings=[
            RecordingOut(
                segment_id=r.id,
                title=recording_titles[r.id],
                duration_s=r.frames / r.sample_rate,
                tasks=r.n or 0,
                gold=r.gold_id is not None,
            )
            for r in recordings
        ],
        annotators=[MemberOut(user_id=r.id, name=r.display_name) for r in annotators],
        policy=policy,
    )


@router.post("/projects/{project_id}/assignments", status_code=201, dependencies=[JsonBody])
def assign(
    project_id: ProjectId, body: AssignIn, principal: CurrentPrincipal, ctx: Ctx
) -> AssignOut:
    """A new task on one of the project's recordings (or a window of one, cut here) for one
    of its annotators; audited. A plain function: a cut decrypts and encodes off the loop."""
    _require_manager(ctx, principal, project_id, "assign")
    with ctx.engine.connect() as conn:
        in_project = conn.execute(
            select(db.segments.c.id).where(
                db.segments.c.id == body.segment_id, db.segments.c.project_id == project_id
            )
        ).scalar()
    segment_id = body.segment_id
    try:
        if in_project is None:
            raise assignment.AssignmentError("unknown_recording", "no such recording")
        if body.start_s is not None and body.end_s is not None:
            with ctx.engine.connect() as conn:  # before cutting: a refusal leaves no window
                assignment.check_annotator(conn, project_id, body.assignee_id)
            segment_id = windows.cut(ctx, segment_id, body.start_s, body.end_s).segment_id
        with ctx.engine.begin() as conn:
            made = assignment.assign(conn, segment_id, body.assignee_id, principal.actor())
    except windows.WindowError as exc:
        raise ApiError(422, ErrorCode.INVALID_REQUEST, str(exc), reason="window_invalid",
                       project_id=project_id) from exc  # fmt: skip
    except assignment.AssignmentError as exc:
        raise _refusal(exc, project_id, None) from exc
    return AssignOut(task_id=made.task_id, assignee_id=body.assignee_id,
                     gold_tasks_added=len(made.gold_task_ids))  # fmt: skip


@router.put("/projects/{project_id}/tasks/{task_id}/assignee", dependencies=[JsonBody])
def reassign(
    project_id: ProjectId, task_id: TaskId, body: ReassignIn, principal: CurrentPrincipal,
    ctx: Ctx,
) -> AssignOut:  # fmt: skip
    """Hand a task that is not handed in (or was rejected) to another annotator; audited."""
    _require_manager(ctx, principal, project_id, "reassign")
    with ctx.engine.begin() as conn:
        in_project = conn.execute(
            select(db.tasks.c.id).where(
                db.tasks.c.id == task_id, db.tasks.c.project_id == project_id
            )
        ).scalar()
        try:
            if in_project is None:
                raise assignment.AssignmentError("unknown_task", "no such task")
            added = assignment.reassign(conn, task_id, body.assignee_id, principal.actor())
        except assignment.AssignmentError as exc:
            raise _refusal(exc, project_id, task_id) from exc
    return AssignOut(task_id=task_id, assignee_id=body.assignee_id,
                     gold_tasks_added=len(added))  # fmt: skip
