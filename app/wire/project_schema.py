"""A project schema's JSON form: what the person running a project declares.

Read from the file given to ``cordon-server project schema`` (JSON or TOML),
stored by the server per version, and served to the client with each task.
Unknown keys and unknown kinds are refused here (``extra="forbid"``, literal
kinds); the rules that span fields — unique names, unique hotkeys — are in
:mod:`app.domain.project_schema`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from app.wire.base import Count, _Model
from app.wire.label_document import Name

MAX_CHOICES = 64
MAX_ITEMS = 64
#: Display names: shown in the client, never content.
Title = Annotated[str, Field(min_length=1, max_length=80)]
Hotkey = Annotated[str, Field(min_length=1, max_length=32)]


class ChoiceWire(_Model):
    name: Name
    title: Title | None = None
    hotkey: Hotkey | None = None


class SpeakerWire(ChoiceWire):
    #: The channel a new segment of this speaker starts on (agent = 0 = left).
    channel: Annotated[int, Field(ge=0, le=63)] | None = None


class SegmentLabelWire(_Model):
    name: Name
    title: Title | None = None
    kind: Literal["single", "multi"]
    values: Annotated[list[ChoiceWire], Field(min_length=1, max_length=MAX_CHOICES)]
    required: bool = False


class TaskLabelWire(_Model):
    name: Name
    title: Title | None = None
    kind: Literal["choice", "multi", "rating", "text"]
    values: Annotated[list[ChoiceWire], Field(max_length=MAX_CHOICES)] = Field(default_factory=list)
    #: A rating's top value (ratings run 1..max).
    max: Annotated[int, Field(ge=2, le=10)] | None = None
    #: A text field's longest value.
    max_chars: Annotated[int, Field(ge=1, le=10_000)] | None = None
    required: bool = False


class ProjectSchemaWire(_Model):
    title: Title | None = None
    speakers: Annotated[list[SpeakerWire], Field(max_length=MAX_ITEMS)] = Field(
        default_factory=list
    )
    segment_labels: Annotated[list[SegmentLabelWire], Field(max_length=MAX_ITEMS)] = Field(
        default_factory=list
    )
    task_labels: Annotated[list[TaskLabelWire], Field(max_length=MAX_ITEMS)] = Field(
        default_factory=list
    )
    pii: Annotated[list[ChoiceWire], Field(max_length=MAX_ITEMS)] = Field(default_factory=list)
    #: Every segment needs a speaker / some text before the task can be submitted.
    require_speaker: bool = False
    require_text: bool = False


class ProjectSchemaOut(_Model):
    """``GET /v1/tasks/{id}/schema``: the schema a task's documents are made under."""

    project_id: Annotated[str, Field(max_length=64)]
    version: Count
    definition: ProjectSchemaWire
