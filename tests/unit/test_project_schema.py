"""Project schemas: the demo's applies; every bad file is refused whole, with its JSON path."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from app.domain.project_schema import SchemaError, normalise_hotkey, parse_schema
from server.demo import DEMO_SCHEMA
from server.project_schemas import read_file


def demo() -> dict[str, Any]:
    data: dict[str, Any] = read_file(DEMO_SCHEMA)
    return data


def test_the_demo_schema_parses_with_normalised_hotkeys() -> None:
    schema = parse_schema(demo(), version=3)
    assert schema.version == 3
    assert [(s.name, s.channel) for s in schema.speakers][:2] == [("agent", 0), ("customer", 1)]
    intent = schema.segment_label("intent")
    assert intent is not None and not intent.multi and intent.value("greeting") is not None
    assert schema.pii_category("account_number") is not None
    assert schema.task_label("outcome") is not None and schema.task_label("outcome").required  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("edit", "path", "words"),
    [
        (
            lambda d: d["segment_labels"][0].update(kind="tree"),
            "$.segment_labels[0].kind",
            "single",
        ),
        (lambda d: d.update(colour="red"), "$.colour", "Extra inputs"),
        (lambda d: d["pii"][1].update(hotkey="Alt+1"), "$.pii[1].hotkey", "$.speakers[0].hotkey"),
        (
            lambda d: d["task_labels"][2].update(name="intent"),
            "$.task_labels[2].name",
            "already used",
        ),
        (
            lambda d: d["speakers"].append(dict(d["speakers"][0], hotkey=None)),
            "$.speakers[3].name",
            "twice",
        ),
        (lambda d: d["speakers"][0].update(hotkey="G"), "$.speakers[0].hotkey", "Ctrl or Alt"),
        (lambda d: d["speakers"][0].update(hotkey="Hyper+G"), "$.speakers[0].hotkey", "modifier"),
        (
            lambda d: d["task_labels"][1].update(values=[{"name": "x"}]),
            "$.task_labels[1].values",
            "no values",
        ),
        (
            lambda d: d["task_labels"][0].update(values=[]),
            "$.task_labels[0].values",
            "needs values",
        ),
        (lambda d: d["task_labels"][0].update(max=3), "$.task_labels[0].max", "only a rating"),
        (
            lambda d: d["segment_labels"][1]["values"].append({"name": "noise"}),
            "$.segment_labels[1].values[3].name",
            "twice",
        ),
        (lambda d: d["speakers"][0].update(name="has space"), "$.speakers[0].name", "pattern"),
    ],
)
def test_a_bad_schema_is_refused_with_its_path(edit: Any, path: str, words: str) -> None:
    data = copy.deepcopy(demo())
    edit(data)
    with pytest.raises(SchemaError) as caught:
        parse_schema(data)
    assert caught.value.path == path
    assert words in caught.value.message


def test_hotkeys_normalise_and_compare_equal() -> None:
    assert normalise_hotkey("shift+alt+n") == "Alt+Shift+N"
    assert normalise_hotkey("F5") == "F5"
    data = copy.deepcopy(demo())
    data["pii"][0]["hotkey"] = "alt+ctrl+a"  # the same as Ctrl+Alt+A two entries later
    with pytest.raises(SchemaError, match="already used") as caught:
        parse_schema(data)
    assert caught.value.path == "$.pii[1].hotkey"


def test_toml_and_json_read_alike(tmp_path: Path) -> None:
    toml = tmp_path / "schema.toml"
    toml.write_text(
        '[[speakers]]\nname = "agent"\nchannel = 0\n\n'
        '[[pii]]\nname = "person_name"\nhotkey = "Ctrl+Alt+N"\n'
    )
    schema = parse_schema(read_file(toml))
    assert schema.speaker("agent") is not None and schema.pii[0].hotkey == "Ctrl+Alt+N"
    broken = tmp_path / "broken.json"
    broken.write_text('{"speakers": [}')
    with pytest.raises(SchemaError, match="line 1"):
        read_file(broken)
