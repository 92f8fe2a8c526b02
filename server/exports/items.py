"""What an export writer is given: one accepted task, its document and where it came from.

The writers take this instead of database rows so they stay pure functions of
their input: the caller gathers the rows, the writers only lay them out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.domain.label_document import LabelDocument


@dataclass(frozen=True)
class ExportItem:
    """One accepted task as it leaves Cordon."""

    task_id: str
    segment_id: str
    #: May be empty.
    title: str
    sample_rate: int
    frames: int
    channels: int
    document: LabelDocument
    #: JSON-able; written as-is.
    provenance: Mapping[str, object]
    #: Relative path of the audio file inside the export, if any.
    audio_ref: str | None = None
