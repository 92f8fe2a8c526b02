"""The ingest path's bulk insert gives back exactly the values it was handed, on both engines.

PostgreSQL's rows go as ``COPY`` text that :func:`server.dialect.encode` writes itself
(escapes, ``NULL``, ``bytea``, floats): a value it spelled wrong would change an event
row, and the leaf hashed from that event would no longer match it in ``audit verify``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from devtools.postgres import new_database
from server import db, dialect


class _Kind(str, enum.Enum):  # noqa: UP042 - on purpose: its str() is "_Kind.CAPTURE"
    CAPTURE = "capture_attempt"


_AWKWARD = [
    "back\\slash", "tab\there", "new\nline", "carriage\rreturn", "\\N", "\\x00", "ünïcødé ☂",
    "", " leading and trailing ", _Kind.CAPTURE,
]  # fmt: skip
_FLOATS = [0.1 + 0.2, -0.0, 1e-300, 1.7976931348623157e308, 1733100000.123456, -5e-324, 3.0]


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "postgresql":
        url = new_database(request.getfixturevalue("postgres"))
        ddl = "t TEXT, b BYTEA, f BOOLEAN, x DOUBLE PRECISION, n BIGINT, m BIGINT"
    else:
        url = f"sqlite:///{tmp_path / 'rows.sqlite3'}"
        ddl = "t TEXT, b BLOB, f BOOLEAN, x REAL, n INTEGER, m INTEGER"
    made = db.make_engine(url)
    with made.begin() as conn:
        conn.execute(text(f"CREATE TABLE r ({ddl})"))
    yield made
    made.dispose()


def _stored(engine: Engine, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    with engine.begin() as conn:
        encoded = [(dialect.encode(conn, row[:4]), row[4:]) for row in rows]
        dialect.insert_rows(conn, "r", ("t", "b", "f", "x", "n", "m"), encoded)
    with engine.connect() as conn:
        found = conn.execute(text("SELECT t, b, f, x, n, m FROM r ORDER BY n")).all()
    return [(t, None if b is None else bytes(b), None if f is None else bool(f), x, n, m)
            for t, b, f, x, n, m in found]  # fmt: skip


def test_every_awkward_value_comes_back_as_it_went_in(engine: Engine) -> None:
    rows: list[tuple[Any, ...]] = []
    for n, value in enumerate(_AWKWARD):
        rows.append((value, bytes(range(256)) if n == 0 else b"\\\x00\t\n", n % 2 == 0,
                     _FLOATS[n % len(_FLOATS)], n, 2**53 - n))  # fmt: skip
    rows.append((None, None, None, None, len(rows), -(2**53)))
    for n, x in enumerate(_FLOATS, start=len(rows)):
        rows.append(("f", b"", True, x, n, 0))
    back = _stored(engine, rows)
    expected = [(None if t is None else str(getattr(t, "value", t)), *rest) for t, *rest in rows]
    assert back == expected
    for (*_, x, _n, _m), (*_, sent, _n2, _m2) in zip(back, rows, strict=True):
        if isinstance(sent, float):  # the same double, sign of zero aside (SQLite drops it)
            assert x == sent and math.copysign(1, x) in {math.copysign(1, sent), 1.0}


def test_a_value_with_no_copy_form_is_refused_before_anything_is_sent(postgres: str) -> None:
    engine = db.make_engine(new_database(postgres))
    try:
        with (
            engine.connect() as conn,
            pytest.raises(TypeError, match="no COPY text form for a dict"),
        ):
            dialect.encode(conn, [{"not": "a column value"}])
    finally:
        engine.dispose()
