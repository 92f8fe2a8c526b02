"""Path parameters, validated like the ids in the wire schema.

An id in a URL is checked before any handler sees it: a route never looks up,
logs or records an id that the wire schema would not accept in a body.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from app.wire.schemas import ID_PATTERN

# Constraints, not a shared ``Path()`` marker: FastAPI writes each route's alias into
# the marker it is given, so one marker object must not serve several routes.
_IdText = StringConstraints(min_length=1, max_length=64, pattern=ID_PATTERN)
TaskId = Annotated[str, _IdText]
ProjectId = Annotated[str, _IdText]
PathId = Annotated[str, _IdText]  # any other id in a path (user, device)
