"""Releasing a segment's key to a device and streaming its ciphertext: one way for every route.

A task's own audio and a context stretch granted around a windowed task both go out
through here, so each release is bound to the caller's enrolled device, recorded as a
grant row and a ``key_released`` leaf naming the segment that was released, and each
fetch is a ``segment_fetched`` leaf committed before the first byte is sent.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterator
from typing import Any

from fastapi.responses import StreamingResponse
from sqlalchemy import Connection, insert, select

from app.crypto.errors import CryptoError
from app.crypto.key_grant import GrantBinding, seal_grant
from app.wire.schemas import AccessAction, ClassControlsOut, ErrorCode, KeyGrantOut
from server import access_rules, data_classes, db
from server.api.errors import ApiError
from server.api.principal import Principal
from server.api.task_access import TaskAccess, approved_device
from server.blob_store import PIECE, BlobStoreError
from server.context import ServerContext
from server.ingest import new_id

logger = logging.getLogger(__name__)


def damaged(access: TaskAccess, what: str) -> ApiError:
    """A stored key or sealed record that fails to open: tampered or damaged at rest."""
    return ApiError(
        500, ErrorCode.STORED_DATA_DAMAGED, f"the stored {what} of this task cannot be opened",
        reason=f"{what.replace(' ', '_')}_damaged",
        project_id=access.project_id, task_id=access.task_id, segment_id=access.segment_id,
    )  # fmt: skip


def release_key(
    ctx: ServerContext, conn: Connection, principal: Principal, access: TaskAccess
) -> KeyGrantOut:
    """Wrap ``access.segment``'s data key to the caller's device, inside ``conn``."""
    now = int(time.time())
    device_id = allowed_device(conn, principal, access)
    public_key = conn.execute(
        select(db.devices.c.public_key).where(db.devices.c.id == device_id)
    ).scalar_one()
    binding = GrantBinding(
        project_id=access.project_id,
        segment_id=access.segment_id,
        device_id=device_id,
        grant_id=new_id("grt"),
        expires_at=now + ctx.grant_lifetime_s,
    )
    try:
        data_key = ctx.vault.data_key(
            access.project_id, access.project.wrapped_key, access.segment_id,
            access.segment.wrapped_data_key,
        )  # fmt: skip
        wrapped = seal_grant(data_key, public_key, binding)
    except (CryptoError, ValueError) as exc:
        raise damaged(access, "key") from exc
    conn.execute(
        insert(db.key_grants).values(
            id=binding.grant_id, task_id=access.task_id, device_id=device_id,
            expires_at=binding.expires_at, created_at=now,
        )
    )  # fmt: skip
    access.record(conn, principal.actor(device_id), AccessAction.KEY_RELEASED)
    return KeyGrantOut(
        grant_id=binding.grant_id,
        project_id=binding.project_id,
        segment_id=binding.segment_id,
        device_id=device_id,
        expires_at=binding.expires_at,
        wrapped_key=base64.b64encode(wrapped).decode("ascii"),
        controls=class_controls(conn, access.segment_id),
    )


def class_controls(conn: Connection, segment_id: str) -> ClassControlsOut:
    """The controls of the recording's data class the client applies itself."""
    data_class = data_classes.of_segment(conn, segment_id)
    controls = data_classes.controls(data_class)
    return ClassControlsOut(data_class=data_class.value, watermark=controls.watermark)


def allowed_device(conn: Connection, principal: Principal, access: TaskAccess) -> str:
    """The caller's approved device, if the recording's data class and the project's
    attribute rules allow this access now."""
    if access.segment.erased_at is not None:
        raise ApiError(
            410, ErrorCode.ERASED, "this recording was erased", reason="erased",
            project_id=access.project_id, task_id=access.task_id,
        )  # fmt: skip
    device = approved_device(conn, principal, access)
    data_class = data_classes.of_segment(conn, access.segment_id)
    if data_classes.controls(data_class).managed_device and not device.managed:
        raise ApiError(
            403, ErrorCode.CLASS_REFUSED,
            f"{data_class.value} recordings are available on workstations your organisation "
            "manages only",
            reason="class_managed_device", project_id=access.project_id, task_id=access.task_id,
        )  # fmt: skip
    refusal = access_rules.check(
        access_rules.load(conn, access.project_id),
        managed=device.managed,
        address=principal.remote_addr,
    )
    if refusal is not None:
        raise ApiError(
            403, ErrorCode.RULE_REFUSED, refusal.words, reason=refusal.reason,
            project_id=access.project_id, task_id=access.task_id,
        )  # fmt: skip
    return device.device_id


def record_fetch(conn: Connection, principal: Principal, access: TaskAccess) -> None:
    device_id = allowed_device(conn, principal, access)
    access.record(conn, principal.actor(device_id), AccessAction.SEGMENT_FETCHED)


def open_blob(ctx: ServerContext, access: TaskAccess) -> tuple[Any, int]:
    """The segment's stored ciphertext, opened (before the fetch is recorded): 503 if the
    blob store cannot give it now, so no fetch is recorded that was not served."""
    try:
        return ctx.data.blobs.open_sized(str(access.segment.blob_name))
    except BlobStoreError as exc:
        logger.error("segment %s: %s", access.segment.id, exc)
        raise ApiError(
            503, ErrorCode.STORAGE_UNAVAILABLE, "the recording cannot be read now; try again",
            audit=False,
        ) from exc  # fmt: skip


def fetch(
    ctx: ServerContext, conn: Connection, principal: Principal, access: TaskAccess
) -> tuple[Any, int]:
    """Open the blob, then record the fetch (in the caller's transaction): what
    :func:`stream` serves once that transaction commits."""
    opened = open_blob(ctx, access)
    try:
        record_fetch(conn, principal, access)
    except BaseException:
        opened[0].close()
        raise
    return opened


def stream(opened: tuple[Any, int]) -> StreamingResponse:
    """The opened ciphertext, in pieces, closed at the end (see :func:`open_blob`)."""
    reader, size = opened

    def chunks() -> Iterator[bytes]:
        try:
            while piece := reader.read(PIECE):
                yield piece
        finally:
            reader.close()

    return StreamingResponse(
        chunks(),
        media_type="application/octet-stream",
        headers={"Content-Length": str(size), "Cache-Control": "no-store"},
    )
