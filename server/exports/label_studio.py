"""Label Studio: a labelling config for ASR by segments, and the tasks to import with it.

Each Cordon segment becomes one Label Studio region on the audio: a ``labels``
result naming the speaker, a ``textarea`` result with the text and a
``choices`` result per segment label, all sharing the region's ``id`` (the
segment's id), which is how Label Studio ties per-region answers to their
region. PII spans are regions of their own under a second ``Labels`` control.
Task-level fields are results without a region. Times are seconds
(``frame / rate``); a segment's channel is kept when it has one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from xml.etree import ElementTree as ET

from app.domain.label_document import FieldValue, Segment
from app.domain.project_schema import ProjectSchema, TaskLabel
from server.exports.items import ExportItem
from server.exports.tiers import Names

AUDIO = "audio"


@dataclass(frozen=True)
class Controls:
    """The config's control names; the fixed ones step aside for a schema label of that name."""

    speaker: str
    transcription: str
    pii: str


def _controls(schema: ProjectSchema) -> Controls:
    names = Names("{base}_{n}")
    for name in (AUDIO, *(f.name for f in schema.segment_labels)):
        names.claim(name)
    for f in schema.task_labels:
        names.claim(f.name)
    return Controls(names.claim("speaker"), names.claim("transcription"), names.claim("pii"))


def _task_control(view: ET.Element, label: TaskLabel) -> None:
    ET.SubElement(view, "Header", value=label.title)
    attrs = {"name": label.name, "toName": AUDIO}
    if label.kind in ("choice", "multi"):
        choice = "multiple" if label.kind == "multi" else "single"
        control = ET.SubElement(view, "Choices", attrs, choice=choice)
        for value in label.values:
            ET.SubElement(control, "Choice", value=value.name)
    elif label.kind == "rating":
        ET.SubElement(view, "Rating", attrs, maxRating=str(label.max))
    else:
        ET.SubElement(view, "TextArea", attrs, editable="true", maxSubmissions="1")


def label_studio_config(schema: ProjectSchema) -> str:
    """The ``<View>`` labelling config matching :func:`label_studio_tasks` for this schema."""
    controls = _controls(schema)
    view = ET.Element("View")
    ET.SubElement(view, "Audio", name=AUDIO, value=f"${AUDIO}")
    speakers = ET.SubElement(view, "Labels", name=controls.speaker, toName=AUDIO)
    for speaker in schema.speakers:
        ET.SubElement(speakers, "Label", value=speaker.name)
    if schema.pii:
        pii = ET.SubElement(view, "Labels", name=controls.pii, toName=AUDIO)
        for category in schema.pii:
            ET.SubElement(pii, "Label", value=category.name)
    ET.SubElement(
        view,
        "TextArea",
        name=controls.transcription,
        toName=AUDIO,
        perRegion="true",
        editable="true",
    )
    for label in schema.segment_labels:
        ET.SubElement(view, "Header", value=label.title)
        control = ET.SubElement(
            view,
            "Choices",
            name=label.name,
            toName=AUDIO,
            perRegion="true",
            choice="multiple" if label.multi else "single",
        )
        for value in label.values:
            ET.SubElement(control, "Choice", value=value.name)
    for task_label in schema.task_labels:
        _task_control(view, task_label)
    ET.indent(view)
    return ET.tostring(view, encoding="unicode")


def _region(
    region_id: str, start: int, end: int, channel: int | None, item: ExportItem
) -> tuple[dict[str, object], dict[str, object]]:
    """The fields every result of one region shares, and its ``value`` times."""
    value: dict[str, object] = {
        "start": start / item.sample_rate,
        "end": end / item.sample_rate,
    }
    if channel is not None:
        value["channel"] = channel
    shared: dict[str, object] = {
        "id": region_id,
        "to_name": AUDIO,
        "origin": "manual",
        "original_length": item.frames / item.sample_rate,
    }
    return shared, value


def _segment_results(seg: Segment, item: ExportItem, c: Controls) -> list[dict[str, object]]:
    shared, times = _region(seg.id, seg.start, seg.end, seg.channel, item)
    results: list[dict[str, object]] = []
    if seg.speaker is not None:
        results.append(
            {**shared, "from_name": c.speaker, "type": "labels",
             "value": {**times, "labels": [seg.speaker]}}
        )  # fmt: skip
    results.append(
        {**shared, "from_name": c.transcription, "type": "textarea",
         "value": {**times, "text": [seg.text]}}
    )  # fmt: skip
    for name, values in seg.labels:
        results.append(
            {**shared, "from_name": name, "type": "choices",
             "value": {**times, "choices": list(values)}}
        )  # fmt: skip
    return results


def _task_result(name: str, value: FieldValue, schema: ProjectSchema) -> dict[str, object]:
    label = schema.task_label(name)
    kind = label.kind if label is not None else None
    result: dict[str, object] = {"from_name": name, "to_name": AUDIO, "origin": "manual"}
    if kind == "rating" or (kind is None and isinstance(value, int)):
        return {**result, "type": "rating", "value": {"rating": value}}
    if isinstance(value, tuple) or kind in ("choice", "multi"):
        choices = list(value) if isinstance(value, tuple) else [str(value)]
        return {**result, "type": "choices", "value": {"choices": choices}}
    return {**result, "type": "textarea", "value": {"text": [str(value)]}}


def _task(item: ExportItem, schema: ProjectSchema, c: Controls) -> dict[str, object]:
    doc = item.document
    results: list[dict[str, object]] = []
    for seg in doc.segments:
        results.extend(_segment_results(seg, item, c))
    for span in doc.pii:
        shared, times = _region(span.id, span.start, span.end, None, item)
        results.append(
            {**shared, "from_name": c.pii, "type": "labels",
             "value": {**times, "labels": [span.category]}}
        )  # fmt: skip
    results.extend(_task_result(name, value, schema) for name, value in doc.fields)
    return {
        "data": {
            AUDIO: item.audio_ref or "",
            "cordon_task": item.task_id,
            "cordon_segment": item.segment_id,
        },
        "annotations": [{"result": results}],
    }


def label_studio_tasks(items: Sequence[ExportItem], schema: ProjectSchema) -> bytes:
    """A JSON list of Label Studio tasks, one per item, each with its annotation (UTF-8)."""
    controls = _controls(schema)
    tasks = [_task(item, schema, controls) for item in items]
    return json.dumps(tasks, ensure_ascii=False, indent=1).encode("utf-8")
