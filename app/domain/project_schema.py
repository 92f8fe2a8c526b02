"""A project's annotation schema: speakers, labels, PII categories, hotkeys.

Declared by whoever runs the project (``cordon-server project schema``), stored
per version, and read by both the client (what to offer, which keys) and the
server (what to accept). :func:`parse_schema` refuses a bad file as a whole
with the JSON path of the first problem, so nothing is ever half-applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from app.wire.project_schema import ChoiceWire, ProjectSchemaWire, TaskLabelWire

MODIFIERS = ("Ctrl", "Alt", "Shift", "Meta")
_KEY = re.compile(r"^(?:[A-Z0-9]|F(?:[1-9]|1[0-2]))$")


class SchemaError(ValueError):
    """A schema file that cannot be applied; ``path`` is a JSON path (``$.pii[2].hotkey``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def json_path(loc: tuple[int | str, ...], root: str = "$") -> str:
    """``("segments", 2, "text")`` -> ``$.segments[2].text``."""
    out = root
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def normalise_hotkey(text: str) -> str:
    """``"alt+shift+n"`` -> ``"Alt+Shift+N"``; refuses keys that would collide with typing.

    A schema hotkey needs Ctrl or Alt: a bare letter or Shift+letter is text
    the annotator is typing into a segment.
    """
    parts = [p.strip() for p in text.split("+")]
    if not parts or any(not p for p in parts):
        raise ValueError(f"not a key combination: {text!r}")
    *mods, key = parts
    names = {m.lower(): m for m in MODIFIERS}
    chosen = []
    for mod in mods:
        if mod.lower() not in names:
            raise ValueError(f"unknown modifier {mod!r} (use {', '.join(MODIFIERS)})")
        chosen.append(names[mod.lower()])
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"a modifier is repeated in {text!r}")
    key = key.upper()
    if not _KEY.match(key):
        raise ValueError(f"unsupported key {key!r} (a letter, a digit or F1-F12)")
    if not ({"Ctrl", "Alt"} & set(chosen)) and not key.startswith("F"):
        raise ValueError("a hotkey needs Ctrl or Alt, or a function key: plain keys type text")
    ordered = [m for m in MODIFIERS if m in chosen]
    return "+".join([*ordered, key])


@dataclass(frozen=True)
class Choice:
    name: str
    title: str
    hotkey: str | None = None


@dataclass(frozen=True)
class Speaker(Choice):
    channel: int | None = None


@dataclass(frozen=True)
class SegmentLabel:
    name: str
    title: str
    multi: bool
    values: tuple[Choice, ...]
    required: bool = False

    def value(self, name: str) -> Choice | None:
        return next((v for v in self.values if v.name == name), None)


@dataclass(frozen=True)
class TaskLabel:
    name: str
    title: str
    kind: str  # "choice", "multi", "rating", "text"
    values: tuple[Choice, ...] = ()
    max: int = 5
    max_chars: int = 2_000
    required: bool = False


@dataclass(frozen=True)
class ProjectSchema:
    """Version 0 is the empty schema of a project that declared none."""

    version: int = 0
    title: str = ""
    speakers: tuple[Speaker, ...] = ()
    segment_labels: tuple[SegmentLabel, ...] = ()
    task_labels: tuple[TaskLabel, ...] = ()
    pii: tuple[Choice, ...] = ()
    require_speaker: bool = False
    require_text: bool = False
    _speakers: dict[str, Speaker] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._speakers.update({s.name: s for s in self.speakers})

    def names(self) -> frozenset[str]:
        """Every name the schema declares (speakers, labels, values, PII categories)."""
        names = {s.name for s in self.speakers} | {c.name for c in self.pii}
        for seg_label in self.segment_labels:
            names |= {seg_label.name, *(v.name for v in seg_label.values)}
        for task_label in self.task_labels:
            names |= {task_label.name, *(v.name for v in task_label.values)}
        return frozenset(names)

    def speaker(self, name: str) -> Speaker | None:
        return self._speakers.get(name)

    def segment_label(self, name: str) -> SegmentLabel | None:
        return next((f for f in self.segment_labels if f.name == name), None)

    def task_label(self, name: str) -> TaskLabel | None:
        return next((f for f in self.task_labels if f.name == name), None)

    def pii_category(self, name: str) -> Choice | None:
        return next((c for c in self.pii if c.name == name), None)


def _title(wire: ChoiceWire) -> str:
    return wire.title or wire.name.replace("_", " ")


def parse_schema(data: Any, version: int = 0) -> ProjectSchema:
    """Validate a schema as loaded from JSON/TOML; :class:`SchemaError` names the path."""
    try:
        wire = ProjectSchemaWire.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SchemaError(json_path(tuple(first["loc"])), first["msg"]) from None
    return from_wire(wire, version)


class _Hotkeys:
    """Every hotkey of a schema, normalised; a second use names the first."""

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}

    def __call__(self, path: str, text: str | None) -> str | None:
        if text is None:
            return None
        try:
            key = normalise_hotkey(text)
        except ValueError as exc:
            raise SchemaError(path, str(exc)) from None
        if key in self._seen:
            raise SchemaError(path, f"hotkey {key} is already used at {self._seen[key]}")
        self._seen[key] = path
        return key


def _unique(path: str, names: list[str], what: str) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise SchemaError(f"{path}[{i}].name", f"{what} {name!r} is declared twice")
        seen.add(name)


def _one_namespace(wire: ProjectSchemaWire) -> None:
    """Segment and task labels share one namespace: an export names a field by it alone."""
    seen: dict[str, str] = {}
    for group, names in (
        ("segment_labels", [f.name for f in wire.segment_labels]),
        ("task_labels", [f.name for f in wire.task_labels]),
    ):
        for i, name in enumerate(names):
            path = f"$.{group}[{i}].name"
            if name in seen:
                raise SchemaError(path, f"label name {name!r} is already used at {seen[name]}")
            seen[name] = path


def _task_label(path: str, t: TaskLabelWire, hotkey: _Hotkeys) -> TaskLabel:
    choice = t.kind in ("choice", "multi")
    if choice and not t.values:
        raise SchemaError(f"{path}.values", f"a {t.kind} field needs values")
    if not choice and t.values:
        raise SchemaError(f"{path}.values", f"a {t.kind} field has no values")
    if t.max is not None and t.kind != "rating":
        raise SchemaError(f"{path}.max", "only a rating has a max")
    if t.max_chars is not None and t.kind != "text":
        raise SchemaError(f"{path}.max_chars", "only a text field has max_chars")
    _unique(f"{path}.values", [v.name for v in t.values], "value")
    choices = tuple(
        Choice(v.name, _title(v), hotkey(f"{path}.values[{j}].hotkey", v.hotkey))
        for j, v in enumerate(t.values)
    )
    return TaskLabel(
        t.name, t.title or t.name, t.kind, choices, t.max or 5, t.max_chars or 2_000, t.required
    )


def from_wire(wire: ProjectSchemaWire, version: int) -> ProjectSchema:
    """The cross-field rules: unique names, unique hotkeys, complete field definitions."""
    hotkey = _Hotkeys()
    _unique("$.speakers", [s.name for s in wire.speakers], "speaker")
    _unique("$.pii", [c.name for c in wire.pii], "PII category")
    _one_namespace(wire)
    speakers = tuple(
        Speaker(s.name, _title(s), hotkey(f"$.speakers[{i}].hotkey", s.hotkey), s.channel)
        for i, s in enumerate(wire.speakers)
    )
    segment_labels = []
    for i, f in enumerate(wire.segment_labels):
        path = f"$.segment_labels[{i}]"
        _unique(f"{path}.values", [v.name for v in f.values], "value")
        values = tuple(
            Choice(v.name, _title(v), hotkey(f"{path}.values[{j}].hotkey", v.hotkey))
            for j, v in enumerate(f.values)
        )
        segment_labels.append(
            SegmentLabel(f.name, f.title or f.name, f.kind == "multi", values, f.required)
        )
    task_labels = tuple(
        _task_label(f"$.task_labels[{i}]", t, hotkey) for i, t in enumerate(wire.task_labels)
    )
    pii = tuple(
        Choice(c.name, _title(c), hotkey(f"$.pii[{i}].hotkey", c.hotkey))
        for i, c in enumerate(wire.pii)
    )
    return ProjectSchema(
        version=version,
        title=wire.title or "",
        speakers=speakers,
        segment_labels=tuple(segment_labels),
        task_labels=task_labels,
        pii=pii,
        require_speaker=wire.require_speaker,
        require_text=wire.require_text,
    )
