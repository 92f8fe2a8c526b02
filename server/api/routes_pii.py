"""``POST /v1/tasks/{id}/pii-suggestions``: pattern recognizers over the texts being typed.

For the task's annotator (their own task) and the project's reviewers (a handed-in
task). The texts arrive over the pinned TLS channel, are looked at in memory and
dropped: nothing is stored or logged, so there is no leaf for a served answer (a
refused one is recorded like any refusal). Hits whose kind fits none of the
project's PII categories are not offered (there would be nothing to tag them as).
"""

from __future__ import annotations

from fastapi import APIRouter

from app.wire.pii import PiiSuggestIn, PiiSuggestionOut, PiiSuggestionsOut
from app.wire.schemas import ErrorCode
from server import project_schemas
from server.api.params import TaskId
from server.api.principal import Ctx, CurrentPrincipal, JsonBody
from server.api.task_access import load_task

router = APIRouter(prefix="/v1")


@router.post("/tasks/{task_id}/pii-suggestions", dependencies=[JsonBody])
def pii_suggestions(
    task_id: TaskId, body: PiiSuggestIn, principal: CurrentPrincipal, ctx: Ctx
) -> PiiSuggestionsOut:
    from server import pii_patterns  # noqa: PLC0415 - presidio loads spaCy: only when asked

    access = load_task(ctx, principal, task_id, "pii_suggest")
    with ctx.engine.connect() as conn:
        loaded = project_schemas.load(conn, access.project_id, body.schema_version)
    if loaded is None:
        access.refuse(422, ErrorCode.INVALID_REQUEST, "no such schema version", "unknown_schema")
    categories = [c.name for c in loaded[0].pii]
    out: list[PiiSuggestionOut] = []
    for item in body.texts:
        for hit in pii_patterns.suggest(item.text):
            category = pii_patterns.suggest_category(hit.kind, categories)
            if category is None:
                continue
            out.append(
                PiiSuggestionOut(
                    segment=item.segment, category=category, kind=hit.kind,
                    char_start=hit.char_start, char_end=hit.char_end, score=round(hit.score, 3),
                )
            )  # fmt: skip
    return PiiSuggestionsOut(suggestions=out)
