"""Data classes: one word per project and recording that decides its controls.

A project's class is set when it is made (``cordon-server project class``), a
recording's at ingest (``--class``); a recording is handled under the stricter of
the two. The table below is the one place the controls are written; the server
enforces them (device at every key grant and download, context unlock, the
listening needed before acceptance, what an export must be) and sends them to the
client with each key grant (the watermark's strength). ``docs/security.md`` shows
the same table for people.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from sqlalchemy import Connection, select

from server import db


class DataClass(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    RESTRICTED = "restricted"


#: Strictness order (the stricter of a project's and a recording's class applies).
ORDER = (DataClass.PUBLIC, DataClass.INTERNAL, DataClass.CONFIDENTIAL, DataClass.RESTRICTED)
#: A project made without a class, and every project of an older data directory.
DEFAULT = DataClass.INTERNAL


@dataclass(frozen=True)
class Controls:
    """What a class requires. ``*_days``: the retention default (None keeps)."""

    watermark: Literal["light", "standard", "strong"]  # how visible the client's watermark is
    context_unlock: bool  # may an annotator ask for audio around a windowed task
    min_accept_coverage: int  # % of the audio a reviewer must have heard to accept
    managed_device: bool  # keys and audio only to workstations the organisation manages
    exports_masked: bool  # an export must be masked (pseudonyms, bleeped audio)
    exports_plaintext: bool  # may an export be written unencrypted
    audio_days: int | None
    label_days: int | None
    draft_days: int | None


CONTROLS: dict[DataClass, Controls] = {
    DataClass.PUBLIC: Controls("light", True, 0, False, False, True, None, None, None),
    DataClass.INTERNAL: Controls("standard", True, 0, False, False, False, None, None, None),
    DataClass.CONFIDENTIAL: Controls("standard", True, 50, False, True, False, 365, None, 90),
    DataClass.RESTRICTED: Controls("strong", False, 100, True, True, False, 90, 730, 30),
}


class DataClassError(ValueError):
    """Not a data class."""

    code = "unknown_class"


def parse(text: str) -> DataClass:
    try:
        return DataClass(text.strip().lower())
    except ValueError as exc:
        names = ", ".join(c.value for c in ORDER)
        raise DataClassError(f"unknown data class {text!r} (one of {names})") from exc


def stricter(*classes: str | None) -> DataClass:
    """The strictest of the ``classes`` that are set (none set: the default)."""
    chosen = [DataClass(c) for c in classes if c]
    return max(chosen, key=ORDER.index) if chosen else DEFAULT


def of_project(conn: Connection, project_id: str) -> DataClass:
    value = conn.execute(
        select(db.projects.c.data_class).where(db.projects.c.id == project_id)
    ).scalar()
    return stricter(value)


def of_segment(conn: Connection, segment_id: str) -> DataClass:
    """A recording's class: the stricter of its own, its source's (a cut) and its project's."""
    row = conn.execute(
        select(db.segments.c.data_class, db.projects.c.data_class.label("project_class"))
        .join(db.projects, db.projects.c.id == db.segments.c.project_id)
        .where(db.segments.c.id == segment_id)
    ).one()
    source = conn.execute(
        select(db.segments.c.data_class)
        .join(db.segment_windows, db.segment_windows.c.source_segment_id == db.segments.c.id)
        .where(db.segment_windows.c.segment_id == segment_id)
    ).scalar()
    # A recording without a class of its own is its project's (a project without one:
    # the default); one with a class is handled under the stricter of the two.
    return stricter(row.data_class, row.project_class or DEFAULT.value, source)


def controls(data_class: DataClass) -> Controls:
    return CONTROLS[data_class]
