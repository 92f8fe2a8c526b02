"""Task list, key grants, segment download and labels."""

from __future__ import annotations

import json
import re
import time
from typing import Annotated

from fastapi import APIRouter, Header, Path
from fastapi.responses import StreamingResponse
from sqlalchemy import Connection, RowMapping, Select, func, insert, literal, select
from sqlalchemy.exc import IntegrityError

from app.crypto.errors import CryptoError
from app.domain.document_check import check_document
from app.domain.label_document import from_wire, read_stored, to_wire
from app.domain.lifecycle import Step
from app.domain.project_schema import ProjectSchema
from app.wire.base import MAX_INT
from app.wire.label_document import LabelDocumentWire, PiiSpanWire, PreferenceWire, SegmentWire
from app.wire.project_schema import ProjectSchemaOut
from app.wire.schemas import (
    AccessAction,
    ErrorCode,
    KeyGrantOut,
    LabelAck,
    LabelIn,
    LabelOut,
    Role,
    TaskKind,
    TaskListOut,
    TaskOut,
    TaskStatus,
)
from server import (
    comparisons,
    context_unlock,
    db,
    gold,
    listen_policy,
    project_schemas,
    segment_meta,
    sequences,
    task_keys,
)
from server.api import coverage, idempotency, permissions, segment_delivery, task_lifecycle
from server.api.errors import ApiError
from server.api.params import TaskId
from server.api.permissions import Capability
from server.api.principal import Ctx, CurrentPrincipal, JsonBody, Principal
from server.api.task_access import TaskAccess, active_device, load_task, may_access
from server.context import ServerContext
from server.vault import KeyVault

router = APIRouter(prefix="/v1")
#: Field names of the label document's own models (safe to name in an answer).
_API_NAMES = frozenset(
    name
    for model in (LabelDocumentWire, SegmentWire, PiiSpanWire, PreferenceWire)
    for name in model.model_fields
)


def task_rows() -> Select[tuple[object, ...]]:
    """Tasks joined with what a task row shows (segment, project, kind); no membership."""
    return (
        select(
            db.tasks,
            db.segments,
            db.projects.c.name.label("project_name"),
            db.projects.c.wrapped_key.label("project_key"),
            db.segments.c.erased_at.label("segment_erased_at"),
            db.comparisons.c.kind,
            db.project_policies.c.submit_coverage,
            db.project_policies.c.accept_coverage,
            db.gold_tasks.c.gold_id,
            db.segment_windows.c.source_segment_id.label("window_source"),
            db.context_policies.c.max_s.label("context_max_s"),
        )
        .join(db.segments, db.segments.c.id == db.tasks.c.segment_id)
        .outerjoin(db.comparisons, db.comparisons.c.segment_id == db.segments.c.id)
        .join(db.projects, db.projects.c.id == db.tasks.c.project_id)
        .outerjoin(db.project_policies, db.project_policies.c.project_id == db.tasks.c.project_id)
        .outerjoin(db.gold_tasks, db.gold_tasks.c.task_id == db.tasks.c.id)
        .outerjoin(db.segment_windows, db.segment_windows.c.segment_id == db.segments.c.id)
        .outerjoin(db.context_policies, db.context_policies.c.project_id == db.tasks.c.project_id)
    )


def task_title(vault: KeyVault, row: RowMapping) -> str:
    """A :func:`task_rows` row's recording title (sealed at rest)."""
    return segment_meta.opened_title(
        vault, row["project_id"], row["project_key"], row["segment_id"], row["title"],
        row["sealed_title"], row["segment_erased_at"],
    )  # fmt: skip


def task_out(row: RowMapping, role: Role, vault: KeyVault) -> TaskOut:
    """A :func:`task_rows` row as the caller sees it in ``role``."""
    policy = listen_policy.DEFAULT
    if row["submit_coverage"] is not None:
        policy = listen_policy.ListenPolicy(bool(row["submit_coverage"]), row["accept_coverage"])
    return TaskOut(
        task_id=row["id"],
        project_id=row["project_id"],
        project_name=row["project_name"],
        segment_id=row["segment_id"],
        title=task_title(vault, row),
        role=role,
        status=TaskStatus(row["status"]),
        duration_s=row["frames"] / row["sample_rate"],
        sample_rate=row["sample_rate"],
        channels=row["channels"],
        ciphertext_bytes=row["ciphertext_bytes"],
        kind=TaskKind(row["kind"] or TaskKind.TRANSCRIPTION.value),
        submit_coverage=policy.submit_coverage,
        accept_coverage=policy.accept_coverage,
        windowed=row["window_source"] is not None,
        context_max_s=(
            context_unlock.DEFAULT.max_s if row["context_max_s"] is None else row["context_max_s"]
        )
        if row["window_source"] is not None
        else 0,
    )


@router.get("/tasks")
def list_tasks(principal: CurrentPrincipal, ctx: Ctx) -> TaskListOut:
    query = (
        task_rows()
        .add_columns(db.memberships.c.role)
        .join(
            db.memberships,
            (db.memberships.c.project_id == db.tasks.c.project_id)
            & (db.memberships.c.user_id == principal.user_id),
        )
        .order_by(db.tasks.c.created_at, db.tasks.c.id)
    )
    # Titles are sealed: ordered here, not in SQL (first assigned first, then by title).
    out: list[tuple[tuple[int, str, str], TaskOut]] = []
    with ctx.engine.connect() as conn:
        for row in conn.execute(query).mappings():
            role = Role(row["role"])
            gold = row["gold_id"] is not None
            if may_access(role, principal, row["assignee_id"], row["status"], gold=gold):
                task = task_out(row, role, ctx.vault)
                out.append(((row["created_at"], task.title, task.task_id), task))
        roles = conn.execute(
            select(db.memberships.c.project_id, db.memberships.c.role).where(
                db.memberships.c.user_id == principal.user_id
            )
        ).all()
        return TaskListOut(
            tasks=[t for _, t in sorted(out, key=lambda pair: pair[0])],
            review_projects=sorted(p for p, r in roles if r == Role.REVIEWER.value),
            managed_projects=sorted(
                p for p, r in roles if permissions.may(Role(r), Capability.PLAN)
            ),
        )


@router.post("/tasks/{task_id}/key-grant")
def key_grant(task_id: TaskId, principal: CurrentPrincipal, ctx: Ctx) -> KeyGrantOut:
    """Wrap the segment's data key to the caller's device. Audited before it is released."""
    with ctx.transaction() as conn:
        access = load_task(ctx, principal, task_id, "key_grant", conn)
        return segment_delivery.release_key(ctx, conn, principal, access)


@router.get("/tasks/{task_id}/segment", response_class=StreamingResponse)
def segment(task_id: TaskId, principal: CurrentPrincipal, ctx: Ctx) -> StreamingResponse:
    """Stream the encrypted segment (ciphertext only); the fetch commits to the audit first."""
    with ctx.transaction() as conn:
        access = load_task(ctx, principal, task_id, "segment_fetch", conn)
        opened = segment_delivery.fetch(ctx, conn, principal, access)
    return segment_delivery.stream(opened)


@router.post("/tasks/{task_id}/labels", dependencies=[JsonBody])
def submit_label(
    task_id: TaskId,
    body: LabelIn,
    principal: CurrentPrincipal,
    ctx: Ctx,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> LabelAck:
    """Store a transcript sealed under the project key. Idempotent by ``label_id``.

    Two submits racing for the next revision number collide on the unique
    (task, revision) index; the loser simply tries again with the next number.
    With an ``Idempotency-Key``, a retry gets the first attempt's answer.
    """
    key = idempotency.check_key(idempotency_key)
    endpoint = f"POST /v1/tasks/{task_id}/labels"
    digest = idempotency.request_hash(endpoint, body) if key else b""
    for _attempt in range(5):
        try:
            with ctx.transaction() as conn:
                if key is not None:
                    stored = idempotency.claim(conn, principal.user_id, key, endpoint, digest)
                    if stored is not None:
                        return LabelAck.model_validate_json(stored)
                ack = _store_label(ctx, conn, principal, task_id, body)
                if key is not None:
                    idempotency.remember(conn, principal.user_id, key, ack)
                return ack
        except IntegrityError:
            continue
    raise ApiError(409, ErrorCode.CONFLICT, "too many concurrent submits; retry")


def _check_fits(conn: Connection, access: TaskAccess, body: LabelIn) -> None:
    """Refuse (422 with the JSON path) a document that does not fit its schema or its audio."""
    version = body.document.schema_version
    loaded = project_schemas.load(conn, access.project_id, version)
    if loaded is None:
        raise access.refusal(
            422, ErrorCode.DOCUMENT_INVALID, "unknown schema version", "schema_version_unknown",
            path="$.document.schema_version",
        )  # fmt: skip
    if version != project_schemas.current_version(conn, access.project_id) and not body.draft:
        raise access.refusal(
            422, ErrorCode.DOCUMENT_INVALID,
            "the project schema changed: open the task again to update the document",
            "schema_version_outdated", path="$.document.schema_version",
        )  # fmt: skip
    schema, _wire = loaded
    compared = comparisons.outputs_of(conn, access.segment_id)
    problems = check_document(
        from_wire(body.document), schema,
        frames=int(access.segment.frames), channels=int(access.segment.channels),
        final=not body.draft, kind=compared.kind, outputs=compared.output_ids,
    )  # fmt: skip
    if problems:
        first = problems[0]
        raise access.refusal(
            422, ErrorCode.DOCUMENT_INVALID, f"{first.message} ({len(problems)} problem(s))",
            "document_invalid", path=_label_path(first.path, schema),
        )  # fmt: skip


def _label_path(path: str, schema: ProjectSchema) -> str:
    """A document path as a path in the request body, cut before any name the caller chose.

    Names the API or the project schema declares are labels, not content; an unknown
    label or field name could be anything, so the answer stops at its parent.
    """
    known = _API_NAMES | schema.names()
    kept = "$.document"
    for part in re.findall(r"\.[^.\[]+|\[\d+\]", path[1:]):
        if part.startswith(".") and part[1:] not in known:
            break
        kept += part
    return kept


@router.get("/tasks/{task_id}/schema")
def task_schema(task_id: TaskId, principal: CurrentPrincipal, ctx: Ctx) -> ProjectSchemaOut:
    """The project schema the task's documents are made under now (labels, not content)."""
    with ctx.engine.connect() as conn:
        access = load_task(ctx, principal, task_id, "schema_read", conn)
        version = project_schemas.current_version(conn, access.project_id)
        loaded = project_schemas.load(conn, access.project_id, version)
    if loaded is None:  # pragma: no cover - the newest version always loads
        raise segment_delivery.damaged(access, "schema")
    return ProjectSchemaOut(project_id=access.project_id, version=version, definition=loaded[1])


def _step_of(access: TaskAccess, body: LabelIn) -> Step:
    """The annotator saves and hands in; the reviewer holding the task corrects it."""
    if access.role is Role.REVIEWER:
        if body.draft:
            access.refuse(
                403, ErrorCode.FORBIDDEN, "a reviewer's correction is a revision, not a draft",
                "reviewer_draft",
            )  # fmt: skip
        return Step.CORRECT
    return Step.SAVE_DRAFT if body.draft else Step.SUBMIT


def _store_label(
    ctx: ServerContext, conn: Connection, principal: Principal, task_id: str, body: LabelIn
) -> LabelAck:
    now = int(time.time())
    access = load_task(ctx, principal, task_id, "label_submit", conn)
    step = _step_of(access, body)
    device_id = active_device(conn, principal, access)
    # A retry of a stored label gets its answer even if the schema has moved on since.
    existing = conn.execute(select(db.labels).where(db.labels.c.id == body.label_id)).first()
    if existing is not None:
        if existing.task_id != task_id or existing.author_id != principal.user_id:
            access.refuse(409, ErrorCode.CONFLICT, "label id already used", "label_id_reused")
        return LabelAck(
            label_id=existing.id,
            task_id=task_id,
            revision=existing.revision,
            stored_at=existing.created_at,
            duplicate=True,
        )
    task_lifecycle.check(conn, access, principal.user_id, step)
    _check_fits(conn, access, body)
    if (
        step is Step.SUBMIT
        and comparisons.outputs_of(conn, access.segment_id).kind == "transcription"
    ):
        spans = [(s.start, s.end) for s in body.document.segments]
        refusal = coverage.refusal_for_submit(conn, access, principal.user_id, spans)
        if refusal is not None:
            raise refusal
    document = json.dumps(
        {
            "document": body.document.model_dump(mode="json"),
            "base_revision": body.base_revision,
            "draft": body.draft,
        }
    ).encode("utf-8")
    try:
        sealed = ctx.vault.seal_label(
            access.project_id, access.project.wrapped_key, body.label_id, task_id, document,
            task_keys.ensure(conn, ctx.vault, task_id),
        )  # fmt: skip
    except CryptoError as exc:
        raise segment_delivery.damaged(access, "project key") from exc
    # The next revision is computed inside the INSERT itself: one statement, so
    # SQLite's write lock makes it atomic against concurrent submits.
    next_revision = select(
        literal(body.label_id),
        literal(task_id),
        literal(access.project_id),
        literal(principal.user_id),
        func.coalesce(func.max(db.labels.c.revision), 0) + 1,
        literal(sealed),
        literal(now),
    ).where(db.labels.c.task_id == task_id)
    conn.execute(
        insert(db.labels).from_select(
            ["id", "task_id", "project_id", "author_id", "revision",
             "sealed_transcript", "created_at"],
            next_revision,
        )
    )  # fmt: skip
    revision = conn.execute(
        select(db.labels.c.revision).where(db.labels.c.id == body.label_id)
    ).scalar_one()
    conn.execute(
        insert(db.label_revisions).values(
            label_id=body.label_id, task_id=task_id, author_role=access.role.value,
            base_revision=body.base_revision, draft=body.draft,
            # provenance: what the revision was made from, with what, where
            schema_version=body.document.schema_version, client_version=body.client_version,
            device_id=device_id, ciphertext_sha256=access.segment.ciphertext_sha256,
            plaintext_sha256=access.segment.plaintext_sha256,
        )
    )  # fmt: skip
    actor = principal.actor(device_id)
    access.record(conn, actor, AccessAction.LABEL_STORED)
    # Every hand-in and correction is a step in the history; a draft only when it
    # starts the work (saving again changes nothing there).
    if step is not Step.SAVE_DRAFT or access.task.status == TaskStatus.ASSIGNED.value:
        task_lifecycle.apply(ctx, conn, access, actor, step, revision=revision)
    if step is Step.SUBMIT:
        _score_if_gold(ctx, conn, access, principal.user_id, revision, body)
    if body.seq is not None:
        sequences.observe(conn, actor, [body.seq])
    return LabelAck(
        label_id=body.label_id, task_id=task_id, revision=revision, stored_at=now, duplicate=False
    )


def _score_if_gold(
    ctx: ServerContext, conn: Connection, access: TaskAccess, user_id: str, revision: int,
    body: LabelIn,
) -> None:  # fmt: skip
    """A gold task's hand-in is scored against its answer in the hand-in's transaction."""
    gold_id = gold.gold_id_of(conn, access.task_id)
    if gold_id is None:
        return
    loaded = project_schemas.load(conn, access.project_id, body.document.schema_version)
    schema = loaded[0] if loaded is not None else ProjectSchema()
    try:
        gold.score_hand_in(
            conn, ctx.vault, gold_id, access.task, user_id, revision,
            from_wire(body.document), schema,
        )  # fmt: skip
    except CryptoError as exc:
        raise segment_delivery.damaged(access, "gold answer") from exc


@router.get("/tasks/{task_id}/labels/latest")
def latest_label(task_id: TaskId, principal: CurrentPrincipal, ctx: Ctx) -> LabelOut:
    """The newest revision of a task: to resume work, or for a reviewer to replay.

    A reviewer reads handed-in revisions only; an annotator's drafts stay theirs.
    """
    return _read_label(ctx, principal, task_id, None)


@router.get("/tasks/{task_id}/labels/{revision}")
def label_revision(
    task_id: TaskId,
    revision: Annotated[int, Path(ge=1, le=MAX_INT)],
    principal: CurrentPrincipal,
    ctx: Ctx,
) -> LabelOut:
    """One stored revision (immutable): the annotator's, to diff a correction against."""
    return _read_label(ctx, principal, task_id, revision)


def _read_label(
    ctx: ServerContext, principal: Principal, task_id: str, revision: int | None
) -> LabelOut:
    """Open a stored revision and record the read (opened first: a label that cannot be
    opened is recorded as a failed access and nothing as read)."""
    with ctx.transaction() as conn:
        access = load_task(ctx, principal, task_id, "label_read", conn)
        device_id = active_device(conn, principal, access)
        query = (
            select(db.labels, db.label_revisions.c.author_role, db.label_revisions.c.draft)
            .outerjoin(db.label_revisions)
            .where(db.labels.c.task_id == task_id)
            .order_by(db.labels.c.revision.desc())
            .limit(1)
        )
        if revision is not None:
            query = query.where(db.labels.c.revision == revision)
        if access.role is not Role.ANNOTATOR:
            query = query.where(func.coalesce(db.label_revisions.c.draft, False).is_(False))
        row = conn.execute(query).first()
        if row is None:
            missing = "no label yet" if revision is None else "no such revision"
            raise ApiError(404, ErrorCode.NOT_FOUND, missing, audit=False)
        try:
            document = json.loads(
                ctx.vault.open_label(
                    access.project_id,
                    access.project.wrapped_key,
                    row.id,
                    task_id,
                    row.sealed_transcript,
                    task_keys.of(conn, task_id),
                )
            )
            out = LabelOut(
                label_id=row.id,
                task_id=task_id,
                revision=row.revision,
                document=to_wire(read_stored(document, int(access.segment.frames))),
                base_revision=document.get("base_revision"),
                author_id=row.author_id,
                stored_at=row.created_at,
                draft=bool(document.get("draft", False)),
                author_role=Role(row.author_role or Role.ANNOTATOR.value),
            )
        except (CryptoError, ValueError, KeyError, TypeError) as exc:
            raise segment_delivery.damaged(access, "label") from exc
        access.record(conn, principal.actor(device_id), AccessAction.LABEL_READ)
    return out
