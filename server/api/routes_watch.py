"""The push channel: a signed-in workstation hears at once that it must wipe or sign out.

``GET /v1/session/watch`` (token and DPoP proof like every route) answers with
server-sent events over the same pinned TLS and stays open. It sends a comment
every :data:`KEEPALIVE_S`, and exactly one event before it closes:

``revoked``    this workstation's enrolment was revoked: wipe everything, sign out;
``signed_out`` the person was disabled: sign out everywhere;
``expired``    the token ended: reconnect with the renewed one.

A workstation that was offline learns the same at its next request (403
``device_revoked`` / 401 on every route), so the channel is for speed, not the
only enforcement.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from server import db
from server.api.principal import Ctx, CurrentPrincipal, Principal, workstation_revoked
from server.context import ServerContext

router = APIRouter(prefix="/v1")
KEEPALIVE_S = 15.0
TICK_S = 0.1


def verdict(ctx: ServerContext, principal: Principal) -> str | None:
    """``revoked``, ``signed_out`` or ``None`` (still allowed), from the database now."""
    with ctx.engine.connect() as conn:
        revoked = workstation_revoked(conn, principal.user_id, principal.jkt)
        disabled = conn.execute(
            select(db.users.c.disabled_at).where(db.users.c.id == principal.user_id)
        ).scalar()
    if revoked:
        return "revoked"
    if disabled is not None:
        return "signed_out"
    return None


@router.get("/session/watch")
def watch(request: Request, principal: CurrentPrincipal, ctx: Ctx) -> StreamingResponse:
    ctx.revocations.ensure_started()

    async def events() -> AsyncIterator[bytes]:
        yield b": watching\n\n"
        seen, beat = -1, time.monotonic()
        while True:
            if time.time() >= principal.expires_at:
                yield b"event: expired\ndata: {}\n\n"
                return
            generation = ctx.revocations.generation
            if generation != seen:
                seen = generation
                outcome = await run_in_threadpool(verdict, ctx, principal)
                if outcome is not None:
                    yield f"event: {outcome}\ndata: {{}}\n\n".encode()
                    return
            if time.monotonic() - beat >= KEEPALIVE_S:
                beat = time.monotonic()
                yield b": keep-alive\n\n"
            if await request.is_disconnected():
                return
            await asyncio.sleep(TICK_S)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
