"""PII suggestions: the texts a client asks about and the spans the server proposes.

The server runs pattern and checksum recognizers (``server.pii_patterns``) over
segment texts the annotator typed; each proposal names the project's PII
category it fits, and the annotator confirms or dismisses it. Nothing is stored.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from app.wire.base import Count, Id, _Model
from app.wire.label_document import Name

#: A segment's text is at most this long (the label document's own limit).
MAX_TEXT = 20_000


class PiiTextIn(_Model):
    segment: Id
    text: Annotated[str, Field(max_length=MAX_TEXT)]


class PiiSuggestIn(_Model):
    #: The schema version the document is made under (its PII categories are offered).
    schema_version: Count
    texts: Annotated[list[PiiTextIn], Field(max_length=200)]


class PiiSuggestionOut(_Model):
    segment: Id
    #: The project's PII category the hit fits.
    category: Name
    #: What the recognizer found (``card_number``, ``iban``, ``email``, ``phone`` …).
    kind: Name
    char_start: Count
    char_end: Count
    score: Annotated[float, Field(ge=0, le=1)]


class PiiSuggestionsOut(_Model):
    suggestions: list[PiiSuggestionOut]
