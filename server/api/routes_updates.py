"""Signed updates: the TUF metadata and installers, for anyone who reaches the server.

Unauthenticated on purpose: a workstation's check is not a person's access (it runs
after sign-in today, but needs no one's token), and what
is served is signed (metadata) or named by signed hashes (installers), not
secret; trust comes from the root.json shipped with the installer, not from
this channel. So nothing here reads the database or writes the audit log
(anyone could grow it). Only names matching the repository's layout are served
— a path is never joined from request text — and each address gets
:data:`PER_MINUTE` requests a minute. While the server runs, a thread re-signs
the online roles before they expire (:mod:`server.updates.resign`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse

from app.wire.schemas import ErrorCode
from server.api.errors import ApiError
from server.api.principal import Ctx
from server.updates.repository import UpdateRepository
from server.updates.resign import ResignThread

#: Requests per address and minute (a check is about five; a download one more).
PER_MINUTE = 120


@asynccontextmanager
async def _resigning(app: FastAPI) -> AsyncIterator[None]:
    thread = ResignThread(UpdateRepository(app.state.ctx.data))
    thread.start()
    try:
        yield
    finally:
        thread.stop()


# In the OpenAPI document like every route: the access matrix lists them as token-less by
# design, and the API fuzzing reaches them.
router = APIRouter(prefix="/v1/updates", lifespan=_resigning)


class _PerAddress:
    """Requests counted per address in the current minute."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._minute = -1
        self._counts: dict[str, int] = {}

    def allow(self, address: str) -> bool:
        minute = int(time.time() // 60)
        with self._lock:
            if minute != self._minute:
                self._minute, self._counts = minute, {}
            used = self._counts.get(address, 0)
            if used >= self._limit:
                return False
            self._counts[address] = used + 1
            return True


_LIMIT = _PerAddress(PER_MINUTE)


def _repository(ctx: Ctx, request: Request) -> UpdateRepository:
    address = request.client.host if request.client else "unknown"
    if not _LIMIT.allow(address):
        raise ApiError(429, ErrorCode.RATE_LIMITED, "too many update requests", audit=False)
    repo = UpdateRepository(ctx.data)
    if not repo.initialised:
        raise ApiError(
            404, ErrorCode.UPDATES_NOT_PUBLISHED, "this server publishes no updates", audit=False
        )
    return repo


def _not_found() -> ApiError:
    return ApiError(404, ErrorCode.NOT_FOUND, "no such update file", audit=False)


@router.get("/metadata/{name}")
def metadata(name: str, ctx: Ctx, request: Request) -> FileResponse:
    """``N.root.json``, ``N.snapshot.json``, ``N.targets.json`` or ``timestamp.json``."""
    path = _repository(ctx, request).metadata_file(name)
    if path is None:
        raise _not_found()
    return _file(path, "application/json")


@router.get("/targets/{path:path}")
def target(path: str, ctx: Ctx, request: Request) -> FileResponse:
    """``<platform>/<sha256>.cordon-<version>.<ext>``: the client checks length and hash."""
    platform, _, name = path.partition("/")
    found = _repository(ctx, request).target_file(platform, name)
    if found is None:
        raise _not_found()
    return _file(found, "application/octet-stream")


def _file(path: Path, media_type: str) -> FileResponse:
    """Streamed from disk; never cached on the way (timestamp.json changes daily)."""
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "no-store"})
