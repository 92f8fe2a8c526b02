"""ELAN export read back by pympi, and checked against what the EAF 3.0 schema requires.

pympi reads a path, so the synthetic documents are written to pytest's ``tmp_path``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import xmlschema
from pympi import Elan

from app.domain.label_document import LabelDocument
from server.exports.eaf import eaf_bytes
from tests.unit.export_sample import (
    DOC,
    EMPTY,
    SCHEMA,
    Span,
    expected,
    item,
    ms,
    no_overlap,
    tiers_of,
)

#: ELAN's EAF 3.0 schema (MPI), kept beside the tests so a fresh machine validates too.
XSD = Path(__file__).resolve().parent.parent / "data" / "EAFv3.0.xsd"


def _read_eaf(data: bytes, tmp_path: Path) -> Any:
    path = tmp_path / "task.eaf"
    path.write_bytes(data)
    return Elan.Eaf(str(path))


@pytest.mark.parametrize("doc", [DOC, EMPTY], ids=["document", "empty"])
def test_eaf_reads_back_per_speaker_label_and_pii(doc: LabelDocument, tmp_path: Path) -> None:
    eaf = _read_eaf(eaf_bytes(item(doc), SCHEMA), tmp_path)
    names = list(eaf.get_tier_names())
    want = expected(doc, ms)
    bases = [s.name for s in SCHEMA.speakers] + [f.name for f in SCHEMA.segment_labels] + ["pii"]
    if any(s.speaker is None for s in doc.segments):
        bases.append("unassigned")
    assert sorted(n for b in bases for n in tiers_of(names, b)) == sorted(names)
    for base in bases:
        got: list[Span] = []
        for tier in tiers_of(names, base):
            spans = [(a, b, v or "") for a, b, v in eaf.get_annotation_data_for_tier(tier)]
            assert no_overlap(spans), f"ELAN cannot hold overlaps on {tier}"
            got.extend(spans)
        assert sorted(got) == want.get(base, []), base
    assert len(tiers_of(names, "customer")) == (2 if doc.segments else 1)


def test_eaf_vocabularies_come_from_the_schema(tmp_path: Path) -> None:
    eaf = _read_eaf(eaf_bytes(item(DOC), SCHEMA), tmp_path)
    vocab = {f.name: [v.name for v in f.values] for f in SCHEMA.segment_labels}
    vocab["pii"] = [c.name for c in SCHEMA.pii]
    for tier in eaf.get_tier_names():
        base = re.sub(r"-\d+$", "", tier)
        lt = eaf.get_parameters_for_tier(tier)["LINGUISTIC_TYPE_REF"]
        cv = eaf.get_parameters_for_linguistic_type(lt).get("CONTROLLED_VOCABULARY_REF")
        if base not in vocab:
            assert cv is None, tier
            continue
        entries = eaf.get_cv_entries(cv)
        assert sorted(v[0][0] for v, _ in entries.values()) == sorted(vocab[base]), tier
        for _, _, value in eaf.get_annotation_data_for_tier(tier):
            assert set(value.split("+")) <= set(vocab[base])


def test_eaf_names_media_and_task_fields(tmp_path: Path) -> None:
    eaf = _read_eaf(eaf_bytes(item(DOC), SCHEMA), tmp_path)
    (media,) = eaf.get_linked_files()
    assert media["RELATIVE_MEDIA_URL"] == "./audio/task%201.wav"
    properties = dict(eaf.get_properties())
    for name, value in DOC.fields:
        assert properties[f"cordon.field.{name}"] == str(value)
    assert properties["cordon.task_id"] == "task-1"
    assert not _read_eaf(eaf_bytes(item(DOC, audio=None), SCHEMA), tmp_path).get_linked_files()


@pytest.mark.parametrize("doc", [DOC, EMPTY], ids=["document", "empty"])
def test_eaf_validates_against_the_eaf_3_schema(doc: LabelDocument) -> None:
    xmlschema.XMLSchema(str(XSD)).validate(eaf_bytes(item(doc), SCHEMA).decode("utf-8"))


@pytest.mark.parametrize("doc", [DOC, EMPTY], ids=["document", "empty"])
def test_eaf_keeps_the_schema_order_and_references(doc: LabelDocument) -> None:
    """What the XSD's sequence and key/keyref rules require, checked without a validator."""
    xsd = ET.parse(XSD).getroot()  # noqa: S314 - a file of this repository's environment
    ns = {"xsd": "http://www.w3.org/2001/XMLSchema"}
    top = xsd.find("xsd:element[@name='ANNOTATION_DOCUMENT']/xsd:complexType/xsd:sequence", ns)
    assert top is not None
    order = [e.get("name") for e in top.findall("xsd:element", ns)]
    root = ET.fromstring(eaf_bytes(item(doc), SCHEMA))  # noqa: S314 - our own output
    tags = [child.tag for child in root]
    assert tags == sorted(tags, key=order.index)
    assert root.get("VERSION") == "3.0"

    def ids(path: str, attr: str) -> list[str]:
        return [str(e.get(attr)) for e in root.findall(path)]

    slots = ids("TIME_ORDER/TIME_SLOT", "TIME_SLOT_ID")
    annotations = ids("TIER/ANNOTATION/ALIGNABLE_ANNOTATION", "ANNOTATION_ID")
    assert len(set(slots)) == len(slots) and len(set(annotations)) == len(annotations)
    for ref in ("TIME_SLOT_REF1", "TIME_SLOT_REF2"):
        assert set(ids("TIER/ANNOTATION/ALIGNABLE_ANNOTATION", ref)) <= set(slots)
    assert set(ids("TIER", "LINGUISTIC_TYPE_REF")) <= set(
        ids("LINGUISTIC_TYPE", "LINGUISTIC_TYPE_ID")
    )
    cv_refs = {e.get("CONTROLLED_VOCABULARY_REF") for e in root.findall("LINGUISTIC_TYPE")}
    assert cv_refs - {None} <= set(ids("CONTROLLED_VOCABULARY", "CV_ID"))
    langs = ids("CONTROLLED_VOCABULARY/CV_ENTRY_ML/CVE_VALUE", "LANG_REF")
    assert set(langs) <= set(ids("LANGUAGE", "LANG_ID"))
    for media in root.findall("HEADER/MEDIA_DESCRIPTOR"):
        assert media.get("MEDIA_URL") and media.get("MIME_TYPE")
