"""Each task's own key: made at the first record sealed for the task, destroyed by erasure.

The key is wrapped under the project key and kept on the task's row. Everything
written about one task — its label revisions, review comments, a rejection's
reason, a context justification — is sealed under it, so erasing a task (or a
label retention period running out) only has to destroy one wrapped key to make
every copy of those records unreadable, backups of the sealed bytes included.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, select, update

from server import db
from server.vault import KeyVault


class TaskErasedError(Exception):
    """The task's records were erased: nothing can be sealed or opened for it any more."""


def ensure(conn: Connection, vault: KeyVault, task_id: str) -> bytes:
    """The task's wrapped key, made (in ``conn``'s transaction) if it has none yet."""
    row = conn.execute(
        select(db.tasks.c.wrapped_key, db.tasks.c.erased_at, db.projects.c.id,
               db.projects.c.wrapped_key.label("project_key"))
        .join(db.projects, db.projects.c.id == db.tasks.c.project_id)
        .where(db.tasks.c.id == task_id)
    ).one()  # fmt: skip
    if row.erased_at is not None:
        raise TaskErasedError(task_id)
    if row.wrapped_key is not None:
        return bytes(row.wrapped_key)
    wrapped = vault.new_task_key(str(row.id), bytes(row.project_key), task_id)
    conn.execute(
        update(db.tasks)
        .where(db.tasks.c.id == task_id, db.tasks.c.wrapped_key.is_(None))
        .values(wrapped_key=wrapped)
    )
    stored = conn.execute(select(db.tasks.c.wrapped_key).where(db.tasks.c.id == task_id)).one()
    return bytes(stored.wrapped_key)  # another writer's key if it won the race


def open_stored_label(vault: KeyVault, project: Any, task: Any, label: Any) -> dict[str, Any]:
    """A stored label row of ``task`` opened (its JSON: document, base revision, draft)."""
    opened = vault.open_label(
        project.id, project.wrapped_key, label.id, task.id, label.sealed_transcript,
        task.wrapped_key,
    )  # fmt: skip
    stored: dict[str, Any] = json.loads(opened)
    return stored


def of(conn: Connection, task_id: str) -> bytes | None:
    """The task's wrapped key if it has one (records of older tasks use the project key)."""
    key = conn.execute(select(db.tasks.c.wrapped_key).where(db.tasks.c.id == task_id)).scalar()
    return bytes(key) if key is not None else None
