"""ELAN (EAF 3.0): one tier per speaker, one per segment label, one for PII.

Built with pympi's document model and serialised through its element-tree
builder straight to bytes: pympi's own writer takes a file path, and a
transcript must not pass through a temp file. Times are milliseconds
(``round(frame * 1000 / rate)``); overlapping segments of one speaker go to
``<speaker>-2`` and so on (see :mod:`server.exports.tiers`). Label and PII tiers
use controlled vocabularies made from the schema, so ELAN offers the same
choices as Cordon. Channels are not represented: ELAN tiers have none.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import quote
from xml.etree import ElementTree as ET

from pympi import Elan

from app.domain.project_schema import Choice, ProjectSchema
from server.exports.items import ExportItem
from server.exports.tiers import VALUE_JOINER, Names, Tier, layout

EAF_VERSION = "3.0"
EAF_XSD = "http://www.mpi.nl/tools/elan/EAFv3.0.xsd"
#: Controlled vocabulary entries carry this language (the schema does not say which).
CV_LANGUAGE = "und"
_MIME = {
    "wav": "audio/x-wav",
    "flac": "audio/flac",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "m4a": "audio/mp4",
}


def to_ms(frame: int, sample_rate: int) -> int:
    return round(frame * 1000 / sample_rate)


def _span(sample_rate: int) -> Callable[[int, int], tuple[int, int]]:
    def span(start: int, end: int) -> tuple[int, int]:
        a = to_ms(start, sample_rate)
        # A span shorter than half a millisecond still needs a length in ELAN.
        return a, max(to_ms(end, sample_rate), a + 1)

    return span


def _new_document(created: datetime) -> Elan.Eaf:
    eaf = Elan.Eaf(author="Cordon")
    eaf.adocument.update(
        {
            "DATE": created.isoformat(timespec="seconds"),
            "VERSION": EAF_VERSION,
            "FORMAT": EAF_VERSION,
            "xsi:noNamespaceSchemaLocation": EAF_XSD,
        }
    )
    eaf.header = {"MEDIA_FILE": "", "TIME_UNITS": "milliseconds"}
    eaf.properties = []
    eaf.remove_tier("default")
    eaf.remove_linguistic_type("default-lt")
    eaf.add_language(CV_LANGUAGE, None, "undetermined (und)")
    return eaf


def _vocabulary(eaf: Elan.Eaf, cv_id: str, choices: tuple[Choice, ...]) -> None:
    eaf.add_controlled_vocabulary(cv_id)
    for choice in choices:
        eaf.add_cv_entry(cv_id, choice.name, [(choice.name, CV_LANGUAGE, choice.title)])


def _linguistic_type(eaf: Elan.Eaf, type_id: str, cv_id: str | None) -> None:
    params = {
        "LINGUISTIC_TYPE_ID": type_id,
        "TIME_ALIGNABLE": "true",
        "GRAPHIC_REFERENCES": "false",
    }
    if cv_id is not None:
        params["CONTROLLED_VOCABULARY_REF"] = cv_id
    eaf.add_linguistic_type(type_id, param_dict=params)


def _types(eaf: Elan.Eaf, tiers: list[Tier[int]], schema: ProjectSchema) -> dict[str, str]:
    """Linguistic types (with vocabularies) for the tiers; returns tier name -> type id.

    Speakers share one free-text type; each label and the PII tier get their own,
    restricted to the schema's values.
    """
    cv_names, type_names = Names(), Names()
    transcript = type_names.claim("transcript")
    _linguistic_type(eaf, transcript, None)
    by_source: dict[tuple[str, str], str] = {}
    out: dict[str, str] = {}
    for tier in tiers:
        if tier.kind == "speaker" or tier.source is None:
            out[tier.name] = transcript
            continue
        key = (tier.kind, tier.source)
        if key not in by_source:
            if tier.kind == "label":
                label = schema.segment_label(tier.source)
                choices = label.values if label is not None else ()
            else:
                choices = schema.pii
            cv_id = cv_names.claim(tier.source)
            _vocabulary(eaf, cv_id, choices)
            by_source[key] = type_names.claim(tier.source)
            _linguistic_type(eaf, by_source[key], cv_id)
        out[tier.name] = by_source[key]
    return out


def _media(eaf: Elan.Eaf, audio_ref: str) -> None:
    url = quote(posixpath.normpath(audio_ref))
    extension = audio_ref.rsplit(".", 1)[-1].lower()
    mime = _MIME.get(extension, "application/octet-stream")
    eaf.add_linked_file(url, relpath=f"./{url}", mimetype=mime)


def _properties(eaf: Elan.Eaf, item: ExportItem) -> None:
    eaf.add_property("cordon.task_id", item.task_id)
    eaf.add_property("cordon.segment_id", item.segment_id)
    if item.title:
        eaf.add_property("cordon.title", item.title)
    for name, value in item.document.fields:
        text = VALUE_JOINER.join(value) if isinstance(value, tuple) else str(value)
        eaf.add_property(f"cordon.field.{name}", text)


def eaf_bytes(item: ExportItem, schema: ProjectSchema, *, created: datetime | None = None) -> bytes:
    """The item's document as an EAF 3.0 file (UTF-8 bytes); ``created`` defaults to now."""
    eaf = _new_document(created or datetime.now(UTC))
    if item.audio_ref:
        _media(eaf, item.audio_ref)
    _properties(eaf, item)
    tiers = layout(item.document, schema, _span(item.sample_rate))
    types = _types(eaf, tiers, schema)
    for tier in tiers:
        participant = tier.source if tier.kind == "speaker" else None
        eaf.add_tier(tier.name, ling=types[tier.name], part=participant)
        for start, end, value in tier.entries:
            eaf.add_annotation(tier.name, start, end, value)
    # ELAN numbers new annotations after this one.
    eaf.add_property("lastUsedAnnotation", eaf.maxaid)
    root: ET.Element = Elan.to_adocument(eaf, pretty=True)
    data: bytes = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    return data
