"""The admin API: people and devices (server administrators), members (project administrators).

Server administrators — made with ``cordon-server user admin`` — list people
and devices, disable and enable people and revoke devices (the push channel
carries it to running clients). Project administrators list and set who has
which role in their project. Neither reaches any content: these routes return
names, ids and flags only. Everyone else gets 404 (the routes are not revealed).
"""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from app.wire.admin import (
    AdminDeviceOut,
    AdminDevicesOut,
    AdminUserOut,
    AdminUsersOut,
    ApproveIn,
    DisabledIn,
    MemberIn,
    MemberOut,
    MembersOut,
)
from app.wire.schemas import ErrorCode
from server import db, identity_admin
from server.api import permissions
from server.api.errors import ApiError
from server.api.params import PathId
from server.api.permissions import Capability
from server.api.principal import Ctx, CurrentPrincipal, JsonBody

router = APIRouter(prefix="/v1")

_STATUS = {"unknown_user": 404, "unknown_device": 404, "unchanged": 409}


def _refused(exc: identity_admin.AdminError, project_id: str | None = None) -> ApiError:
    status = _STATUS.get(exc.code, 409)
    code = ErrorCode.NOT_FOUND if status == 404 else ErrorCode.CONFLICT
    return ApiError(status, code, str(exc), reason=exc.code, project_id=project_id)


@router.get("/admin/users")
def list_users(principal: CurrentPrincipal, ctx: Ctx) -> AdminUsersOut:
    with ctx.engine.connect() as conn:
        permissions.require_server_admin(conn, principal)
        users = conn.execute(select(db.users).order_by(db.users.c.username)).all()
        links = {r.user_id: r.provider for r in conn.execute(select(db.user_identities))}
        admins = set(conn.execute(select(db.server_admins.c.user_id)).scalars())
    return AdminUsersOut(
        users=[
            AdminUserOut(
                user_id=u.id,
                username=u.username,
                display_name=u.display_name,
                provider=links.get(u.id),
                disabled=u.disabled_at is not None,
                server_admin=u.id in admins,
            )
            for u in users
        ]
    )


@router.put("/admin/users/{user_id}/disabled", dependencies=[JsonBody])
def set_disabled(
    user_id: PathId, body: DisabledIn, principal: CurrentPrincipal, ctx: Ctx
) -> AdminUsersOut:
    with ctx.transaction() as conn:
        permissions.require_server_admin(conn, principal)
        if user_id == principal.user_id:
            raise ApiError(
                409,
                ErrorCode.CONFLICT,
                "an administrator cannot disable themselves",
                reason="self_disable",
            )
        try:
            identity_admin.set_disabled(conn, user_id, body.disabled, principal.actor())
        except identity_admin.AdminError as exc:
            raise _refused(exc) from exc
    return list_users(principal, ctx)


@router.get("/admin/devices")
def list_devices(principal: CurrentPrincipal, ctx: Ctx) -> AdminDevicesOut:
    with ctx.engine.connect() as conn:
        permissions.require_server_admin(conn, principal)
        rows = identity_admin.devices(conn)
    return AdminDevicesOut(
        devices=[
            AdminDeviceOut(
                device_id=r.device_id,
                user_id=r.user_id,
                username=r.username,
                name=r.name,
                fingerprint=r.fingerprint,
                created_at=r.created_at,
                revoked=r.revoked,
                state=r.state,
                managed=r.managed,
            )
            for r in rows
        ]
    )


@router.post("/admin/devices/{device_id}/revoke")
def revoke_device(device_id: PathId, principal: CurrentPrincipal, ctx: Ctx) -> AdminDevicesOut:
    with ctx.transaction() as conn:
        permissions.require_server_admin(conn, principal)
        try:
            identity_admin.revoke_device(conn, device_id, principal.actor())
        except identity_admin.AdminError as exc:
            raise _refused(exc) from exc
    return list_devices(principal, ctx)


@router.post("/admin/devices/{device_id}/approve", dependencies=[JsonBody])
def approve_device(
    device_id: PathId, body: ApproveIn, principal: CurrentPrincipal, ctx: Ctx
) -> AdminDevicesOut:
    with ctx.transaction() as conn:
        permissions.require_server_admin(conn, principal)
        try:
            identity_admin.approve_device(conn, device_id, body.managed, principal.actor())
        except identity_admin.AdminError as exc:
            raise _refused(exc) from exc
    return list_devices(principal, ctx)


@router.get("/projects/{project_id}/members")
def list_members(project_id: PathId, principal: CurrentPrincipal, ctx: Ctx) -> MembersOut:
    with ctx.engine.connect() as conn:
        permissions.require(conn, principal, project_id, Capability.ADMINISTER, "members_read")
        rows = conn.execute(
            select(db.memberships, db.users.c.username, db.users.c.display_name)
            .join(db.users, db.users.c.id == db.memberships.c.user_id)
            .where(db.memberships.c.project_id == project_id)
            .order_by(db.users.c.username)
        ).all()
    return MembersOut(
        members=[
            MemberOut(
                user_id=r.user_id,
                username=r.username,
                display_name=r.display_name,
                role=r.role,
                granted_by=r.granted_by,
            )
            for r in rows
        ]
    )


@router.put("/projects/{project_id}/members/{user_id}", dependencies=[JsonBody])
def set_member(
    project_id: PathId, user_id: PathId, body: MemberIn, principal: CurrentPrincipal, ctx: Ctx
) -> MembersOut:
    with ctx.transaction() as conn:
        permissions.require(conn, principal, project_id, Capability.ADMINISTER, "members_set")
        if user_id == principal.user_id:
            raise ApiError(
                409,
                ErrorCode.CONFLICT,
                "an administrator cannot change their own role",
                reason="self_role",
                project_id=project_id,
            )
        try:
            identity_admin.set_member(conn, project_id, user_id, body.role, principal.actor())
        except identity_admin.AdminError as exc:
            raise _refused(exc, project_id) from exc
    return list_members(project_id, principal, ctx)
