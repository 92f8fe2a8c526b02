"""What every wire model shares: strict parsing, ids and integer bounds."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=ID_PATTERN)]
#: The largest integer any field accepts: exact in JSON everywhere (IEEE doubles) and in
#: every SQL engine's 64-bit integer, so a value is stored and read back unchanged.
MAX_INT = 2**53 - 1
#: Non-negative and positive integers within :data:`MAX_INT`.
Count = Annotated[int, Field(ge=0, le=MAX_INT)]
Positive = Annotated[int, Field(ge=1, le=MAX_INT)]


class _Model(BaseModel):
    # NaN and infinities are refused at the edge: SQL engines store them inconsistently
    # (SQLite turns NaN into NULL), and strict JSON has no spelling for them.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
