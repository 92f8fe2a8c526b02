"""Masked exports: tokens stable within an export and unlinkable across, nothing planted left
in the document's JSON, ranges pointing at the tokens; bleeps over exactly the padded spans."""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from app.domain.document_check import check_document
from app.domain.label_document import LabelDocument, PiiSpan, Preference, Segment, to_json, to_wire
from app.domain.project_schema import parse_schema
from server.demo import DEMO_SCHEMA
from server.masking import MaskingError, Pseudonymizer, audio_spans, bleep, mask_document
from server.project_schemas import read_file

SCHEMA = parse_schema(read_file(DEMO_SCHEMA), version=1)
CATEGORIES = ("person_name", "account_number", "date_of_birth", "medical")
RATE = 16_000
FRAMES = RATE * 10
KEY = bytes(range(32))
TOKEN = re.compile(r"\[[A-Z_]+-[0-9a-f]{8}\]")

CARD = "4111 1111 1111 1111"
CARD_DASHED = "4111-1111-1111-1111"
NAME = "Jane Doe"
UNMARKED_CARD = "5555 5555 5555 4444"
UNMARKED_EMAIL = "jane.doe@example.com"
UNMARKED_PHONE = "+44 20 7946 0958"
UNMARKED_IBAN = "GB82 WEST 1234 5698 7654 32"
PLANTED = (CARD, CARD_DASHED, NAME, UNMARKED_CARD, UNMARKED_EMAIL, UNMARKED_PHONE, UNMARKED_IBAN)

TEXT1 = f"Hi, my account is {CARD} and I am {NAME}, thanks."
TEXT2 = f"Again, that is {CARD_DASHED}."
TEXT3 = f"You can also write to {UNMARKED_EMAIL} if you like."


def at(text: str, value: str) -> tuple[int, int]:
    start = text.index(value)
    return start, start + len(value)


def planted_document() -> LabelDocument:
    c1, n1, c2 = at(TEXT1, CARD), at(TEXT1, NAME), at(TEXT2, CARD_DASHED)
    surname = at(TEXT1, "Doe")
    return LabelDocument(
        schema_version=1,
        segments=(
            Segment("s1", 0, 32_000, 0, "customer", TEXT1),
            Segment("s2", 32_000, 64_000, 0, "customer", TEXT2),
            Segment("s3", 64_000, 96_000, 1, "agent", TEXT3),
        ),
        pii=(
            PiiSpan("p1", "account_number", 4_000, 12_000, "s1", *c1),
            PiiSpan("p2", "person_name", 20_000, 26_000, "s1", *n1),
            PiiSpan("p3", "person_name", 23_000, 26_000, "s1", *surname),  # inside p2
            PiiSpan("p4", "account_number", 36_000, 44_000, "s2", *c2),
            PiiSpan("p5", "medical", 100_000, 110_000),  # audio only
        ),
        fields=(("notes", f"call back on {UNMARKED_PHONE}"), ("outcome", "resolved")),
        comment=f"The caller also read out {UNMARKED_CARD} by mistake.",
        preference=Preference("a", 2, reason=f"refund to {UNMARKED_IBAN}"),
    )


def expected_token(category: str, normalised: str) -> str:
    message = f"{category}\x00{normalised}".encode()
    return f"[{category.upper()}-{hmac.new(KEY, message, hashlib.sha256).hexdigest()[:8]}]"


def test_the_same_number_in_two_segments_gets_one_token_and_the_ranges_point_at_it() -> None:
    doc = planted_document()
    masked = mask_document(doc, Pseudonymizer(KEY), categories=CATEGORIES)
    card_token = expected_token("account_number", "4111111111111111")
    spans = {span.id: span for span in masked.pii}
    for span_id in ("p1", "p4"):
        span = spans[span_id]
        seg = masked.segment(span.segment or "")
        assert seg is not None and span.char_start is not None
        assert seg.text[span.char_start : span.char_end] == card_token
    s1 = masked.segment("s1")
    assert s1 is not None
    name_token = expected_token("person_name", "jane doe")
    assert s1.text == f"Hi, my account is {card_token} and I am {name_token}, thanks."
    # The surname span lay inside the name span: both now cover the one token.
    assert (spans["p3"].char_start, spans["p3"].char_end) == (
        spans["p2"].char_start,
        spans["p2"].char_end,
    )
    assert spans["p5"] == doc.pii[4]
    assert [(s.start, s.end) for s in masked.pii] == [(s.start, s.end) for s in doc.pii]


def test_two_exports_give_unlinkable_tokens() -> None:
    first, second = Pseudonymizer(), Pseudonymizer()
    assert first.token("account_number", CARD) == first.token("account_number", CARD_DASHED)
    assert first.token("account_number", CARD) != second.token("account_number", CARD)
    assert first.token("account_number", CARD) != first.token("person_name", CARD)
    assert Pseudonymizer(KEY).token("person_name", "JANE  doe") == expected_token(
        "person_name", "jane doe"
    )
    with pytest.raises(ValueError, match="16 bytes"):
        Pseudonymizer(b"short")


def test_nothing_planted_is_left_in_the_masked_json() -> None:
    masked = mask_document(planted_document(), Pseudonymizer(), categories=CATEGORIES)
    wire = to_json(masked).decode()
    squeezed = re.sub(r"[\s\-]", "", wire).casefold()
    for value in PLANTED:
        assert value not in wire
        assert re.sub(r"[\s\-]", "", value).casefold() not in squeezed
    for fragment in ("4111", "5555", "7946", "WEST", "Doe", "example.com"):
        assert fragment not in wire


def test_unmarked_values_in_comment_fields_and_text_are_masked_by_the_pattern_pass() -> None:
    doc = planted_document()
    masked = mask_document(doc, Pseudonymizer(KEY), categories=CATEGORIES)
    card = expected_token("account_number", "5555555555554444")
    assert masked.comment == f"The caller also read out {card} by mistake."
    assert masked.field_value("notes") == f"call back on {expected_token('phone', '442079460958')}"
    assert masked.field_value("outcome") == "resolved"
    assert masked.preference is not None
    iban = expected_token("account_number", "gb82west12345698765432")
    assert masked.preference.reason == f"refund to {iban}"
    s3 = masked.segment("s3")
    assert s3 is not None
    email = expected_token("email", UNMARKED_EMAIL)
    assert s3.text == f"You can also write to {email} if you like."
    # Without the project's categories a hit is named by its kind.
    bare = mask_document(doc, Pseudonymizer(KEY))
    assert bare.comment == (
        f"The caller also read out {expected_token('card_number', '5555555555554444')} by mistake."
    )


def test_without_the_pattern_pass_only_marked_ranges_change() -> None:
    doc = planted_document()
    masked = mask_document(doc, Pseudonymizer(KEY), also_patterns=False)
    assert masked.comment == doc.comment and masked.fields == doc.fields
    assert masked.segments[2] == doc.segments[2]
    assert masked.preference == doc.preference
    assert CARD not in masked.segments[0].text and NAME not in masked.segments[0].text


#: A pairwise task: the one kind whose document carries a preference (with free text).
CHECK: dict[str, Any] = {
    "frames": FRAMES, "channels": 2, "final": True, "kind": "pairwise", "outputs": ("a", "b")
}  # fmt: skip


def test_the_masked_document_keeps_its_invariants() -> None:
    doc = planted_document()
    assert check_document(doc, SCHEMA, **CHECK) == []
    masked = mask_document(doc, Pseudonymizer(), categories=CATEGORIES)
    assert check_document(masked, SCHEMA, **CHECK) == []
    to_wire(masked)  # validates
    for span in masked.pii:
        if span.char_start is not None:
            seg = masked.segment(span.segment or "")
            assert seg is not None
            assert TOKEN.fullmatch(seg.text[span.char_start : span.char_end])


def test_a_range_outside_its_text_is_refused_not_guessed() -> None:
    doc = planted_document()
    broken = PiiSpan("bad", "person_name", 0, 100, "s2", 10, len(TEXT2) + 5)
    with pytest.raises(MaskingError):
        mask_document(LabelDocument(segments=doc.segments, pii=(broken,)), Pseudonymizer())


def test_audio_spans_are_the_pii_frames_merged() -> None:
    doc = planted_document()
    assert audio_spans(doc) == [(4_000, 12_000), (20_000, 26_000), (36_000, 44_000),
                                (100_000, 110_000)]  # fmt: skip
    assert audio_spans(LabelDocument()) == []


def speech_like(frames: int, channels: int, seed: int = 7) -> npt.NDArray[np.float32]:
    """Low-passed noise under a syllable-rate envelope, independent per channel."""
    rng = np.random.default_rng(seed)
    kernel = np.ones(8) / 8  # a crude low-pass: most energy below 2 kHz
    noise = rng.standard_normal((frames, channels))
    voiced = np.stack([np.convolve(noise[:, c], kernel, mode="same") for c in range(channels)], 1)
    t = np.arange(frames) / RATE
    envelope = 0.2 + 0.8 * np.sin(2 * np.pi * 4.0 * t) ** 2
    audio = voiced * envelope[:, None]
    out: npt.NDArray[np.float32] = (0.3 * audio / np.max(np.abs(audio))).astype(np.float32)
    return out


SPANS = [(0, 800), (16_000, 24_000), (30_000, 32_000), (47_500, 48_000)]
PAD = 1_600  # 100 ms at 16 kHz
PADDED = [(0, 2_400), (14_400, 25_600), (28_400, 33_600), (45_900, 48_000)]


def outside(frames: int) -> npt.NDArray[np.bool_]:
    mask = np.ones(frames, dtype=bool)
    for start, end in PADDED:
        mask[start:end] = False
    return mask


def test_silence_zeroes_exactly_the_padded_spans() -> None:
    audio = speech_like(48_000, 2)
    before = audio.copy()
    out = bleep(audio, RATE, SPANS, mode="silence")
    assert np.array_equal(audio, before)  # input untouched
    assert out.dtype == np.float32 and out.shape == audio.shape
    for start, end in PADDED:
        assert np.sqrt(np.mean(out[start:end].astype(np.float64) ** 2)) == 0.0
    keep = outside(48_000)
    assert np.array_equal(out[keep], audio[keep])
    assert np.all(audio[PADDED[1][0] - 1] != 0)  # the signal was there just before a pad


def test_a_tone_replaces_the_signal_in_every_channel() -> None:
    audio = speech_like(48_000, 2)
    before = audio.copy()
    out = bleep(audio, RATE, SPANS, mode="tone", tone_hz=1000.0, level=0.1)
    assert np.array_equal(audio, before)
    keep = outside(48_000)
    assert np.array_equal(out[keep], audio[keep])
    for start, end in PADDED:
        inside, original = out[start:end].astype(np.float64), audio[start:end].astype(np.float64)
        assert np.array_equal(inside[:, 0], inside[:, 1])
        for ch in range(2):
            corr = np.corrcoef(inside[:, ch], original[:, ch])[0, 1]
            assert abs(corr) < 0.05
        spectrum = np.abs(np.fft.rfft(inside[:, 0] * np.hanning(end - start))) ** 2
        freqs = np.fft.rfftfreq(end - start, 1 / RATE)
        near = np.abs(freqs - 1000.0) <= 50.0
        assert spectrum[near].sum() > 0.99 * spectrum.sum()
        assert np.max(np.abs(inside)) == pytest.approx(0.1, abs=2e-3)


def test_mono_and_integer_pcm_keep_their_shape_and_dtype() -> None:
    mono = (speech_like(16_000, 1)[:, 0] * 32_767).astype(np.int16)
    out = bleep(mono, RATE, [(8_000, 8_100)], pad_ms=0)
    assert out.dtype == np.int16 and out.shape == mono.shape
    assert np.array_equal(out[:8_000], mono[:8_000]) and np.array_equal(out[8_100:], mono[8_100:])
    assert 3_000 < int(np.max(np.abs(out[8_000:8_100]))) <= 3_277  # 0.1 of full scale
    assert np.array_equal(bleep(mono, RATE, []), mono)


def test_bad_arguments_are_refused() -> None:
    audio = np.zeros(100, dtype=np.float32)
    with pytest.raises(ValueError, match="half the sample rate"):
        bleep(audio, RATE, [(0, 10)], tone_hz=9_000.0)
    with pytest.raises(TypeError):
        bleep(np.zeros(100, dtype=np.uint8), RATE, [(0, 10)])
    with pytest.raises(ValueError, match="frames"):
        bleep(np.zeros((2, 2, 2), dtype=np.float32), RATE, [(0, 1)])


def test_a_half_marked_number_is_masked_whole_under_the_marked_category() -> None:
    text = f"the card is {CARD} ok"
    start, end = at(text, CARD)
    half = PiiSpan("p1", "account_number", 0, 100, "s1", start, start + 9)  # "4111 1111"
    doc = LabelDocument(segments=(Segment("s1", 0, 1_000, text=text),), pii=(half,))
    masked = mask_document(doc, Pseudonymizer(KEY))
    token = expected_token("account_number", "4111111111111111")
    assert masked.segments[0].text == f"the card is {token} ok"
    assert (masked.pii[0].char_start, masked.pii[0].char_end) == (start, start + len(token))
    assert end > start + 9
