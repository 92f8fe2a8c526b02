"""Submitting label documents: into the outbox first, then to the server.

The label id is fixed per submission so a retry is idempotent. The outbox
keeps the document's wire form; entries queued by an older Cordon in the
format-1 shape (``transcript`` + ``regions``) are read by :func:`outbox_document`.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from app.api.client import CordonApi
from app.domain.label_document import (
    LabelDocument,
    Segment,
    from_wire,
    sort_segments,
    to_json_dict,
    to_wire,
)
from app.domain.models import AccessEvent, Task
from app.domain.project_schema import ProjectSchema
from app.domain.project_schema import from_wire as schema_from_wire
from app.services.events import EventRecorder
from app.services.outbox import Outbox, Ticket
from app.wire.label_document import LabelDocumentWire
from app.wire.schemas import AccessAction

logger = logging.getLogger(__name__)


def new_label_id() -> str:
    return f"lbl_{uuid.uuid4().hex}"


@dataclass(frozen=True)
class StoredWork:
    """A task's newest annotation somewhere other than the editor."""

    document: LabelDocument
    #: The server revision this is; ``None`` while it waits in this workstation's outbox.
    revision: int | None
    #: The revision the work started from.
    base_revision: int | None
    draft: bool


def label_body(
    task_id: str,
    label_id: str,
    document: LabelDocument,
    *,
    base_revision: int | None,
    draft: bool,
) -> dict[str, Any]:
    """A label as the outbox keeps it (the uploader turns it into a ``LabelIn``)."""
    return {
        "task_id": task_id,
        "label_id": label_id,
        "document": to_json_dict(document),
        "base_revision": base_revision,
        "draft": draft,
    }


def outbox_document(body: dict[str, Any]) -> LabelDocumentWire:
    """The document of an outbox label entry, of either format.

    A format-1 entry has no audio length to place its call-wide transcript on,
    so the transcript becomes the document's comment and its regions become
    segments: nothing typed is dropped.
    """
    if "document" in body:
        return LabelDocumentWire.model_validate(body["document"])
    segments = [
        Segment(f"legacy{i}", int(start), int(end))
        for i, (start, end) in enumerate(body.get("regions", []))
    ]
    legacy = LabelDocument(
        segments=sort_segments(segments), comment=str(body.get("transcript", ""))
    )
    return to_wire(legacy)


class LabelService:
    def __init__(self, api: CordonApi, outbox: Outbox, events: EventRecorder) -> None:
        self._api = api
        self._outbox = outbox
        self._events = events

    def save(
        self,
        task: Task,
        label_id: str,
        document: LabelDocument,
        *,
        base_revision: int | None = None,
        draft: bool = False,
    ) -> Ticket:
        """Queue a document in the outbox; the ticket says when it is on disk.

        The uploader sends it (idempotent by ``label_id``). A draft is kept on
        the server for the annotator (the idle lock saves one instead of leaving
        the text readable on the workstation) without handing the task in.
        """
        ticket = self._outbox.append(
            "label",
            label_body(task.task_id, label_id, document, base_revision=base_revision, draft=draft),
        )
        self._events.record(
            AccessEvent(
                AccessAction.LABEL_SUBMITTED,
                task.task_id,
                task.segment_id,
                reason="draft" if draft else None,
            )
        )
        logger.info(
            "label %s of task %s queued%s", label_id, task.task_id, " (draft)" if draft else ""
        )
        return ticket

    def pending(self, task_id: str) -> StoredWork | None:
        """The newest queued, not yet uploaded label of ``task_id`` (it beats the server's)."""
        for entry in reversed(self._outbox.pending()):
            if entry.kind == "label" and entry.body["task_id"] == task_id:
                return StoredWork(
                    from_wire(outbox_document(entry.body)),
                    None,
                    entry.body.get("base_revision"),
                    bool(entry.body.get("draft")),
                )
        return None

    def latest(self, task: Task) -> StoredWork | None:
        """The newest document of ``task``: queued here first, else the server's."""
        queued = self.pending(task.task_id)
        if queued is not None:
            return queued
        label = self._api.latest_label(task.task_id)
        if label is None:
            return None
        return StoredWork(
            from_wire(label.document), label.revision, label.base_revision, label.draft
        )

    def schema(self, task: Task) -> ProjectSchema:
        """The project schema the task's documents are made under now."""
        out = self._api.task_schema(task.task_id)
        return schema_from_wire(out.definition, out.version)
