"""Which document a task opens with: the stored work, the local draft, or the user's choice.

A local draft wins when it was made on top of the stored work; when the server holds a
newer revision than the one the draft started from, both are offered (``WorkChoice``).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.label_document import LabelDocument
from app.domain.models import Task
from app.domain.project_schema import ProjectSchema
from app.services.drafts import Draft
from app.services.labels import StoredWork


@dataclass(frozen=True)
class LoadedWork:
    """What the network worker found for a task being opened."""

    task: Task
    schema: ProjectSchema
    stored: StoredWork | None
    draft: Draft | None
    draft_damaged: bool = False


@dataclass(frozen=True)
class WorkChoice:
    """A local draft made on an older revision than the server's newest: the annotator picks."""

    task: Task
    schema: ProjectSchema
    draft: Draft
    stored: StoredWork


def choose_work(work: LoadedWork) -> tuple[LabelDocument | None, int | None] | WorkChoice:
    """The document to open and its base revision, or a choice to put to the annotator."""
    stored, draft = work.stored, work.draft
    stored_base = None
    if stored is not None:
        stored_base = stored.revision if stored.revision is not None else stored.base_revision
    if draft is None:
        return (stored.document if stored else None), stored_base
    if stored is not None and stored.document == draft.document:  # a lock uploaded the draft
        return draft.document, stored_base if stored_base is not None else draft.base_revision
    if stored is None or stored.revision is None or stored.revision <= (draft.base_revision or 0):
        return draft.document, draft.base_revision  # nothing newer on the server
    return WorkChoice(work.task, work.schema, draft, stored)
