"""JSON Lines, TextGrid and Label Studio exports, each read back by an independent reader.

Cordon's wire reader reads the JSON Lines, praatio the TextGrid, the standard
library the Label Studio config and tasks; the ELAN export has its own file
(``test_export_eaf.py``). Expectations come from the document
(:mod:`tests.unit.export_sample`), never from an earlier output. praatio reads
a path, so the synthetic documents are written to pytest's ``tmp_path``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from praatio import textgrid

from app.domain.label_document import LabelDocument, Segment, from_wire
from app.domain.project_schema import ProjectSchema, parse_schema
from app.wire.label_document import LabelDocumentWire
from server.exports.jsonl import jsonl_lines
from server.exports.label_studio import label_studio_config, label_studio_tasks
from server.exports.textgrid import textgrid_bytes
from tests.unit.export_sample import (
    DOC,
    EMPTY,
    FRAMES,
    RATE,
    SCHEMA,
    Span,
    expected,
    item,
    no_overlap,
    tiers_of,
)

BOTH = pytest.mark.parametrize("doc", [DOC, EMPTY], ids=["document", "empty"])

# --- JSON Lines -----------------------------------------------------------------------


def test_jsonl_round_trips_through_the_wire_reader() -> None:
    items = [item(DOC), item(EMPTY, audio=None)]
    data = jsonl_lines(items)
    lines = data.split(b"\n")
    assert lines[-1] == b"" and len(lines) == len(items) + 1
    assert "日本".encode() in data  # UTF-8, not \u escapes
    for line, sent in zip(lines, items, strict=False):
        row = json.loads(line)
        assert list(row) == sorted(row)
        back = from_wire(LabelDocumentWire.model_validate(row.pop("document")))
        assert back == sent.document
        assert row == {
            "task_id": sent.task_id, "segment_id": sent.segment_id, "title": sent.title,
            "sample_rate": sent.sample_rate, "frames": sent.frames, "channels": sent.channels,
            "provenance": dict(sent.provenance), "audio": sent.audio_ref,
        }  # fmt: skip
    assert jsonl_lines([]) == b""


# --- Praat TextGrid -------------------------------------------------------------------


def _read_textgrid(doc: LabelDocument, tmp_path: Path, empty: bool) -> Any:
    path = tmp_path / "task.TextGrid"
    path.write_bytes(textgrid_bytes(item(doc), SCHEMA))
    return textgrid.openTextgrid(str(path), includeEmptyIntervals=empty)


def _close(got: list[Span], want: list[Span]) -> bool:
    return len(got) == len(want) and all(
        abs(g[0] - w[0]) < 1e-6 and abs(g[1] - w[1]) < 1e-6 and g[2] == w[2]
        for g, w in zip(got, want, strict=True)
    )


@BOTH
def test_textgrid_reads_back_per_speaker_label_and_pii(doc: LabelDocument, tmp_path: Path) -> None:
    grid = _read_textgrid(doc, tmp_path, empty=False)
    names = list(grid.tierNames)
    assert grid.minTimestamp == 0 and grid.maxTimestamp == pytest.approx(FRAMES / RATE)
    want = expected(doc, lambda frame: frame / RATE)
    bases = [s.name for s in SCHEMA.speakers] + [f.name for f in SCHEMA.segment_labels] + ["pii"]
    if any(s.speaker is None for s in doc.segments):
        bases.append("unassigned")
    assert sorted(n for b in bases for n in tiers_of(names, b)) == sorted(names)
    for base in bases:
        got = sorted(e for t in tiers_of(names, base) for e in grid.getTier(t).entries)
        # A blank interval is a gap to Praat: a segment without text reads back as one.
        assert _close([(a, b, v) for a, b, v in got], [w for w in want.get(base, []) if w[2]])


@BOTH
def test_textgrid_tiers_tile_the_time_line(doc: LabelDocument, tmp_path: Path) -> None:
    grid = _read_textgrid(doc, tmp_path, empty=True)
    for tier in grid.tiers:
        spans = [(a, b, v) for a, b, v in tier.entries]
        assert no_overlap(spans)
        assert spans[0][0] == 0 and spans[-1][1] == pytest.approx(FRAMES / RATE)
        assert all(a[1] == b[0] for a, b in pairwise(spans))
    # The segment without text still has its boundaries on its speaker's tiers.
    silent = next(s for s in doc.segments if not s.text) if doc.segments else None
    if silent is not None:
        bounds = {
            (a, b)
            for t in tiers_of(list(grid.tierNames), "agent")
            for a, b, _ in grid.getTier(t).entries
        }
        assert (silent.start / RATE, silent.end / RATE) in bounds


# --- Label Studio ---------------------------------------------------------------------

TAG_FOR = {"labels": "Labels", "textarea": "TextArea", "choices": "Choices", "rating": "Rating"}


def _config(schema: ProjectSchema) -> tuple[str, dict[str, ET.Element]]:
    root = ET.fromstring(label_studio_config(schema))  # noqa: S314 - our own output
    assert root.tag == "View"
    (audio,) = root.findall("Audio")
    assert audio.get("value") == "$audio"
    controls = {str(e.get("name")): e for e in root if e.get("toName") is not None}
    assert len(controls) == len([e for e in root if e.get("toName") is not None])
    return str(audio.get("name")), controls


def _tasks(docs: list[LabelDocument], schema: ProjectSchema) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = json.loads(label_studio_tasks([item(d) for d in docs], schema))
    return tasks


def _check_results_name_controls(tasks: list[dict[str, Any]], schema: ProjectSchema) -> None:
    audio, controls = _config(schema)
    for task in tasks:
        for result in task["annotations"][0]["result"]:
            control = controls[result["from_name"]]
            assert result["to_name"] == audio == control.get("toName")
            assert control.tag == TAG_FOR[result["type"]]
            values = {c.get("value") for c in control}
            if result["type"] in ("labels", "choices"):
                assert set(result["value"][result["type"]]) <= values
            region = "start" in result["value"]
            assert region == (control.get("perRegion") == "true" or control.tag == "Labels")


def test_label_studio_results_name_controls_of_the_config() -> None:
    _check_results_name_controls(_tasks([DOC, EMPTY], SCHEMA), SCHEMA)
    _, controls = _config(SCHEMA)
    assert [c.get("value") for c in controls["speaker"]] == [s.name for s in SCHEMA.speakers]
    multi = {f.name: f.multi for f in SCHEMA.segment_labels}
    for name, is_multi in multi.items():
        assert controls[name].get("choice") == ("multiple" if is_multi else "single")


def test_label_studio_regions_carry_the_document() -> None:
    (task,) = _tasks([DOC], SCHEMA)
    assert task["data"] == {
        "audio": "audio/task 1.wav",
        "cordon_task": "task-1",
        "cordon_segment": "src-9",
    }
    regions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for result in task["annotations"][0]["result"]:
        regions[result.get("id", "")].append(result)
    task_level = regions.pop("")
    for seg in DOC.segments:
        by_control = {r["from_name"]: r["value"] for r in regions.pop(seg.id)}
        for value in by_control.values():
            assert (value["start"], value["end"]) == (seg.start / RATE, seg.end / RATE)
            assert value.get("channel") == seg.channel
        assert by_control.pop("transcription")["text"] == [seg.text]
        speaker = by_control.pop("speaker", None)
        assert (speaker["labels"] if speaker else None) == ([seg.speaker] if seg.speaker else None)
        assert {k: tuple(v["choices"]) for k, v in by_control.items()} == dict(seg.labels)
    for span in DOC.pii:
        (result,) = regions.pop(span.id)
        assert result["value"] == {
            "start": span.start / RATE,
            "end": span.end / RATE,
            "labels": [span.category],
        }
    assert not regions
    fields = {r["from_name"]: r["value"] for r in task_level}
    want = {n: v for n, v in DOC.fields}
    assert fields == {
        "outcome": {"choices": [want["outcome"]]},
        "audio_quality": {"rating": want["audio_quality"]},
        "notes": {"text": [want["notes"]]},
    }


def test_label_studio_fixed_controls_step_aside_for_a_label_of_that_name() -> None:
    schema = parse_schema(
        {"speakers": [{"name": "agent"}], "pii": [{"name": "person_name"}],
         "segment_labels": [{"name": "speaker", "kind": "single", "values": [{"name": "x"}]}],
         "task_labels": [{"name": "transcription", "kind": "text"}]}
    )  # fmt: skip
    seg = Segment("s1", 0, 100, None, "agent", "hi", (("speaker", ("x",)),))
    doc = LabelDocument(segments=(seg,), fields=(("transcription", "t"),))
    tasks = _tasks([doc], schema)
    _check_results_name_controls(tasks, schema)
    types = {(r["from_name"], r["type"]) for r in tasks[0]["annotations"][0]["result"]}
    assert ("speaker", "choices") in types and ("transcription", "textarea") in types
    assert len({n for n, _ in types}) == len(types)


def test_label_studio_empty_inputs() -> None:
    assert json.loads(label_studio_tasks([], SCHEMA)) == []
    (task,) = _tasks([EMPTY], SCHEMA)
    assert task["annotations"] == [{"result": []}]
    _config(ProjectSchema())
