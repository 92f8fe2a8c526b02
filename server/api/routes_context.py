"""Context unlock routes: an annotator asks, a reviewer decides, the granted audio goes out.

* ``POST /v1/tasks/{id}/context`` — the task's annotator asks for ± N s with a reason;
  granted at once or pending, by project policy (:mod:`server.context_unlock`).
* ``GET /v1/tasks/{id}/context`` — the task's asks and what each came to.
* ``GET /v1/review/context`` — pending asks in the projects the caller reviews, with
  their reasons (reading them is a ``review_read`` leaf).
* ``POST /v1/context/{id}/decision`` — a reviewer of the project grants or denies.
* ``POST /v1/tasks/{id}/context/{request}/key-grant`` and ``GET .../segment`` — the
  granted stretch, to the task's annotator only, through :mod:`segment_delivery`.

A refusal is an :class:`ApiError` with the rule's reason, recorded after rollback.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from sqlalchemy import Connection, select

from app.wire.context import (
    ContextDecisionIn,
    ContextIn,
    ContextListOut,
    ContextOut,
    PendingContextListOut,
    PendingContextOut,
)
from app.wire.schemas import AccessAction, ErrorCode, KeyGrantOut, Role
from server import audit, context_unlock, db, segment_meta
from server.api import segment_delivery
from server.api.errors import ApiError
from server.api.params import TaskId
from server.api.principal import Ctx, CurrentPrincipal, JsonBody, Principal, membership_role
from server.api.task_access import TaskAccess, load_task
from server.context import ServerContext

router = APIRouter(prefix="/v1")

_CODES = {
    403: ErrorCode.FORBIDDEN, 409: ErrorCode.CONFLICT, 422: ErrorCode.INVALID_REQUEST,
    410: ErrorCode.ERASED, 429: ErrorCode.RATE_LIMITED,
}  # fmt: skip


def _refusal(exc: context_unlock.ContextError, access: TaskAccess) -> ApiError:
    code = ErrorCode.CLASS_REFUSED if exc.reason == "class_refused" else _CODES[exc.status]
    return access.refusal(exc.status, code, str(exc), exc.reason)


def _out(conn: Connection, row: Any) -> ContextOut:
    before, after = context_unlock.extent(conn, row)
    return ContextOut(
        request_id=row.id, task_id=row.task_id, seconds=row.seconds, status=row.status,
        segment_id=row.segment_id,
        before_s=before, after_s=after, created_at=row.created_at, decided_at=row.decided_at,
    )  # fmt: skip


def _annotator(ctx: ServerContext, principal: Principal, task_id: str, why: str) -> TaskAccess:
    access = load_task(ctx, principal, task_id, why)
    if access.role is not Role.ANNOTATOR:
        access.refuse(403, ErrorCode.FORBIDDEN, "only the task's annotator asks for context",
                      "not_assignee")  # fmt: skip
    return access


@router.post("/tasks/{task_id}/context", dependencies=[JsonBody])
def ask_context(
    task_id: TaskId, body: ContextIn, principal: CurrentPrincipal, ctx: Ctx
) -> ContextOut:
    """Ask for ``seconds`` either side of the window; the cut (if granted now) is made first,
    outside the write transaction, since it decrypts and encodes the recording."""
    access = _annotator(ctx, principal, task_id, "context_ask")
    granted = None
    try:
        with ctx.engine.connect() as conn:
            policy = context_unlock.check_ask(conn, access.task, principal.user_id, body.seconds)
            if not policy.approval:
                granted = context_unlock.widen(ctx, conn, access.segment_id, body.seconds)
        with ctx.transaction() as conn:
            context_unlock.check_ask(conn, access.task, principal.user_id, body.seconds)
            row = context_unlock.record_ask(
                ctx, conn, access.task, principal.user_id, body.seconds, body.justification,
                granted, principal.actor(),
            )  # fmt: skip
            return _out(conn, row)
    except context_unlock.ContextError as exc:
        raise _refusal(exc, access) from exc


@router.get("/tasks/{task_id}/context")
def task_context(task_id: TaskId, principal: CurrentPrincipal, ctx: Ctx) -> ContextListOut:
    access = load_task(ctx, principal, task_id, "context_list")
    with ctx.engine.connect() as conn:
        rows = context_unlock.of_task(conn, access.task_id)
        return ContextListOut(requests=[_out(conn, r) for r in rows])


@router.get("/review/context")
def pending_context(principal: CurrentPrincipal, ctx: Ctx) -> PendingContextListOut:
    """Pending asks of the projects the caller reviews, oldest first, with their reasons."""
    with ctx.transaction() as conn:
        rows = conn.execute(
            select(
                db.context_requests,
                db.segments.c.title,
                db.segments.c.sealed_title,
                db.segments.c.erased_at.label("segment_erased_at"),
                db.projects.c.wrapped_key.label("project_key"),
                db.users.c.display_name,
                db.tasks.c.project_id,
                db.tasks.c.segment_id.label("task_segment"),
            )
            .join(db.tasks, db.tasks.c.id == db.context_requests.c.task_id)
            .join(db.segments, db.segments.c.id == db.tasks.c.segment_id)
            .join(db.projects, db.projects.c.id == db.tasks.c.project_id)
            .join(db.users, db.users.c.id == db.context_requests.c.user_id)
            .join(
                db.memberships,
                (db.memberships.c.project_id == db.tasks.c.project_id)
                & (db.memberships.c.user_id == principal.user_id)
                & (db.memberships.c.role == Role.REVIEWER.value),
            )
            .where(db.context_requests.c.status == context_unlock.PENDING)
            .order_by(db.context_requests.c.created_at, db.context_requests.c.id)
        ).all()
        out = []
        for row in rows:
            out.append(PendingContextOut(
                request=_out(conn, row), annotator_name=row.display_name,
                title=segment_meta.opened_title(
                    ctx.vault, row.project_id, row.project_key, row.task_segment, row.title,
                    row.sealed_title, row.segment_erased_at,
                ),
                justification=context_unlock.justification(ctx, conn, row),
            ))  # fmt: skip
            audit.record(
                conn, principal.actor(), AccessAction.REVIEW_READ, reason="context_reason",
                project_id=row.project_id, task_id=row.task_id, segment_id=row.task_segment,
            )  # fmt: skip
        return PendingContextListOut(requests=out)


@router.post("/context/{request_id}/decision", dependencies=[JsonBody])
def decide_context(
    request_id: TaskId, body: ContextDecisionIn, principal: CurrentPrincipal, ctx: Ctx
) -> ContextOut:
    """A reviewer of the task's project grants (the cut is made first) or denies an ask."""
    with ctx.engine.connect() as conn:
        row = context_unlock.get(conn, request_id)
        task = (
            conn.execute(select(db.tasks).where(db.tasks.c.id == row.task_id)).first()
            if row is not None else None
        )  # fmt: skip
        role = membership_role(conn, principal.user_id, task.project_id) if task else None
    if row is None or task is None or role is not Role.REVIEWER:
        raise ApiError(404, ErrorCode.NOT_FOUND, "no such context request", reason="context_decide",
                       project_id=task.project_id if task else None)  # fmt: skip
    granted = None
    try:
        if body.grant:
            with ctx.engine.connect() as conn:
                granted = context_unlock.widen(ctx, conn, task.segment_id, row.seconds)
        with ctx.transaction() as conn:
            decided = context_unlock.record_decision(
                conn, row, granted, principal.user_id, principal.actor()
            )
            return _out(conn, decided)
    except context_unlock.ContextError as exc:
        raise ApiError(409, ErrorCode.CONFLICT, str(exc), reason=exc.reason,
                       project_id=task.project_id, task_id=task.id) from exc  # fmt: skip


def _granted(
    conn: Connection, principal: Principal, access: TaskAccess, request_id: str
) -> TaskAccess:
    """The task's access with its segment swapped for the stretch granted to the caller's
    own ask (a task handed over does not hand over its context); else 404."""
    row = context_unlock.get(conn, request_id)
    if (
        row is None or row.task_id != access.task_id or row.user_id != principal.user_id
        or row.status != context_unlock.GRANTED
    ):  # fmt: skip
        access.refuse(404, ErrorCode.NOT_FOUND, "no granted context for this task",
                      "context_not_granted")  # fmt: skip
    wider = conn.execute(select(db.segments).where(db.segments.c.id == row.segment_id)).one()
    return replace(access, segment=wider)


@router.post("/tasks/{task_id}/context/{request_id}/key-grant")
def context_key(
    task_id: TaskId, request_id: TaskId, principal: CurrentPrincipal, ctx: Ctx
) -> KeyGrantOut:
    access = _annotator(ctx, principal, task_id, "context_key")
    with ctx.transaction() as conn:
        return segment_delivery.release_key(
            ctx, conn, principal, _granted(conn, principal, access, request_id)
        )


@router.get("/tasks/{task_id}/context/{request_id}/segment", response_class=StreamingResponse)
def context_segment(
    task_id: TaskId, request_id: TaskId, principal: CurrentPrincipal, ctx: Ctx
) -> StreamingResponse:
    access = _annotator(ctx, principal, task_id, "context_fetch")
    with ctx.transaction() as conn:
        wider = _granted(conn, principal, access, request_id)
        opened = segment_delivery.fetch(ctx, conn, principal, wider)
    return segment_delivery.stream(opened)
