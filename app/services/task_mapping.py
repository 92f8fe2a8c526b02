"""Wire task -> domain task."""

from __future__ import annotations

from app.domain.models import ProjectId, SegmentId, Task, TaskId
from app.wire.schemas import TaskOut


def task_from_wire(t: TaskOut) -> Task:
    return Task(
        task_id=TaskId(t.task_id),
        project_id=ProjectId(t.project_id),
        project_name=t.project_name,
        segment_id=SegmentId(t.segment_id),
        title=t.title,
        role=t.role,
        status=t.status,
        duration_s=t.duration_s,
        sample_rate=t.sample_rate,
        channels=t.channels,
        ciphertext_bytes=t.ciphertext_bytes,
        kind=t.kind,
        submit_coverage=t.submit_coverage,
        accept_coverage=t.accept_coverage,
        windowed=t.windowed,
        context_max_s=t.context_max_s,
    )
