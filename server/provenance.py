"""Provenance: where each label revision came from, and the chain of a task's revisions.

Every stored revision records the schema version it was made under, the client
version that made it, the author and their role, the workstation (device), the
revision it was based on, and the SHA-256 of the recording's ciphertext and of
its plaintext as ingested. ``cordon-server lineage --task T`` prints the chain;
every export line carries it, so a training set can be traced back to the
recording, the people and the tools that made each label. Revisions stored before
this was recorded show ``null`` where it is unknown.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, select

from server import db


@dataclass(frozen=True)
class RevisionProvenance:
    revision: int
    label_id: str
    stored_at: int
    author_id: str
    author: str
    author_role: str | None
    device_id: str | None
    base_revision: int | None
    draft: bool
    schema_version: int | None
    client_version: str | None
    ciphertext_sha256: str | None
    plaintext_sha256: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class UnknownTaskError(LookupError):
    """No such task."""

    code = "unknown_task"

    def __str__(self) -> str:
        return f"no task {self.args[0]}"


def chain(conn: Connection, task_id: str, *, drafts: bool = True) -> list[RevisionProvenance]:
    """The task's revisions, oldest first (``drafts=False``: handed-in ones only)."""
    if conn.execute(select(db.tasks.c.id).where(db.tasks.c.id == task_id)).first() is None:
        raise UnknownTaskError(task_id)
    rows = conn.execute(
        select(
            db.labels.c.id, db.labels.c.revision, db.labels.c.created_at, db.labels.c.author_id,
            db.users.c.username, db.label_revisions,
        )
        .join(db.users, db.users.c.id == db.labels.c.author_id)
        .outerjoin(db.label_revisions, db.label_revisions.c.label_id == db.labels.c.id)
        .where(db.labels.c.task_id == task_id)
        .order_by(db.labels.c.revision)
    ).all()  # fmt: skip
    out = []
    for r in rows:
        draft = bool(r.draft) if r.draft is not None else False
        if draft and not drafts:
            continue
        out.append(
            RevisionProvenance(
                revision=int(r.revision), label_id=str(r.id), stored_at=int(r.created_at),
                author_id=str(r.author_id), author=str(r.username), author_role=r.author_role,
                device_id=r.device_id, base_revision=r.base_revision, draft=draft,
                schema_version=r.schema_version, client_version=r.client_version,
                ciphertext_sha256=r.ciphertext_sha256, plaintext_sha256=r.plaintext_sha256,
            )
        )  # fmt: skip
    return out


def task_record(conn: Connection, task_id: str) -> dict[str, Any]:
    """What a lineage print or an export line says about the task itself (ids only)."""
    row = conn.execute(
        select(db.tasks.c.id, db.tasks.c.project_id, db.tasks.c.segment_id, db.tasks.c.status,
               db.segments.c.ciphertext_sha256, db.segments.c.plaintext_sha256,
               db.segment_windows.c.source_segment_id)
        .join(db.segments, db.segments.c.id == db.tasks.c.segment_id)
        .outerjoin(db.segment_windows, db.segment_windows.c.segment_id == db.segments.c.id)
        .where(db.tasks.c.id == task_id)
    ).first()  # fmt: skip
    if row is None:
        raise UnknownTaskError(task_id)
    return {
        "task_id": row.id,
        "project_id": row.project_id,
        "segment_id": row.segment_id,
        "cut_from": row.source_segment_id,
        "status": row.status,
        "segment_ciphertext_sha256": row.ciphertext_sha256,
        "segment_plaintext_sha256": row.plaintext_sha256,
    }
