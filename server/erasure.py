"""Erasure by crypto-shredding: destroy the keys, delete the blobs, keep the audit log.

A recording's audio is readable only with its data key, and a task's records
(labels, comments, reasons, justifications) only with the task's key; both are
stored wrapped, in the database. Erasing destroys those wrapped keys and deletes
the blobs and rows, so a copy of the ciphertext kept anywhere else (a backup of
the blob directory, a sealed row copied out) can no longer be opened with
anything left on the server. A whole project is erased by also destroying its
project key, which every other key of the project was wrapped under.

A job is written down (``erasures``, ``erasure_items``) before anything is
destroyed; each item is then erased in one transaction together with its audit
leaf, all or nothing, and its blob deleted after the commit. A job interrupted
by a crash is found ``running`` at the next start (or ``retention run``) and
finished; deleting a blob that is already gone is not an error. The audit log
keeps every leaf: leaves hold ids, never content or a subject's own id (a
subject is named by a keyed digest), so no hash chain breaks. What erasure cannot
reach: a database backup taken before it (it still holds the wrapped keys, and
opens with the root key), and whatever an annotator heard or wrote down.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from app.wire.schemas import AccessAction
from server import audit, db, segment_meta
from server.auditlog import store
from server.coded_error import CodedError
from server.context import ServerContext
from server.ingest import new_id

#: Kinds of item a job destroys, in the order they run.
SEGMENT = "segment"  # the recording and every task on it (erase on request)
AUDIO = "audio"  # the recording's audio only; tasks and labels stay (retention)
LABELS = "labels"  # a task's labels and records; the task stays, unreadable (retention)
DRAFTS = "drafts"  # a task's draft revisions older than the policy (retention)
PROJECT = "project"  # the project key itself, after all its recordings

SCOPES = ("segment", "task", "subject", "project", "retention")


class ErasureError(CodedError):
    """A request that cannot be erased as asked; ``code`` is stable for scripts."""


@dataclass
class ReceiptItem:
    kind: str
    item_id: str
    log_id: str
    leaf_index: int
    destroyed: list[str] = field(default_factory=list)


@dataclass
class Receipt:
    """What an erasure destroyed and where the audit log records it (ids only)."""

    erasure_id: str
    scope: str
    target: str
    project_id: str
    state: str
    items: list[ReceiptItem]
    done_log_id: str | None = None
    done_leaf_index: int | None = None
    created_at: int = 0
    finished_at: int | None = None


# -- planning --------------------------------------------------------------------------
def _project(conn: Connection, project_id: str) -> Any:
    row = conn.execute(select(db.projects).where(db.projects.c.id == project_id)).first()
    if row is None:
        raise ErasureError("unknown_project", f"no project {project_id}")
    if row.erased_at is not None:
        raise ErasureError("already_erased", f"project {project_id} was erased already")
    return row


def _outstanding(conn: Connection, segment_id: str) -> bool:
    """Something of the recording is left to erase: its audio, or tasks on it (retention
    may have taken the audio and left the labels)."""
    erased = conn.execute(
        select(db.segments.c.erased_at).where(db.segments.c.id == segment_id)
    ).scalar()
    return erased is None or bool(_task_ids(conn, segment_id))


def _with_cuts(conn: Connection, segment_ids: Sequence[str]) -> list[str]:
    """The recordings, every window cut from them, and every context stretch granted to a
    task on any of these (a stretch is cut from the window's source, so erasing a window
    alone would otherwise leave the audio around it)."""
    out: list[str] = list(dict.fromkeys(segment_ids))
    seen = 0
    while seen < len(out):
        segment_id = out[seen]
        seen += 1
        cuts = conn.execute(
            select(db.segment_windows.c.segment_id)
            .where(db.segment_windows.c.source_segment_id == segment_id)
            .order_by(db.segment_windows.c.segment_id)
        ).scalars()
        stretches = conn.execute(
            select(db.context_requests.c.segment_id)
            .join(db.tasks, db.tasks.c.id == db.context_requests.c.task_id)
            .where(
                db.tasks.c.segment_id == segment_id,
                db.context_requests.c.segment_id.is_not(None),
            )
            .order_by(db.context_requests.c.segment_id)
        ).scalars()
        for found in (*cuts, *stretches):
            if str(found) not in out and _outstanding(conn, str(found)):
                out.append(str(found))
    return out


def _live_segment(conn: Connection, project_id: str, segment_id: str) -> str:
    row = conn.execute(
        select(db.segments.c.id).where(
            db.segments.c.id == segment_id, db.segments.c.project_id == project_id
        )
    ).first()
    if row is None:
        raise ErasureError("unknown_target", f"no recording {segment_id} in the project")
    if not _outstanding(conn, segment_id):
        raise ErasureError("already_erased", f"recording {segment_id} was erased already")
    return str(row.id)


def plan(
    ctx: ServerContext, conn: Connection, project_id: str, scope: str, target: str
) -> list[tuple[str, str]]:
    """The ``(kind, id)`` items erasing ``target`` takes; refuses unknown or erased ones."""
    project = _project(conn, project_id)
    if scope == "segment":
        return [(SEGMENT, s) for s in _with_cuts(conn, [_live_segment(conn, project_id, target)])]
    if scope == "task":
        segment_id = conn.execute(
            select(db.tasks.c.segment_id).where(
                db.tasks.c.id == target, db.tasks.c.project_id == project_id
            )
        ).scalar()
        if segment_id is None:
            raise ErasureError("unknown_target", f"no task {target} in the project")
        return [
            (SEGMENT, s) for s in _with_cuts(conn, [_live_segment(conn, project_id, segment_id)])
        ]
    if scope == "subject":
        digest = segment_meta.ref(ctx.vault, project_id, project.wrapped_key, "subject", target)
        found = [
            str(s)
            for s in conn.execute(
                select(db.segments.c.id)
                .where(db.segments.c.project_id == project_id, db.segments.c.subject_ref == digest)
                .order_by(db.segments.c.created_at, db.segments.c.id)
            ).scalars()
            if _outstanding(conn, str(s))
        ]
        if not found:
            raise ErasureError(
                "unknown_target", "no recording of this subject in the project (or erased already)"
            )
        return [(SEGMENT, s) for s in _with_cuts(conn, found)]
    if scope == "project":
        every = conn.execute(
            select(db.segments.c.id)
            .where(db.segments.c.project_id == project_id)
            .order_by(db.segments.c.created_at, db.segments.c.id)
        ).scalars()
        live = [str(s) for s in every if _outstanding(conn, str(s))]
        return [(SEGMENT, s) for s in live] + [(PROJECT, project_id)]
    raise ErasureError("unknown_scope", f"scope must be one of {', '.join(SCOPES)}")


def request(
    ctx: ServerContext, project_id: str, scope: str, target: str, actor: audit.Actor,
    items: Sequence[tuple[str, str]] | None = None,
) -> str:  # fmt: skip
    """Write the job down (nothing destroyed yet); its id. ``items``: a retention plan."""
    with ctx.transaction() as conn:
        planned = list(items) if items is not None else plan(ctx, conn, project_id, scope, target)
        erasure_id = new_id("era")
        if scope == "subject":  # kept as its digest: the job names no person
            target = _subject_ref(ctx, conn, project_id, target)
        conn.execute(
            insert(db.erasures).values(
                id=erasure_id, scope=scope,
                target=target,
                project_id=project_id, requested_by=actor.user_id, state="running",
                created_at=int(time.time()),
            )
        )  # fmt: skip
        for kind, item_id in planned:
            conn.execute(
                insert(db.erasure_items).values(erasure_id=erasure_id, kind=kind, item_id=item_id)
            )
    return erasure_id


def _subject_ref(ctx: ServerContext, conn: Connection, project_id: str, subject: str) -> str:
    key = conn.execute(
        select(db.projects.c.wrapped_key).where(db.projects.c.id == project_id)
    ).scalar_one()
    return segment_meta.ref(ctx.vault, project_id, key, "subject", subject)


# -- running ---------------------------------------------------------------------------
def run(
    ctx: ServerContext, erasure_id: str, *, between: Callable[[], None] | None = None
) -> Receipt:
    """Erase every item of the job not erased yet, then close it; its receipt.

    ``between`` runs after each item (tests use it to stop a job half way).
    """
    with ctx.engine.connect() as conn:
        job = conn.execute(select(db.erasures).where(db.erasures.c.id == erasure_id)).first()
        if job is None:
            raise ErasureError("unknown_erasure", f"no erasure {erasure_id}")
        pending = conn.execute(
            select(db.erasure_items.c.kind, db.erasure_items.c.item_id).where(
                db.erasure_items.c.erasure_id == erasure_id, db.erasure_items.c.done_at.is_(None)
            )
        ).all()
    order = (SEGMENT, AUDIO, LABELS, DRAFTS, PROJECT)
    for kind, item_id in sorted(pending, key=lambda p: (order.index(p.kind), p.item_id)):
        _erase_item(ctx, job, kind, item_id)
        if between is not None:
            between()
    _sweep_blobs(ctx, job.project_id)
    with ctx.transaction() as conn:
        state = conn.execute(
            select(db.erasures.c.state).where(db.erasures.c.id == erasure_id)
        ).scalar_one()
        if state != "done":
            where = audit.record(
                conn, audit.Actor(job.requested_by), AccessAction.ERASURE_DONE, reason=job.scope,
                project_id=job.project_id,
            )  # fmt: skip
            conn.execute(
                update(db.erasures)
                .where(db.erasures.c.id == erasure_id)
                .values(
                    state="done", finished_at=int(time.time()),
                    done_leaf=where[1] if where else None,
                )
            )  # fmt: skip
    return receipt(ctx, erasure_id)


def resume(ctx: ServerContext) -> list[Receipt]:
    """Finish every job a crash left running (at server start and ``retention run``)."""
    with ctx.engine.connect() as conn:
        running = conn.execute(
            select(db.erasures.c.id)
            .where(db.erasures.c.state == "running")
            .order_by(db.erasures.c.created_at, db.erasures.c.id)
        ).scalars()
        ids = [str(i) for i in running]
    return [run(ctx, i) for i in ids]


def _erase_item(ctx: ServerContext, job: Any, kind: str, item_id: str) -> None:
    now = int(time.time())
    actor = audit.Actor(job.requested_by)
    with ctx.transaction() as conn:
        done = conn.execute(
            select(db.erasure_items.c.done_at).where(
                db.erasure_items.c.erasure_id == job.id,
                db.erasure_items.c.kind == kind,
                db.erasure_items.c.item_id == item_id,
            )
        ).scalar()
        if done is not None:
            return
        segment_id = task_id = None
        if _gone_already(conn, kind, item_id):  # another job (retention, a request) erased it
            _mark_done(conn, job.id, kind, item_id, now, None)
            return
        if kind == SEGMENT:
            _drop_tasks(conn, _task_ids(conn, item_id))
            _drop_gold(conn, item_id)
            _drop_audio(conn, item_id, now, forget_subject=True)
            segment_id = item_id
        elif kind == AUDIO:
            _drop_audio(conn, item_id, now, forget_subject=False)
            segment_id = item_id
        elif kind == LABELS:
            _drop_labels(conn, [item_id], now)
            task_id = item_id
        elif kind == DRAFTS:  # "<task>@<cut-off time>": drafts saved before it go
            task_id, _, before = item_id.partition("@")
            _drop_drafts(conn, task_id, int(before))
        elif kind == PROJECT:
            conn.execute(
                update(db.projects)
                .where(db.projects.c.id == item_id)
                .values(wrapped_key=b"", erased_at=now)
            )
        where = audit.record(
            conn, actor, AccessAction.ERASED, reason=kind, project_id=job.project_id,
            task_id=task_id, segment_id=segment_id,
        )  # fmt: skip
        _mark_done(conn, job.id, kind, item_id, now, where[1] if where else None)
    if kind in (SEGMENT, AUDIO):
        _unlink_blob(ctx, item_id)


def _mark_done(
    conn: Connection, job_id: str, kind: str, item_id: str, now: int, leaf: int | None
) -> None:
    conn.execute(
        update(db.erasure_items)
        .where(
            db.erasure_items.c.erasure_id == job_id,
            db.erasure_items.c.kind == kind,
            db.erasure_items.c.item_id == item_id,
        )
        .values(done_at=now, leaf_seq=leaf)
    )


def _gone_already(conn: Connection, kind: str, item_id: str) -> bool:
    if kind == SEGMENT:
        return not _outstanding(conn, item_id)
    if kind == AUDIO:
        erased = conn.execute(
            select(db.segments.c.erased_at).where(db.segments.c.id == item_id)
        ).scalar()
        return erased is not None
    if kind == LABELS:
        task = conn.execute(select(db.tasks.c.erased_at).where(db.tasks.c.id == item_id)).first()
        return task is None or task.erased_at is not None
    if kind == PROJECT:
        erased = conn.execute(
            select(db.projects.c.erased_at).where(db.projects.c.id == item_id)
        ).scalar()
        return erased is not None
    return False


def _task_ids(conn: Connection, segment_id: str) -> list[str]:
    return [
        str(t)
        for t in conn.execute(
            select(db.tasks.c.id).where(db.tasks.c.segment_id == segment_id)
        ).scalars()
    ]


def _drop_records(conn: Connection, task_ids: Sequence[str]) -> None:
    """Every sealed record of the tasks (the rows go; ``secure_delete`` zeroes them)."""
    labels = select(db.labels.c.id).where(db.labels.c.task_id.in_(task_ids))
    conn.execute(delete(db.label_revisions).where(db.label_revisions.c.label_id.in_(labels)))
    conn.execute(delete(db.labels).where(db.labels.c.task_id.in_(task_ids)))
    conn.execute(delete(db.review_comments).where(db.review_comments.c.task_id.in_(task_ids)))
    conn.execute(
        update(db.task_transitions)
        .where(db.task_transitions.c.task_id.in_(task_ids))
        .values(sealed_reason=None)
    )
    # An ask still pending is closed: its reason is gone, nobody can judge it any more.
    conn.execute(
        update(db.context_requests)
        .where(
            db.context_requests.c.task_id.in_(task_ids),
            db.context_requests.c.status == "pending",
        )
        .values(status="denied", decided_at=int(time.time()))
    )
    conn.execute(
        update(db.context_requests)
        .where(db.context_requests.c.task_id.in_(task_ids))
        .values(sealed_justification=b"")
    )


def _drop_labels(conn: Connection, task_ids: Sequence[str], now: int) -> None:
    """Destroy the tasks' keys and delete their records; the task rows stay. A gold answer
    made from one of the tasks is a copy of its accepted document: it goes too."""
    _drop_records(conn, task_ids)
    copies = select(db.gold_answers.c.id).where(db.gold_answers.c.source_task_id.in_(task_ids))
    conn.execute(delete(db.gold_tasks).where(db.gold_tasks.c.gold_id.in_(copies)))
    conn.execute(delete(db.gold_answers).where(db.gold_answers.c.source_task_id.in_(task_ids)))
    conn.execute(
        update(db.tasks).where(db.tasks.c.id.in_(task_ids)).values(wrapped_key=None, erased_at=now)
    )


def _drop_tasks(conn: Connection, task_ids: Sequence[str]) -> None:
    """Delete the tasks and everything hanging off them (their keys go with the rows)."""
    if not task_ids:
        return
    _drop_records(conn, task_ids)
    for table in (db.task_transitions, db.context_requests, db.key_grants, db.gold_tasks):
        conn.execute(delete(table).where(table.c.task_id.in_(task_ids)))
    conn.execute(delete(db.gold_scores).where(db.gold_scores.c.task_id.in_(task_ids)))
    conn.execute(
        update(db.gold_answers)
        .where(db.gold_answers.c.source_task_id.in_(task_ids))
        .values(source_task_id=None)
    )
    conn.execute(delete(db.tasks).where(db.tasks.c.id.in_(task_ids)))


def _drop_audio(conn: Connection, segment_id: str, now: int, *, forget_subject: bool) -> None:
    """Destroy the recording's data key and what describes it; keep a tombstone row.

    Retention (``forget_subject=False``) keeps the subject's digest while labels remain,
    so a later erasure request for the subject still finds them.
    """
    values: dict[str, object] = {
        "wrapped_data_key": b"", "title": "", "sealed_title": None, "title_ref": None,
        "plaintext_sha256": None, "erased_at": now,
    }  # fmt: skip
    if forget_subject:
        values["subject_ref"] = None
    conn.execute(update(db.segments).where(db.segments.c.id == segment_id).values(**values))
    # A hash of the plaintext can confirm which recording it was: it goes with the audio.
    conn.execute(
        update(db.label_revisions)
        .where(db.label_revisions.c.task_id.in_(_task_ids(conn, segment_id)))
        .values(plaintext_sha256=None)
    )


def _drop_gold(conn: Connection, segment_id: str) -> None:
    """The recording's known answer (a label document about it), and its gold tasks."""
    gold_ids = select(db.gold_answers.c.id).where(db.gold_answers.c.segment_id == segment_id)
    conn.execute(delete(db.gold_tasks).where(db.gold_tasks.c.gold_id.in_(gold_ids)))
    conn.execute(delete(db.gold_answers).where(db.gold_answers.c.segment_id == segment_id))


def _drop_drafts(conn: Connection, task_id: str, before: int) -> None:
    drafts = (
        select(db.labels.c.id)
        .join(db.label_revisions, db.label_revisions.c.label_id == db.labels.c.id)
        .where(
            db.labels.c.task_id == task_id,
            db.label_revisions.c.draft.is_(True),
            db.labels.c.created_at < before,
        )
    )
    ids = list(conn.execute(drafts).scalars())
    conn.execute(delete(db.label_revisions).where(db.label_revisions.c.label_id.in_(ids)))
    conn.execute(delete(db.labels).where(db.labels.c.id.in_(ids)))


def _unlink_blob(ctx: ServerContext, segment_id: str) -> None:
    with ctx.engine.connect() as conn:
        name = conn.execute(
            select(db.segments.c.blob_name).where(db.segments.c.id == segment_id)
        ).scalar()
    if name is None:
        return
    ctx.data.blobs.delete(str(name))  # durable before the receipt says so


def _sweep_blobs(ctx: ServerContext, project_id: str) -> None:
    """Delete any blob of an erased recording still on disk (a crash between commit and
    unlink leaves one)."""
    with ctx.engine.connect() as conn:
        erased = conn.execute(
            select(db.segments.c.id).where(
                db.segments.c.project_id == project_id, db.segments.c.erased_at.is_not(None)
            )
        ).scalars()
        ids = [str(i) for i in erased]
    for segment_id in ids:
        _unlink_blob(ctx, segment_id)


# -- receipts --------------------------------------------------------------------------
_DESTROYED = {
    SEGMENT: [
        "data key",
        "blob",
        "task keys",
        "labels",
        "comments",
        "reasons",
        "title",
        "gold answer",
    ],
    AUDIO: ["data key", "blob", "title"],
    LABELS: ["task key", "labels", "comments", "reasons"],
    DRAFTS: ["draft revisions"],
    PROJECT: ["project key"],
}


def receipt(ctx: ServerContext, erasure_id: str) -> Receipt:
    with ctx.engine.connect() as conn:
        job = conn.execute(select(db.erasures).where(db.erasures.c.id == erasure_id)).one()
        rows = conn.execute(
            select(db.erasure_items)
            .where(db.erasure_items.c.erasure_id == erasure_id)
            .order_by(db.erasure_items.c.kind, db.erasure_items.c.item_id)
        ).all()
    log_id = store.log_for(job.project_id)
    return Receipt(
        erasure_id=str(job.id), scope=str(job.scope), target=str(job.target),
        project_id=str(job.project_id), state=str(job.state),
        items=[
            ReceiptItem(r.kind, r.item_id, log_id, int(r.leaf_seq), list(_DESTROYED[r.kind]))
            for r in rows if r.done_at is not None and r.leaf_seq is not None
        ],
        done_log_id=log_id if job.state == "done" else None,
        done_leaf_index=job.done_leaf,
        created_at=int(job.created_at), finished_at=job.finished_at,
    )  # fmt: skip
