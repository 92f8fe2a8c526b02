"""Submitting transcripts: into the outbox first, then to the server.

The label id is fixed per submission so a retry is idempotent.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from app.api.client import CordonApi
from app.domain.models import AccessEvent, Task
from app.services.events import EventRecorder
from app.services.outbox import Outbox, Ticket
from app.wire.schemas import AccessAction

logger = logging.getLogger(__name__)


def new_label_id() -> str:
    return f"lbl_{uuid.uuid4().hex}"


def label_body(
    task_id: str, label_id: str, transcript: str, regions: list[tuple[int, int]], *, draft: bool
) -> dict[str, Any]:
    """A label as the outbox keeps it (the uploader turns it into a ``LabelIn``)."""
    return {
        "task_id": task_id,
        "label_id": label_id,
        "transcript": transcript,
        "regions": [list(span) for span in regions],
        "draft": draft,
    }


class LabelService:
    def __init__(self, api: CordonApi, outbox: Outbox, events: EventRecorder) -> None:
        self._api = api
        self._outbox = outbox
        self._events = events

    def save(
        self,
        task: Task,
        label_id: str,
        transcript: str,
        regions: list[tuple[int, int]],
        *,
        draft: bool = False,
    ) -> Ticket:
        """Queue a transcript and its regions in the outbox; the ticket says when it is on disk.

        The uploader sends it (idempotent by ``label_id``). A draft is kept on
        the server for the annotator (the idle lock saves one instead of leaving
        the text readable on the workstation) without handing the task in.
        """
        ticket = self._outbox.append(
            "label", label_body(task.task_id, label_id, transcript, regions, draft=draft)
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

    def pending_transcript(self, task_id: str) -> tuple[str, list[tuple[int, int]]] | None:
        """The newest queued, not yet uploaded label of ``task_id`` (it beats the server's)."""
        for entry in reversed(self._outbox.pending()):
            if entry.kind == "label" and entry.body["task_id"] == task_id:
                return entry.body["transcript"], [(s, e) for s, e in entry.body["regions"]]
        return None

    def latest(self, task: Task) -> tuple[str, list[tuple[int, int]]] | None:
        """The newest transcript and regions of ``task``: queued here first, else the server's."""
        queued = self.pending_transcript(task.task_id)
        if queued is not None:
            return queued
        label = self._api.latest_label(task.task_id)
        if label is None:
            return None
        return label.transcript, [(r.start_frame, r.end_frame) for r in label.regions]
