"""JSON Lines: one accepted task per line, the document exactly as Cordon keeps it.

The lossless export: times stay frames and the ``document`` field is the
document's own wire form, so the project's wire reader reads it back unchanged.
The other formats are views of this one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from app.domain.label_document import to_json_dict
from server.exports.items import ExportItem


def jsonl_lines(items: Sequence[ExportItem]) -> bytes:
    """One JSON object per item and line, sorted keys, UTF-8 (non-ASCII kept as is)."""
    lines = [
        json.dumps(
            {
                "task_id": item.task_id,
                "segment_id": item.segment_id,
                "title": item.title,
                "sample_rate": item.sample_rate,
                "frames": item.frames,
                "channels": item.channels,
                "document": to_json_dict(item.document),
                "provenance": dict(item.provenance),
                "audio": item.audio_ref,
            },
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
        )
        + "\n"
        for item in items
    ]
    return "".join(lines).encode("utf-8")
