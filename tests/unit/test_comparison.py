"""RLHF comparisons without a server: the bundle format, the judgement, and its check."""

from __future__ import annotations

import pytest

from app.domain.comparison import BundleError, build_bundle, parse_bundle
from app.domain.document_check import check_document
from app.domain.label_document import LabelDocument, Preference
from app.domain.project_schema import ProjectSchema
from app.services.annotation import DocumentEditor
from app.wire.comparison import AudioPart, BundleHeader, ContentWire, OutputWire

SCHEMA = ProjectSchema()


def bundle(kind: str = "ranking", audio: bytes = b"RIFF-pretend-audio") -> bytearray:
    outputs = [
        OutputWire(id="x", text="one"),
        OutputWire(id="y", audio=AudioPart(offset=0, length=len(audio))),
    ]
    if kind == "ranking":
        outputs.append(OutputWire(id="z", text="three"))
    header = BundleHeader(kind=kind, prompt=ContentWire(text="the prompt"), outputs=outputs)  # type: ignore[arg-type]
    return bytearray(build_bundle(header, audio))


def test_a_bundle_parses_with_audio_as_views_into_the_buffer() -> None:
    data = bundle()
    parsed = parse_bundle(memoryview(data))
    assert parsed.kind == "ranking" and parsed.output_ids == ("x", "y", "z")
    assert parsed.prompt.text == "the prompt"
    clip = parsed.outputs[1].audio
    assert clip is not None and bytes(clip) == b"RIFF-pretend-audio"
    data[-1] = 0  # a view, not a copy: zeroing the buffer zeroes the clip
    assert bytes(clip)[-1] == 0


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.__setitem__(slice(0, 8), b"NOTCMP01"),
        lambda d: d.__setitem__(slice(8, 12), (1 << 30).to_bytes(4, "big")),
        lambda d: d.__delitem__(slice(len(d) - 5, len(d))),  # the audio part runs off the end
        lambda d: d.__setitem__(slice(12, 13), b"]"),  # the header is no longer JSON
    ],
)
def test_a_damaged_bundle_is_refused_whole(damage: object) -> None:
    data = bundle()
    damage(data)  # type: ignore[operator]
    with pytest.raises(BundleError):
        parse_bundle(memoryview(data))


def test_a_pairwise_bundle_has_exactly_two_distinct_outputs() -> None:
    with pytest.raises(ValueError, match="exactly two"):
        BundleHeader(kind="pairwise", prompt=ContentWire(text="p"),
                     outputs=[OutputWire(id=i, text="t") for i in "abc"])  # fmt: skip
    twice = [OutputWire(id="a", text="t"), OutputWire(id="a", text="u")]
    with pytest.raises(ValueError, match="unique"):
        BundleHeader(kind="ranking", prompt=ContentWire(text="p"), outputs=twice)


def editor(kind: str) -> DocumentEditor:
    outputs = ("a", "b") if kind == "pairwise" else ("x", "y", "z")
    return DocumentEditor(SCHEMA, 0, 0, 1, kind=kind, outputs=outputs)


def test_pairwise_choice_strength_and_reason() -> None:
    ed = editor("pairwise")
    ed.set_reason("B invents a date")  # typed before choosing: kept, not taken as a choice
    assert ed.snapshot().preference == Preference(None, None, "B invents a date")
    assert [p.path for p in ed.problems(final=True)] == ["$.preference.choice"]
    assert ed.problems(final=False) == []
    ed.choose("a", 3)
    assert ed.snapshot().preference == Preference("a", 3, "B invents a date")
    assert ed.problems(final=True) == []
    with pytest.raises(ValueError, match="tie has none"):
        ed.choose("tie", 2)
    ed.choose("tie", None)
    assert ed.snapshot().preference == Preference("tie", None, "B invents a date")


def test_ranking_moves_ties_and_needs_an_explicit_order() -> None:
    ed = editor("ranking")
    assert ed.ranking == (("x",), ("y",), ("z",)) and not ed.ranked
    assert [p.path for p in ed.problems(final=True)] == ["$.ranking"]
    ed.move_output("z", up=True)
    assert ed.ranking == (("x",), ("z",), ("y",)) and ed.ranked
    ed.toggle_tie("y")
    assert ed.ranking == (("x",), ("z", "y"))
    ed.move_output("y", up=True)  # a tied output leaves its group first
    assert ed.ranking == (("x",), ("y",), ("z",))
    ed.toggle_tie("y")
    ed.toggle_tie("y")  # and back
    assert ed.ranking == (("x",), ("y",), ("z",))
    assert ed.problems(final=True) == []
    fresh = editor("ranking")
    fresh.keep_order()
    assert fresh.snapshot().ranking == (("x",), ("y",), ("z",))


@pytest.mark.parametrize(
    ("kind", "doc", "path"),
    [
        ("ranking", LabelDocument(ranking=(("x",), ("q",))), "$.ranking[1][0]"),
        ("ranking", LabelDocument(ranking=(("x", "x"),)), "$.ranking[0][1]"),
        ("ranking", LabelDocument(preference=Preference("a", 1)), "$.preference"),
        ("pairwise", LabelDocument(ranking=(("a",),)), "$.ranking"),
        ("transcription", LabelDocument(preference=Preference("tie")), "$.preference"),
    ],
)
def test_a_judgement_that_does_not_fit_its_task_names_its_path(
    kind: str, doc: LabelDocument, path: str
) -> None:
    outputs = ("x", "y") if kind == "ranking" else ("a", "b")
    problems = check_document(doc, SCHEMA, frames=0, channels=0, final=False, kind=kind,
                              outputs=outputs)  # fmt: skip
    assert [p.path for p in problems][:1] == [path]
