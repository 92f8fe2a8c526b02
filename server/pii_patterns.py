"""Personal data that has a shape: card numbers, IBANs, e-mail addresses, phone numbers, IDs.

Annotators mark personal data by hand and sometimes miss some; Cordon's server
suggests the spans that a pattern plus a checksum can find, and its exports run
the same pass so a missed card number never leaves unmasked. Only presidio's
pattern recognizers are used, called directly: its ``AnalyzerEngine`` loads a
spaCy pipeline (and tries to download a model), and the server runs offline.

Offline by construction:

* no NLP engine, so no model and no context words (presidio would raise a score
  near words such as "phone"; Cordon sets the scores itself, see ``_SPECS``);
* the e-mail recognizer checks the domain against the public suffix list through
  ``tldextract``, whose default instance fetches the list over the network;
  :class:`_OfflineEmailRecognizer` uses the snapshot bundled with ``tldextract``
  and no disk cache;
* phone numbers are validated by ``phonenumbers``' bundled metadata.

Chosen for ordinary call-centre and clinic prose (times, amounts, dates, doses,
order counts, room numbers give no hit at the default ``min_score``):

* card numbers (Luhn), IBANs (mod-97), e-mail: presidio scores a validated hit 1.0;
* phone numbers (US, GB, DE, FR numbering plans, ``phonenumbers`` leniency VALID):
  presidio's 0.4 assumes a context boost; a number that passed the numbering plan
  is scored 0.6 here;
* US SSN: only presidio's "medium" 3-2-4 pattern (its bare 9-digit and 5-4
  patterns would flag order and reference numbers), with presidio's invalidation
  rules (000/666 areas, published sample numbers); scored 0.6;
* UK National Insurance numbers: presidio's pattern in upper case only (its
  lower-case letters match prose such as "at 12 34 56 a day"); score 0.5;
* IP addresses: presidio's IPv4/IPv6 patterns (not a bare "::"), score 0.6.

Not used: dates (a date of birth cannot be told from an appointment date by
shape), US bank numbers and driver licences (bare digit runs), URLs.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from presidio_analyzer import EntityRecognizer

#: The longest text one call looks at: a whole comment (200,000 characters) fits.
MAX_TEXT_CHARS = 200_000


class PiiTextTooLong(ValueError):  # noqa: N818 - the name Cordon's callers know
    """The text is longer than :data:`MAX_TEXT_CHARS`; nothing was looked at."""

    code = "text_too_long"


@dataclass(frozen=True)
class PiiSuggestion:
    """One hit: Cordon's kind, presidio's entity, the character range, the score (0-1)."""

    kind: str
    entity: str
    char_start: int
    char_end: int
    score: float


@dataclass(frozen=True)
class _Spec:
    kind: str
    entity: str
    #: Cordon's score for a hit (``None``: keep presidio's, 1.0 for a passed checksum).
    score: float | None


#: In priority order: between two overlapping hits of equal score and length the
#: earlier wins (an SSN-shaped number is also a valid phone number somewhere).
_SPECS: tuple[_Spec, ...] = (
    _Spec("card_number", "CREDIT_CARD", None),
    _Spec("iban", "IBAN_CODE", None),
    _Spec("email", "EMAIL_ADDRESS", None),
    _Spec("national_id", "US_SSN", 0.6),
    _Spec("national_id", "UK_NINO", 0.5),
    _Spec("ip_address", "IP_ADDRESS", 0.6),
    _Spec("phone", "PHONE_NUMBER", 0.6),
)
_PHONE_REGIONS = ("US", "GB", "DE", "FR")
#: presidio's NINO pattern without its lower-case letters (prefixes HMRC never issues left out).
_NINO = (
    r"\b(?!BG|GB|NK|KN|NT|TN|ZZ)([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z])"
    r" ?([0-9]{2}) ?([0-9]{2}) ?([0-9]{2}) ?([A-D])\b"
)

#: Kind -> category names a project may use for it, best first. The kind's own name is
#: tried before these; the generic names (``account_number``, ``contact``) come last.
CATEGORY_SYNONYMS: dict[str, tuple[str, ...]] = {
    "card_number": ("credit_card", "payment_card", "card", "account_number", "financial"),
    "iban": ("iban_code", "bank_account", "account_number", "financial"),
    "email": ("email_address", "e_mail", "contact", "contact_details"),
    "phone": ("phone_number", "telephone", "contact", "contact_details"),
    "national_id": ("ssn", "national_insurance", "government_id", "id_number", "identifier"),
    "ip_address": ("ip", "online_identifier", "identifier"),
}

_lock = threading.Lock()
_recognizers: list[tuple[_Spec, EntityRecognizer]] | None = None


def _build() -> list[tuple[_Spec, EntityRecognizer]]:
    """The recognizers, once (importing presidio costs about a second)."""
    # presidio logs every recognizer it loads at INFO: names, no content, but noise.
    logging.getLogger("presidio-analyzer").setLevel(logging.WARNING)
    import tldextract  # noqa: PLC0415 - deferred: importing presidio costs about a second
    from presidio_analyzer import Pattern  # noqa: PLC0415
    from presidio_analyzer.predefined_recognizers import (  # noqa: PLC0415
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UkNinoRecognizer,
        UsSsnRecognizer,
    )

    extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class _OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return bool(extract(pattern_text).fqdn)

    ssn_medium = [p for p in UsSsnRecognizer.PATTERNS if "medium" in p.name]
    nino = UkNinoRecognizer(patterns=[Pattern("NINO (upper case)", _NINO, 0.5)])
    nino.global_regex_flags = re.DOTALL | re.MULTILINE  # case-sensitive
    # "::" alone (presidio scores it 0.1) is not worth the flat score given below.
    ip = IpRecognizer(patterns=[p for p in IpRecognizer.PATTERNS if p.score >= 0.5])
    made: dict[str, Callable[[], Any]] = {
        "CREDIT_CARD": CreditCardRecognizer,
        "IBAN_CODE": IbanRecognizer,
        "EMAIL_ADDRESS": _OfflineEmailRecognizer,
        "US_SSN": lambda: UsSsnRecognizer(patterns=ssn_medium),
        "UK_NINO": lambda: nino,
        "IP_ADDRESS": lambda: ip,
        "PHONE_NUMBER": lambda: PhoneRecognizer(supported_regions=_PHONE_REGIONS, leniency=1),
    }
    return [(spec, made[spec.entity]()) for spec in _SPECS]


def _get() -> list[tuple[_Spec, EntityRecognizer]]:
    global _recognizers  # noqa: PLW0603 - one set of recognizers per process
    with _lock:
        if _recognizers is None:
            _recognizers = _build()
        return _recognizers


def warm_up() -> None:
    """Build the recognizers now (at server start, not in the first request)."""
    _get()


def suggest(text: str, *, min_score: float = 0.5) -> list[PiiSuggestion]:
    """Hits in ``text`` scoring at least ``min_score``, in start order, none overlapping.

    Of overlapping hits the higher score wins, then the longer, then the earlier kind
    in ``_SPECS``. Raises :class:`PiiTextTooLong` past :data:`MAX_TEXT_CHARS`.
    """
    if len(text) > MAX_TEXT_CHARS:
        raise PiiTextTooLong(f"{len(text)} characters; at most {MAX_TEXT_CHARS} are looked at")
    if not text.strip():
        return []
    found: list[tuple[int, PiiSuggestion]] = []
    for rank, (spec, recognizer) in enumerate(_get()):
        # Pattern recognizers take no NLP artifacts (presidio's annotation says otherwise).
        for result in recognizer.analyze(text, [spec.entity], None):  # type: ignore[arg-type]
            raw = float(result.score)
            score = raw if spec.score is None or raw <= 0 else spec.score
            if score >= min_score and result.end > result.start:
                hit = PiiSuggestion(spec.kind, spec.entity, result.start, result.end, score)
                found.append((rank, hit))
    found.sort(key=lambda rh: (-rh[1].score, rh[1].char_start - rh[1].char_end, rh[0]))
    kept: list[PiiSuggestion] = []
    for _, hit in found:
        if all(hit.char_end <= k.char_start or k.char_end <= hit.char_start for k in kept):
            kept.append(hit)
    return sorted(kept, key=lambda h: (h.char_start, h.char_end))


def suggest_category(kind: str, categories: Sequence[str]) -> str | None:
    """The project's PII category for ``kind`` (its spelling), or ``None`` if none fits.

    The kind's own name first, then :data:`CATEGORY_SYNONYMS` in order; names are
    compared case-insensitively, with ``-`` and ``.`` read as ``_``.
    """
    by_key: dict[str, str] = {}
    for name in categories:
        by_key.setdefault(_key(name), name)
    for candidate in (kind, *CATEGORY_SYNONYMS.get(kind, ())):
        if (found := by_key.get(_key(candidate))) is not None:
            return found
    return None


def _key(name: str) -> str:
    return name.casefold().replace("-", "_").replace(".", "_")
