"""Submitting transcripts. The label id is fixed per submission so a retry is idempotent."""

from __future__ import annotations

import logging
import uuid

from app.api.client import CordonApi
from app.domain.models import AccessEvent, Task
from app.services.events import EventRecorder
from app.wire.schemas import AccessAction, LabelAck, RegionSpan

logger = logging.getLogger(__name__)


def new_label_id() -> str:
    return f"lbl_{uuid.uuid4().hex}"


class LabelService:
    def __init__(self, api: CordonApi, events: EventRecorder) -> None:
        self._api = api
        self._events = events

    def submit(
        self,
        task: Task,
        label_id: str,
        transcript: str,
        regions: list[tuple[int, int]],
        *,
        draft: bool = False,
    ) -> LabelAck:
        """Send a transcript and its regions; raises ApiError (the caller keeps them).

        A draft is kept on the server for the annotator (the idle lock saves one
        instead of leaving the text on the workstation) without handing the task in.
        """
        spans = [RegionSpan(start_frame=s, end_frame=e) for s, e in regions]
        ack = self._api.submit_label(task.task_id, label_id, transcript, spans, draft=draft)
        self._events.record(
            AccessEvent(
                AccessAction.LABEL_SUBMITTED,
                task.task_id,
                task.segment_id,
                reason="draft" if draft else None,
            )
        )
        logger.info(
            "label %s stored as revision %d of task %s%s",
            label_id,
            ack.revision,
            task.task_id,
            " (draft)" if draft else "",
        )
        return ack

    def latest(self, task: Task) -> tuple[str, list[tuple[int, int]]] | None:
        """The newest stored transcript and regions of ``task`` (to resume, or for review)."""
        label = self._api.latest_label(task.task_id)
        if label is None:
            return None
        return label.transcript, [(r.start_frame, r.end_frame) for r in label.regions]
