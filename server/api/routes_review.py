"""Review: the reviewer's queue, lifecycle steps, a task's history and review comments.

Who may do what is the lifecycle table's (:mod:`app.domain.lifecycle`, enforced by
:mod:`server.api.task_lifecycle`) and the visibility rule's
(:func:`server.api.task_access.may_access`); these routes only shape the answers.
Reasons and comments are a reviewer's words about a recording: sealed at rest,
opened only for someone who may read them, and every such read is an audit leaf.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import Connection, RowMapping, func, insert, select

from app.crypto.errors import CryptoError
from app.domain.lifecycle import REVIEWABLE, Party, Step
from app.wire.base import Id
from app.wire.review import (
    CommentIn,
    CommentListOut,
    CommentOut,
    CoverageOut,
    HistoryOut,
    ReviewItemOut,
    ReviewQueueOut,
    RevisionOut,
    StepIn,
    TransitionOut,
)
from app.wire.schemas import AccessAction, ErrorCode, Role, TaskStatus
from server import comparisons, db, task_keys
from server.api import coverage, task_lifecycle
from server.api.errors import ApiError
from server.api.params import ProjectId, TaskId
from server.api.principal import Ctx, CurrentPrincipal, JsonBody, Principal
from server.api.routes_tasks import task_out, task_rows
from server.api.task_access import TaskAccess, active_device, load_task, may_access
from server.context import ServerContext

router = APIRouter(prefix="/v1")
#: The sealing context of a review comment's words.
COMMENT_KIND = "review_comment"
#: What the queue shows when no status is asked for: work waiting for a decision.
_OPEN = (TaskStatus.SUBMITTED, TaskStatus.IN_REVIEW)
_DECISIONS = (Step.ACCEPT.value, Step.REJECT.value)


@router.get("/review/queue")
def review_queue(
    principal: CurrentPrincipal,
    ctx: Ctx,
    project_id: Annotated[ProjectId | None, Query()] = None,
    annotator_id: Annotated[Id | None, Query()] = None,
    status: Annotated[TaskStatus | None, Query()] = None,
) -> ReviewQueueOut:
    """Handed-in tasks of the projects the caller reviews, oldest hand-in first."""
    if status is not None and status not in REVIEWABLE:
        raise ApiError(
            422,
            ErrorCode.INVALID_REQUEST,
            "the queue holds handed-in tasks only",
            reason="queue_status_invalid",
        )
    statuses = [status.value] if status is not None else [s.value for s in _OPEN]
    handed_in = (
        select(
            db.task_transitions.c.task_id,
            func.max(db.task_transitions.c.created_at).label("submitted_at"),
        )
        .where(db.task_transitions.c.step == Step.SUBMIT.value)
        .group_by(db.task_transitions.c.task_id)
        .subquery()
    )
    newest = (
        select(db.labels.c.task_id, func.max(db.labels.c.revision).label("revision"))
        .select_from(db.labels.outerjoin(db.label_revisions))
        .where(func.coalesce(db.label_revisions.c.draft, False).is_(False))
        .group_by(db.labels.c.task_id)
        .subquery()
    )
    submitted_at = func.coalesce(handed_in.c.submitted_at, db.tasks.c.created_at)
    query = (
        task_rows()
        .add_columns(
            submitted_at.label("submitted_at"),
            newest.c.revision,
            db.users.c.display_name.label("annotator_name"),
        )
        .join(
            db.memberships,
            (db.memberships.c.project_id == db.tasks.c.project_id)
            & (db.memberships.c.user_id == principal.user_id)
            & (db.memberships.c.role == Role.REVIEWER.value),
        )
        .join(db.users, db.users.c.id == db.tasks.c.assignee_id)
        .outerjoin(handed_in, handed_in.c.task_id == db.tasks.c.id)
        .join(newest, newest.c.task_id == db.tasks.c.id)
        .where(db.tasks.c.status.in_(statuses))
        .order_by(submitted_at, db.tasks.c.id)
    )
    if project_id is not None:
        query = query.where(db.tasks.c.project_id == project_id)
    if annotator_id is not None:
        query = query.where(db.tasks.c.assignee_id == annotator_id)
    items: list[ReviewItemOut] = []
    with ctx.engine.connect() as conn:
        if not _reviews_anything(conn, principal.user_id):
            raise ApiError(
                403,
                ErrorCode.FORBIDDEN,
                "the review queue is for reviewers",
                reason="not_reviewer",
            )
        for row in conn.execute(query).mappings():
            gold = row["gold_id"] is not None
            if not may_access(
                Role.REVIEWER, principal, row["assignee_id"], row["status"], gold=gold
            ):
                continue  # their own work is not theirs to review
            items.append(_item(ctx, conn, row))
    return ReviewQueueOut(items=items)


def _reviews_anything(conn: Connection, user_id: str) -> bool:
    return (
        conn.execute(
            select(db.memberships.c.project_id).where(
                db.memberships.c.user_id == user_id, db.memberships.c.role == Role.REVIEWER.value
            )
        ).first()
        is not None
    )


def _item(ctx: ServerContext, conn: Connection, row: RowMapping) -> ReviewItemOut:
    return ReviewItemOut(
        task=task_out(row, Role.REVIEWER, ctx.vault),
        annotator_id=row["assignee_id"],
        annotator_name=row["annotator_name"],
        submitted_at=row["submitted_at"],
        revision=row["revision"],
        holder_id=task_lifecycle.holder(conn, row["id"]),
    )


@router.post("/tasks/{task_id}/review", dependencies=[JsonBody])
def review_step(task_id: TaskId, body: StepIn, principal: CurrentPrincipal, ctx: Ctx) -> HistoryOut:
    """Claim, release, accept or reject (with a reason); answers the task's new history."""
    step = Step(body.step)
    with ctx.transaction() as conn:
        access = load_task(ctx, principal, task_id, f"review_{step.value}", conn)
        device_id = active_device(conn, principal, access)
        task_lifecycle.check(conn, access, principal.user_id, step)
        newest = task_lifecycle.newest_handed_in(conn, task_id)
        if body.revision is not None and body.revision != newest:
            access.refuse(
                409,
                ErrorCode.CONFLICT,
                "the task has a newer revision than the one judged",
                "revision_outdated",
            )
        if step is Step.ACCEPT and comparisons.outputs_of(conn, access.segment_id).kind == (
            "transcription"
        ):
            refusal = coverage.refusal_for_accept(conn, access, principal.user_id)
            if refusal is not None:
                raise refusal
        task_lifecycle.apply(
            ctx,
            conn,
            access,
            principal.actor(device_id),
            step,
            revision=newest,
            reason=body.reason,
        )
        # The holder reads every reason anyway; the answer shows the one just given.
        out = _history(ctx, conn, access, principal, with_reasons=True)
        if any(t.reason is not None for t in out.transitions):
            access.record(conn, principal.actor(device_id), AccessAction.REVIEW_READ)
        return out


@router.get("/tasks/{task_id}/coverage")
def task_coverage(task_id: TaskId, principal: CurrentPrincipal, ctx: Ctx) -> CoverageOut:
    """What the caller heard so far (their own trace; spans, no content): the client marks
    the rest on the waveform before a hand-in or an accept would be refused."""
    with ctx.engine.connect() as conn:
        access = load_task(ctx, principal, task_id, "coverage_read", conn)
        frames, rate = int(access.segment.frames), int(access.segment.sample_rate)
        duration = frames * 1000 // max(1, rate)
        heard = coverage.heard_by(conn, task_id, access.segment_id, principal.user_id, duration)
    return CoverageOut(duration_ms=duration, heard=heard)


@router.get("/tasks/{task_id}/history")
def task_history(task_id: TaskId, principal: CurrentPrincipal, ctx: Ctx) -> HistoryOut:
    """Every revision (facts only) and every step, with the reasons the caller may read."""
    with ctx.transaction() as conn:
        access = load_task(ctx, principal, task_id, "history_read", conn)
        device_id = active_device(conn, principal, access)
        out = _history(ctx, conn, access, principal, with_reasons=True)
        if any(t.reason is not None for t in out.transitions):
            access.record(conn, principal.actor(device_id), AccessAction.REVIEW_READ)
    return out


def _history(
    ctx: ServerContext, conn: Connection, access: TaskAccess, principal: Principal,
    *, with_reasons: bool,
) -> HistoryOut:  # fmt: skip
    reviewer = access.role is Role.REVIEWER
    revisions = [
        RevisionOut(
            revision=row.revision,
            label_id=row.id,
            author_id=row.author_id,
            author_role=Role(row.author_role or Role.ANNOTATOR.value),
            base_revision=row.base_revision,
            draft=bool(row.draft),
            stored_at=row.created_at,
        )
        for row in conn.execute(
            select(
                db.labels,
                db.label_revisions.c.author_role,
                db.label_revisions.c.base_revision,
                db.label_revisions.c.draft,
            )
            .outerjoin(db.label_revisions)
            .where(db.labels.c.task_id == access.task_id)
            .order_by(db.labels.c.revision)
        )
        if not (reviewer and row.draft)  # an annotator's drafts stay theirs
    ]
    transitions = []
    for row in conn.execute(
        select(db.task_transitions)
        .where(db.task_transitions.c.task_id == access.task_id)
        .order_by(db.task_transitions.c.seq)
    ):
        reason = None
        # The reviewer reads every reason; the annotator those addressed to them.
        if with_reasons and row.sealed_reason is not None and (reviewer or row.step in _DECISIONS):
            reason = _open(ctx, access, task_lifecycle.REASON_KIND, row.id, row.sealed_reason,
                           task_keys.of(conn, access.task_id))  # fmt: skip
        transitions.append(
            TransitionOut(
                seq=row.seq,
                step=row.step,
                from_status=TaskStatus(row.from_status),
                to_status=TaskStatus(row.to_status),
                actor_id=row.actor_id,
                actor_role=Role(row.actor_role),
                revision=row.revision,
                at=row.created_at,
                reason=reason,
            )
        )
    status = conn.execute(
        select(db.tasks.c.status).where(db.tasks.c.id == access.task_id)
    ).scalar_one()
    return HistoryOut(
        task_id=access.task_id, status=TaskStatus(status),
        holder_id=task_lifecycle.holder(conn, access.task_id),
        revisions=revisions, transitions=transitions,
    )  # fmt: skip


def _open(
    ctx: ServerContext, access: TaskAccess, kind: str, record_id: str, sealed: bytes,
    task_key: bytes | None,
) -> str:  # fmt: skip
    """Open a task's record; ``task_key`` read in the request's transaction (a key made
    in it, for a task from before task keys, is not on ``access.task``)."""
    try:
        return ctx.vault.open_record(
            access.project_id, access.project.wrapped_key, kind, access.task_id, record_id,
            bytes(sealed), task_key,
        ).decode("utf-8")  # fmt: skip
    except (CryptoError, ValueError) as exc:
        raise ApiError(
            500, ErrorCode.STORED_DATA_DAMAGED, "a stored review record cannot be opened",
            reason="review_record_damaged", project_id=access.project_id,
            task_id=access.task_id, segment_id=access.segment_id,
        ) from exc  # fmt: skip


@router.post("/tasks/{task_id}/comments", dependencies=[JsonBody])
def add_comment(
    task_id: TaskId, body: CommentIn, principal: CurrentPrincipal, ctx: Ctx
) -> CommentOut:
    """A comment by the reviewer holding the task, on a revision it has; idempotent by id."""
    now = int(time.time())
    with ctx.transaction() as conn:
        access = load_task(ctx, principal, task_id, "comment_add", conn)
        device_id = active_device(conn, principal, access)
        existing = conn.execute(
            select(db.review_comments).where(db.review_comments.c.id == body.comment_id)
        ).first()
        if existing is not None:
            if existing.task_id != task_id or existing.author_id != principal.user_id:
                access.refuse(
                    409, ErrorCode.CONFLICT, "comment id already used", "comment_id_reused"
                )
            text = _open(ctx, access, COMMENT_KIND, existing.id, existing.sealed_text,
                         task_keys.of(conn, task_id))  # fmt: skip
            return _comment_out(existing._mapping, text)
        # Commenting is part of holding the task in review, like correcting it.
        task_lifecycle.check(conn, access, principal.user_id, Step.CORRECT)
        _check_anchor(ctx, conn, access, body)
        claim_seq = conn.execute(
            select(func.max(db.task_transitions.c.seq)).where(
                db.task_transitions.c.task_id == task_id,
                db.task_transitions.c.step == Step.CLAIM.value,
            )
        ).scalar_one()
        sealed = ctx.vault.seal_record(
            access.project_id,
            access.project.wrapped_key,
            COMMENT_KIND,
            task_id,
            body.comment_id,
            body.text.encode("utf-8"),
            task_keys.ensure(conn, ctx.vault, task_id),
        )
        values = {
            "id": body.comment_id, "task_id": task_id, "author_id": principal.user_id,
            "revision": body.revision, "claim_seq": claim_seq, "segment": body.segment,
            "start_frame": body.start_frame, "end_frame": body.end_frame,
            "char_start": body.char_start, "char_end": body.char_end, "sealed_text": sealed,
            "created_at": now,
        }  # fmt: skip
        conn.execute(insert(db.review_comments).values(**values))
        access.record(conn, principal.actor(device_id), AccessAction.COMMENT_ADDED)
    return _comment_out(values, body.text)


def _check_anchor(
    ctx: ServerContext, conn: Connection, access: TaskAccess, body: CommentIn
) -> None:
    """The anchor must exist in the revision commented on: its segment, its text, its audio."""
    row = conn.execute(
        select(db.labels).where(
            db.labels.c.task_id == access.task_id, db.labels.c.revision == body.revision
        )
    ).first()
    newest = task_lifecycle.newest_handed_in(conn, access.task_id)
    if row is None or newest is None or body.revision > newest:
        raise access.refusal(422, ErrorCode.INVALID_REQUEST, "no such revision to comment on",
                             "comment_revision_unknown", path="$.revision")  # fmt: skip
    frames = int(access.segment.frames)
    if body.end_frame is not None and body.end_frame > frames:
        raise access.refusal(422, ErrorCode.INVALID_REQUEST, "the span ends after the audio",
                             "comment_span_outside", path="$.end_frame")  # fmt: skip
    if body.segment is None:
        return
    try:
        stored = json.loads(ctx.vault.open_label(
            access.project_id, access.project.wrapped_key, row.id, access.task_id,
            row.sealed_transcript, task_keys.of(conn, access.task_id),
        ))  # fmt: skip
        segments = {s["id"]: s for s in stored["document"]["segments"]}
    except (CryptoError, ValueError, KeyError, TypeError) as exc:
        raise ApiError(
            500, ErrorCode.STORED_DATA_DAMAGED, "the stored label of this task cannot be opened",
            reason="label_damaged", project_id=access.project_id, task_id=access.task_id,
        ) from exc  # fmt: skip
    segment = segments.get(body.segment)
    if segment is None:
        raise access.refusal(422, ErrorCode.INVALID_REQUEST, "no such segment in that revision",
                             "comment_segment_unknown", path="$.segment")  # fmt: skip
    if body.char_end is not None and body.char_end > len(segment.get("text", "")):
        raise access.refusal(422, ErrorCode.INVALID_REQUEST, "the text range ends after the text",
                             "comment_range_outside", path="$.char_end")  # fmt: skip


@router.get("/tasks/{task_id}/comments")
def list_comments(task_id: TaskId, principal: CurrentPrincipal, ctx: Ctx) -> CommentListOut:
    """Review comments: all to a reviewer; to the annotator, those of decided rounds."""
    with ctx.transaction() as conn:
        access = load_task(ctx, principal, task_id, "comments_read", conn)
        device_id = active_device(conn, principal, access)
        query = (
            select(db.review_comments)
            .where(db.review_comments.c.task_id == task_id)
            .order_by(db.review_comments.c.created_at, db.review_comments.c.id)
        )
        if Party.ASSIGNEE in task_lifecycle.parties(conn, access, principal.user_id):
            decided = conn.execute(
                select(func.max(db.task_transitions.c.seq)).where(
                    db.task_transitions.c.task_id == task_id,
                    db.task_transitions.c.step.in_(_DECISIONS),
                )
            ).scalar_one()
            query = query.where(db.review_comments.c.claim_seq < (decided or 0))
        rows = conn.execute(query).mappings().all()
        key = task_keys.of(conn, task_id)
        out = [
            _comment_out(row, _open(ctx, access, COMMENT_KIND, str(row["id"]), row["sealed_text"],
                                    key))
            for row in rows
        ]  # fmt: skip
        if out:
            access.record(conn, principal.actor(device_id), AccessAction.REVIEW_READ)
    return CommentListOut(comments=out)


def _comment_out(row: Mapping[Any, Any], text: str) -> CommentOut:
    return CommentOut(
        comment_id=row["id"], revision=row["revision"], author_id=row["author_id"],
        segment=row["segment"], start_frame=row["start_frame"], end_frame=row["end_frame"],
        char_start=row["char_start"], char_end=row["char_end"], text=text,
        at=row["created_at"],
    )  # fmt: skip
