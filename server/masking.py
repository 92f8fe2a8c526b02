"""Masked exports: personal data in a label document replaced by tokens, in audio by a bleep.

A masked export must be safe to hand to people who may not see the personal data,
yet still useful: the same account number read out twice should read as the same
token, so a reader can follow the call. Tokens are HMAC-SHA256 under a key drawn
for one export and never stored, so within an export they are stable and across
exports they cannot be linked (nor reversed by hashing guessed card numbers).

Annotators miss things, so by default the pattern pass of :mod:`server.pii_patterns`
also runs over all free text (segment text, the comment, text fields, a preference's
reason) and masks what it finds; a marked span that a pattern hit overlaps is
widened to cover both, so no part of a half-marked number is left behind.

Pure functions over frozen values; nothing here logs or keeps text.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from app.domain.label_document import LabelDocument, PiiSpan, Segment
from server.pii_patterns import suggest, suggest_category

#: Hex digits of the HMAC in a token: 32 bits, so distinct values in one export
#: practically never share a token.
TOKEN_HEX_DIGITS = 8


class MaskingError(ValueError):
    """The document cannot be masked as it is (a span's text range is not in its text)."""

    code = "masking_failed"


class Pseudonymizer:
    """Stable within one export, unlinkable across exports: HMAC-SHA256 under a random
    per-export key."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = secrets.token_bytes(32) if key is None else bytes(key)
        if len(self._key) < 16:
            raise ValueError("a pseudonym key has at least 16 bytes")

    def token(self, category: str, value: str) -> str:
        """``[CATEGORY-1a2b3c4d]``; the same for the same category and normalised value."""
        message = f"{category}\x00{normalise(value)}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).hexdigest()
        return f"[{category.upper()}-{digest[:TOKEN_HEX_DIGITS]}]"


def normalise(value: str) -> str:
    """The value as a token sees it: case folded; a value with digits (card, IBAN, phone)
    keeps only letters and digits, so "4111 1111" and "4111-1111" are one value; other
    text keeps single spaces between words."""
    folded = unicodedata.normalize("NFKC", value).casefold()
    if any(ch.isdigit() for ch in folded):
        return "".join(ch for ch in folded if ch.isalnum())
    return " ".join(folded.split())


@dataclass
class _Region:
    start: int
    end: int
    category: str
    marked: bool
    #: Indexes into the document's ``pii`` of the spans this region covers.
    spans: list[int]


def _replace(
    text: str, regions: list[_Region], pseudonyms: Pseudonymizer
) -> tuple[str, dict[int, tuple[int, int]]]:
    """``text`` with each region (overlapping ones merged) replaced by its token, and
    the token's range in the new text for each span index."""
    merged: list[_Region] = []
    for region in sorted(regions, key=lambda r: (r.start, -r.end, not r.marked)):
        last = merged[-1] if merged else None
        if last is None or region.start >= last.end:
            merged.append(replace(region, spans=list(region.spans)))
            continue
        if region.marked and not last.marked:
            last.category, last.marked = region.category, True
        last.end = max(last.end, region.end)
        last.spans.extend(region.spans)
    pieces: list[str] = []
    length = pos = 0
    ranges: dict[int, tuple[int, int]] = {}
    for region in merged:
        token = pseudonyms.token(region.category, text[region.start : region.end])
        kept = text[pos : region.start]
        pieces += [kept, token]
        start = length + len(kept)
        length = start + len(token)
        ranges.update(dict.fromkeys(region.spans, (start, length)))
        pos = region.end
    pieces.append(text[pos:])
    return "".join(pieces), ranges


def _pattern_regions(text: str, categories: Sequence[str]) -> list[_Region]:
    return [
        _Region(hit.char_start, hit.char_end, suggest_category(hit.kind, categories) or hit.kind,
                marked=False, spans=[])
        for hit in suggest(text)
    ]  # fmt: skip


def _marked_regions(doc: LabelDocument) -> dict[str, list[_Region]]:
    """The spans with a text range, by segment id."""
    by_segment: dict[str, list[_Region]] = {}
    for i, span in enumerate(doc.pii):
        if span.segment is None or span.char_start is None or span.char_end is None:
            continue
        owner = doc.segment(span.segment)
        if owner is None:
            raise MaskingError(f"PII span {span.id}: no segment {span.segment}")
        if not 0 <= span.char_start < span.char_end <= len(owner.text):
            raise MaskingError(f"PII span {span.id}: the range lies outside its segment's text")
        region = _Region(span.char_start, span.char_end, span.category, marked=True, spans=[i])
        by_segment.setdefault(owner.id, []).append(region)
    return by_segment


def mask_document(
    doc: LabelDocument,
    pseudonyms: Pseudonymizer,
    *,
    also_patterns: bool = True,
    categories: Sequence[str] = (),
) -> LabelDocument:
    """A new document with every marked text range replaced by its token, the spans'
    ranges pointing at the tokens; with ``also_patterns``, pattern hits in all free text
    masked too. ``categories``: the project's PII categories, so a pattern hit's token
    reads like a marked one (an unmarked card number as ``ACCOUNT_NUMBER``); without
    them a hit is named by its kind. Audio-only spans leave the text alone.

    Raises :class:`MaskingError` for a range outside its segment's text (never guessed),
    and :class:`server.pii_patterns.PiiTextTooLong` for an over-long text.
    """
    marked = _marked_regions(doc)
    ranges: dict[int, tuple[int, int]] = {}
    segments: list[Segment] = []
    for seg in doc.segments:
        regions = list(marked.get(seg.id, ()))
        if also_patterns:
            regions += _pattern_regions(seg.text, categories)
        if not regions:
            segments.append(seg)
            continue
        text, placed = _replace(seg.text, regions, pseudonyms)
        ranges.update(placed)
        segments.append(replace(seg, text=text))

    def free(text: str) -> str:
        if not also_patterns:
            return text
        return _replace(text, _pattern_regions(text, categories), pseudonyms)[0]

    pii: list[PiiSpan] = [
        replace(span, char_start=ranges[i][0], char_end=ranges[i][1]) if i in ranges else span
        for i, span in enumerate(doc.pii)
    ]
    pref = doc.preference
    return replace(
        doc,
        segments=tuple(segments),
        pii=tuple(pii),
        fields=tuple((k, free(v) if isinstance(v, str) else v) for k, v in doc.fields),
        comment=free(doc.comment),
        preference=None if pref is None else replace(pref, reason=free(pref.reason)),
        _index={},
    )


def unmarked_hit_spans(doc: LabelDocument) -> list[tuple[int, int]]:
    """The audio of every segment whose text has a pattern hit no PII span marks: the
    words' place in the audio is not known, so the whole segment is masked."""
    marked = _marked_regions(doc)
    out = []
    for segment in doc.segments:
        covered = marked.get(segment.id, [])
        for hit in suggest(segment.text):
            if not any(r.start <= hit.char_start and hit.char_end <= r.end for r in covered):
                out.append((segment.start, segment.end))
                break
    return out


def audio_spans(doc: LabelDocument) -> list[tuple[int, int]]:
    """The PII spans' frame ranges, sorted, overlapping and touching ones merged."""
    return _merge([(span.start, span.end) for span in doc.pii])


def _merge(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def bleep(
    samples: npt.NDArray[np.generic],
    sample_rate: int,
    spans: Sequence[tuple[int, int]],
    *,
    pad_ms: int = 100,
    mode: Literal["tone", "silence"] = "tone",
    tone_hz: float = 1000.0,
    level: float = 0.1,
) -> npt.NDArray[np.generic]:
    """A copy of ``samples`` (``(frames,)`` or ``(frames, channels)``, float or signed
    integer PCM, dtype kept) with each span, widened by ``pad_ms`` on both sides and
    clipped to the audio, replaced in every channel by a sine tone at ``level`` of full
    scale (phase from the frame index, so merged spans join without a click) or zeros.
    """
    if sample_rate <= 0 or pad_ms < 0:
        raise ValueError("sample_rate must be positive and pad_ms not negative")
    if samples.ndim not in (1, 2):
        raise ValueError("samples are (frames,) or (frames, channels)")
    if mode not in ("tone", "silence"):
        raise ValueError("mode is 'tone' or 'silence'")
    if mode == "tone" and not (0 < tone_hz < sample_rate / 2 and 0 <= level <= 1):
        raise ValueError("the tone lies between 0 and half the sample rate, its level in 0-1")
    kind = samples.dtype.kind
    if kind not in ("f", "i"):
        raise TypeError("samples are float or signed integer PCM")
    out = np.array(samples, copy=True)
    frames = out.shape[0]
    pad = round(sample_rate * pad_ms / 1000)
    widened = [(max(0, s - pad), min(frames, e + pad)) for s, e in spans]
    full_scale = 1.0 if kind == "f" else float(np.iinfo(out.dtype).max)
    for start, end in _merge(widened):
        if mode == "silence":
            out[start:end] = 0
            continue
        phase = 2.0 * np.pi * tone_hz * np.arange(start, end, dtype=np.float64) / sample_rate
        tone = level * full_scale * np.sin(phase)
        if kind == "i":
            tone = np.round(tone)
        out[start:end] = (tone[:, None] if out.ndim == 2 else tone).astype(out.dtype)
    return out
