"""Pattern suggestions: planted values found exactly, look-alikes and ordinary prose left alone,
and no network touched on the way."""

from __future__ import annotations

import itertools
import socket
from typing import Any

import pytest

from server import pii_patterns
from server.pii_patterns import (
    MAX_TEXT_CHARS,
    PiiSuggestion,
    PiiTextTooLong,
    suggest,
    suggest_category,
)

#: (value, kind, entity): published test numbers and reserved/fictional ranges.
PLANTED: tuple[tuple[str, str, str], ...] = (
    ("4111 1111 1111 1111", "card_number", "CREDIT_CARD"),  # Visa, spaces
    ("5555-5555-5555-4444", "card_number", "CREDIT_CARD"),  # Mastercard, dashes
    ("4012888888881881", "card_number", "CREDIT_CARD"),  # Visa, no separators
    ("GB82 WEST 1234 5698 7654 32", "iban", "IBAN_CODE"),
    ("DE89 3704 0044 0532 0130 00", "iban", "IBAN_CODE"),
    ("jane.doe@example.com", "email", "EMAIL_ADDRESS"),
    ("b.smith+billing@mail.co.uk", "email", "EMAIL_ADDRESS"),
    ("(212) 555-0123", "phone", "PHONE_NUMBER"),  # US
    ("+1 415 555 2671", "phone", "PHONE_NUMBER"),  # US, international form
    ("020 7946 0958", "phone", "PHONE_NUMBER"),  # UK, national form
    ("+44 20 7946 0958", "phone", "PHONE_NUMBER"),  # UK, international form
    ("030 12345678", "phone", "PHONE_NUMBER"),  # DE, national form
    ("+49 30 901820", "phone", "PHONE_NUMBER"),  # DE, international form
    ("536-90-4399", "national_id", "US_SSN"),
    ("AB 12 34 56 C", "national_id", "UK_NINO"),
)

#: Values that look like the above but fail their checksum or validation.
LOOK_ALIKES = (
    "4111 1111 1111 1112",  # Luhn fails
    "5555555555554445",  # Luhn fails
    "GB82 WEST 1234 5698 7654 33",  # mod-97 fails
    "DE89 3704 0044 0532 0130 01",  # mod-97 fails
    "someone@host.invalidtld",  # no public suffix
    "666-12-3456",  # SSN area never issued
)

PLANTED_TEXT = (
    "Thanks, so the card is {} and the backup card {}, or the old one {}. "
    "Refunds go to {}; the German account is {}. "
    "Write to {} or {}. "
    "Call me on {} or {}; in London {} or {}; in Berlin {} or {}. "
    "My social is {} and my NI number is {}."
).format(*(value for value, _, _ in PLANTED))

CLEAN_TEXT = """\
Good morning, thank you for calling the support line. I can see the order you placed on \
3 March; it was 12 items at $1,250.00 in total and it left our warehouse at 10:30 on the 4th. \
The courier tried twice, at 9:15 am and again at 2:45 pm, and the parcel is now at depot 7 \
with 3 other parcels. I have raised a refund of £45.99 and a credit of 1,500 points, which \
takes 3 to 5 working days. We have had 2,500 calls like this since 2019, and 98.5% are \
resolved on the first call. Press 1 for billing or 2 for support; the wait is about 45 minutes.

The appointment is in room 12 on the 2nd floor at 2:15 pm on 14/03/2024, and the follow-up \
is on 2024-04-02 at 11:00. Take 500 mg twice a day for 10 days, then 250 mg once a day; the \
dose for children is 0.5 ml per kg, up to 5 ml. Blood pressure was 120/80, pulse 72, \
temperature 37.5 degrees, and the HbA1c came back at 48 mmol/mol. She had 3 x 20 minute \
sessions of physio in weeks 6-8 and walked 1.2 km on day 14, at 12 34 56 a day.

Your case is one of 48213 open cases this quarter; version 2.0.1 of the app fixes the login \
problem, and the update is 350 MB. The invoice covers 24 months at 19.99 a month, 479.76 in \
all, with a 10% discount applied on 01.05.2023. Flight BA 117 leaves at 18:40 from gate 22, \
seat 14C, and the hotel is 3 nights at 120 euros. The meter read 004512 last month and \
004875 this month, so 363 units were used between 1 and 31 January.
"""


def test_every_planted_value_is_found_with_its_kind_and_exact_range() -> None:
    hits = suggest(PLANTED_TEXT)
    for value, kind, entity in PLANTED:
        start = PLANTED_TEXT.index(value)
        expected = (kind, entity, start, start + len(value))
        assert expected in [(h.kind, h.entity, h.char_start, h.char_end) for h in hits], value
    assert len(hits) == len(PLANTED)


def test_hits_are_sorted_do_not_overlap_and_score_at_least_the_minimum() -> None:
    hits = suggest(PLANTED_TEXT)
    assert hits == sorted(hits, key=lambda h: h.char_start)
    for a, b in itertools.pairwise(hits):
        assert a.char_end <= b.char_start
    assert all(0.5 <= h.score <= 1.0 for h in hits)
    assert all(h.score == 1.0 for h in hits if h.kind in {"card_number", "iban", "email"})
    assert not [h for h in suggest(PLANTED_TEXT, min_score=0.9) if h.kind == "phone"]


@pytest.mark.parametrize("value", LOOK_ALIKES)
def test_a_value_failing_its_checksum_is_not_suggested(value: str) -> None:
    text = f"The number I have here is {value}, is that right?"
    start = text.index(value)
    assert [
        h for h in suggest(text, min_score=0.0)
        if h.char_start < start + len(value) and start < h.char_end
    ] == []  # fmt: skip


def test_ordinary_call_centre_and_clinic_prose_gives_no_suggestion() -> None:
    assert suggest(CLEAN_TEXT) == []


def test_an_empty_or_blank_text_gives_nothing() -> None:
    assert suggest("") == []
    assert suggest(" \n\t ") == []


def test_a_text_past_the_limit_is_refused_and_the_limit_itself_is_not() -> None:
    with pytest.raises(PiiTextTooLong):
        suggest("a" * (MAX_TEXT_CHARS + 1))
    assert issubclass(PiiTextTooLong, ValueError)
    assert suggest("a" * (MAX_TEXT_CHARS - 40) + " card 4111 1111 1111 1111") != []


def test_suggestions_need_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args[1:2])
        raise OSError("Cordon's tests allow no network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    # Build the recognizers afresh under the patch: building is when a suffix list would
    # be fetched; a fetch that failed quietly would still count as an attempt.
    monkeypatch.setattr(pii_patterns, "_recognizers", None)
    hits = suggest(PLANTED_TEXT)
    assert {(h.kind, h.char_start) for h in hits} == {
        (kind, PLANTED_TEXT.index(value)) for value, kind, _ in PLANTED
    }
    assert suggest("write to someone@host.invalidtld") == []
    assert attempts == []


def test_suggestion_is_a_frozen_value() -> None:
    hit = suggest("card 4111 1111 1111 1111")[0]
    assert hit == PiiSuggestion("card_number", "CREDIT_CARD", 5, 24, 1.0)
    with pytest.raises(AttributeError):
        hit.score = 0.0  # type: ignore[misc]


DEMO = ("person_name", "account_number", "date_of_birth", "medical")


@pytest.mark.parametrize(
    ("kind", "categories", "expected"),
    [
        ("card_number", DEMO, "account_number"),
        ("iban", DEMO, "account_number"),
        ("email", DEMO, None),
        ("phone", DEMO, None),
        ("national_id", DEMO, None),
        ("card_number", (*DEMO, "card_number"), "card_number"),  # exact name first
        ("card_number", ("Account-Number", "Credit_Card"), "Credit_Card"),  # project's spelling
        ("phone", ("contact", "phone_number"), "phone_number"),
        ("email", ("contact",), "contact"),
        ("national_id", ("ssn",), "ssn"),
        ("unknown_kind", DEMO, None),
        ("iban", (), None),
    ],
)
def test_a_kind_maps_to_the_projects_category(
    kind: str, categories: tuple[str, ...], expected: str | None
) -> None:
    assert suggest_category(kind, categories) == expected
