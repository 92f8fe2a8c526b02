"""Client access-event batches: durable, de-duplicated, and acknowledged only once on disk.

Each batch runs inside the group committer (many batches, one fsync); the 200
answer is sent only after that commit, with the accepted and duplicate counts
and where the new leaves went in the audit logs. An ``Idempotency-Key`` makes
a retried batch get the same answer as its first attempt.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from app.wire.schemas import CLIENT_ACTIONS, ErrorCode, EventBatchAck, EventBatchIn
from server.api import idempotency
from server.api.errors import ApiError
from server.api.event_batch import ENDPOINT, EventBatch
from server.api.principal import Ctx, CurrentPrincipal, JsonBody

router = APIRouter(prefix="/v1")


@router.post("/events", dependencies=[JsonBody])
def post_events(
    body: EventBatchIn,
    principal: CurrentPrincipal,
    ctx: Ctx,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> EventBatchAck:
    if any(e.action not in CLIENT_ACTIONS for e in body.events):
        raise ApiError(422, ErrorCode.INVALID_REQUEST, "server-side actions cannot be reported")
    key = idempotency.check_key(idempotency_key)
    digest = idempotency.request_hash(ENDPOINT, body) if key else b""
    ack: EventBatchAck = ctx.committer.run(EventBatch(principal, body.events, key, digest))
    return ack
