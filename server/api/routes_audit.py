"""Audit-log proofs for a project's auditors: latest checkpoint, inclusion, consistency.

Only members with the ``auditor`` role in the project may read them; they see
hashes and signed checkpoints, never content. With them an auditor holding a
checkpoint can check that a given access event is in the log (inclusion) and
that a newer checkpoint extends an older one without rewriting it
(consistency), using any RFC 9162 implementation. The ``server`` log (sign-ins,
enrolments) is checked with ``cordon-server audit verify`` on the host.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import Connection, select

from app.wire.schemas import MAX_INT, AuditCheckpointOut, AuditProofOut, ErrorCode
from server.api import permissions
from server.api.errors import ApiError
from server.api.params import ProjectId
from server.api.permissions import Capability
from server.api.principal import Ctx, CurrentPrincipal, Principal
from server.auditlog import store
from server.auditlog.merkle import consistency_path, inclusion_path
from server.auditlog.tiles import TileReader

router = APIRouter(prefix="/v1/audit")

NonNegative = Annotated[int, Query(ge=0, le=MAX_INT)]


def _require_auditor(conn: Connection, principal: Principal, project_id: str) -> None:
    # The same answer for "no such project" and "not yours": no probing.
    permissions.require(conn, principal, project_id, Capability.READ_AUDIT)


def _b64(values: list[bytes]) -> list[str]:
    return [base64.b64encode(v).decode() for v in values]


def _checked_size(conn: Connection, project_id: str, size: int) -> None:
    current, _root = store.head(conn, project_id)
    if size > current:
        raise ApiError(422, ErrorCode.INVALID_REQUEST, f"the log has {current} entries")


@router.get("/{project_id}/checkpoint")
def latest_checkpoint(
    project_id: ProjectId, principal: CurrentPrincipal, ctx: Ctx
) -> AuditCheckpointOut:
    with ctx.engine.connect() as conn:
        _require_auditor(conn, principal, project_id)
        row = conn.execute(
            select(store.audit_checkpoints)
            .where(store.audit_checkpoints.c.log_id == project_id)
            .order_by(store.audit_checkpoints.c.size.desc())
            .limit(1)
        ).first()
    if row is None:
        raise ApiError(404, ErrorCode.NOT_FOUND, "no checkpoint yet", audit=False)
    return AuditCheckpointOut(log_id=project_id, size=row.size, note=row.note)


@router.get("/{project_id}/inclusion")
def inclusion(
    project_id: ProjectId,
    index: NonNegative,
    tree_size: NonNegative,
    principal: CurrentPrincipal,
    ctx: Ctx,
) -> AuditProofOut:
    if index >= tree_size:
        raise ApiError(422, ErrorCode.INVALID_REQUEST, "index must be below tree_size")
    with ctx.engine.connect() as conn:
        _require_auditor(conn, principal, project_id)
        _checked_size(conn, project_id, tree_size)
        tree = TileReader(conn, project_id)
        leaf = tree.leaf(index)
        proof = inclusion_path(tree.range_root, index, tree_size)
    return AuditProofOut(
        log_id=project_id,
        leaf_index=index,
        leaf_hash=base64.b64encode(leaf).decode(),
        tree_size=tree_size,
        hashes=_b64(proof),
    )


@router.get("/{project_id}/consistency")
def consistency(
    project_id: ProjectId,
    first: NonNegative,
    second: NonNegative,
    principal: CurrentPrincipal,
    ctx: Ctx,
) -> AuditProofOut:
    if first > second:
        raise ApiError(422, ErrorCode.INVALID_REQUEST, "first must not exceed second")
    with ctx.engine.connect() as conn:
        _require_auditor(conn, principal, project_id)
        _checked_size(conn, project_id, second)
        proof = consistency_path(TileReader(conn, project_id).range_root, first, second)
    return AuditProofOut(
        log_id=project_id,
        first_size=first,
        tree_size=second,
        hashes=_b64(proof),
    )
