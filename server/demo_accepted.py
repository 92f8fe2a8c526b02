"""The demo's finished work: one recording annotated, handed in and accepted, with PII.

A data owner trying Cordon needs accepted work to export, mask and erase; the
demo makes it the way people would (a stored revision, submit, claim, accept),
with the same sealing, provenance and audit leaves, from the label documents in
``<audio dir>/accepted/<title>.json``. The names and numbers in them are
invented, planted for masking to find.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from sqlalchemy import Connection, insert, select

from app.domain.lifecycle import Step
from app.wire.schemas import AccessAction, Role
from server import assignment, audit, db, provision, task_keys
from server.api import task_lifecycle
from server.api.task_access import TaskAccess
from server.context import ServerContext
from server.ingest import new_id

ACCEPTED = "accepted"


def accept_demo_work(
    ctx: ServerContext, project_id: str, audio_dir: Path, annotator: str, reviewer: str
) -> list[str]:
    """Make each ``accepted/<title>.json`` an accepted task of ``annotator``, once."""
    made = []
    for path in sorted((audio_dir / ACCEPTED).glob("*.json")):
        segment_id = provision.segment_titled(ctx.engine, ctx.vault, project_id, path.stem)
        if segment_id is None:
            continue
        with ctx.transaction() as conn:
            if assignment.has_task_on(conn, segment_id, annotator):
                continue
            task_id = assignment.assign(
                conn, segment_id, annotator, audit.Actor(None, None, "demo")
            ).task_id
            _store_and_accept(ctx, conn, task_id, path.read_bytes(), annotator, reviewer)
        made.append(task_id)
    return made


def _access(conn: Connection, task_id: str, role: Role) -> TaskAccess:
    task = conn.execute(select(db.tasks).where(db.tasks.c.id == task_id)).one()
    segment = conn.execute(select(db.segments).where(db.segments.c.id == task.segment_id)).one()
    project = conn.execute(select(db.projects).where(db.projects.c.id == task.project_id)).one()
    return TaskAccess(task, segment, project, role)


def _store_and_accept(
    ctx: ServerContext,
    conn: Connection,
    task_id: str,
    document: bytes,
    annotator: str,
    reviewer: str,
) -> None:
    access = _access(conn, task_id, Role.ANNOTATOR)
    label_id = new_id("lbl")
    stored = json.dumps({"document": json.loads(document), "base_revision": None, "draft": False})
    sealed = ctx.vault.seal_label(
        access.project_id, access.project.wrapped_key, label_id, task_id, stored.encode(),
        task_keys.ensure(conn, ctx.vault, task_id),
    )  # fmt: skip
    now = int(time.time())
    conn.execute(
        insert(db.labels).values(
            id=label_id, task_id=task_id, project_id=access.project_id, author_id=annotator,
            revision=1, sealed_transcript=sealed, created_at=now,
        )
    )  # fmt: skip
    conn.execute(
        insert(db.label_revisions).values(
            label_id=label_id, task_id=task_id, author_role=Role.ANNOTATOR.value,
            base_revision=None, draft=False, schema_version=json.loads(document)["schema_version"],
            client_version="demo", ciphertext_sha256=access.segment.ciphertext_sha256,
            plaintext_sha256=access.segment.plaintext_sha256,
        )
    )  # fmt: skip
    by_annotator = audit.Actor(annotator, None, "demo")
    access.record(conn, by_annotator, AccessAction.LABEL_STORED)
    task_lifecycle.apply(ctx, conn, access, by_annotator, Step.SUBMIT, revision=1)
    by_reviewer = audit.Actor(reviewer, None, "demo")
    review = _access(conn, task_id, Role.REVIEWER)
    task_lifecycle.apply(ctx, conn, review, by_reviewer, Step.CLAIM)
    review = _access(conn, task_id, Role.REVIEWER)
    task_lifecycle.apply(ctx, conn, review, by_reviewer, Step.ACCEPT, revision=1)
