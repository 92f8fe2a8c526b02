"""The security team's changes to people and devices, one set of rules for CLI and API.

Each function runs in the caller's transaction, records its leaf, and raises
:class:`AdminError` (a stable ``code``) for a refusal, changing nothing.
Disabling a person or revoking a device also writes a ``revocations`` row,
which the push channel turns into a sign-out or a wipe within a fraction of a
second (``server.revocation_watch``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select, update

from app.wire.schemas import AccessAction, Role
from server import audit, db, revocation_watch
from server.coded_error import CodedError


class AdminError(CodedError):
    """A refusal with a stable code."""


@dataclass(frozen=True)
class DeviceRow:
    device_id: str
    user_id: str
    username: str
    name: str
    fingerprint: str
    created_at: int
    revoked: bool
    state: str
    managed: bool


def set_disabled(conn: Connection, user_id: str, disabled: bool, actor: audit.Actor) -> None:
    row = conn.execute(select(db.users.c.disabled_at).where(db.users.c.id == user_id)).first()
    if row is None:
        raise AdminError("unknown_user", "no such user")
    if (row.disabled_at is not None) == disabled:
        raise AdminError(
            "unchanged", "the user is already " + ("disabled" if disabled else "enabled")
        )
    conn.execute(
        update(db.users)
        .where(db.users.c.id == user_id)
        .values(disabled_at=int(time.time()) if disabled else None)
    )
    if disabled:
        revocation_watch.record(conn, user_id)
    reason = "disabled" if disabled else "enabled"
    audit.record(conn, actor, AccessAction.USER_CHANGED, reason=f"{reason}_{user_id}"[:64])


def revoke_device(conn: Connection, device_id: str, actor: audit.Actor) -> str:
    """Revoke a device; returns its user's id."""
    row = conn.execute(select(db.devices).where(db.devices.c.id == device_id)).first()
    if row is None:
        raise AdminError("unknown_device", "no such device")
    if row.revoked_at is not None:
        raise AdminError("unchanged", "that device is already revoked")
    conn.execute(
        update(db.devices).where(db.devices.c.id == row.id).values(revoked_at=int(time.time()))
    )
    revocation_watch.record(conn, row.user_id, row.id)
    audit.record(conn, actor, AccessAction.DEVICE_CHANGED, reason=f"revoked_{row.id}"[:64])
    return str(row.user_id)


def approve_device(conn: Connection, device_id: str, managed: bool, actor: audit.Actor) -> None:
    """Approve a pending device (``managed``: IT vouches for the workstation)."""
    row = conn.execute(select(db.devices).where(db.devices.c.id == device_id)).first()
    if row is None:
        raise AdminError("unknown_device", "no such device")
    if row.revoked_at is not None:
        raise AdminError("revoked", "a revoked device cannot be approved")
    if (row.state or "approved") == "approved" and bool(row.managed) == managed:
        raise AdminError("unchanged", "that device is already approved")
    conn.execute(
        update(db.devices)
        .where(db.devices.c.id == device_id)
        .values(state="approved", managed=managed)
    )
    reason = f"approved{'_managed' if managed else ''}_{device_id}"[:64]
    audit.record(conn, actor, AccessAction.DEVICE_CHANGED, reason=reason)


def devices(conn: Connection, username: str | None = None) -> list[DeviceRow]:
    query = select(db.devices, db.users.c.username).join(
        db.users, db.users.c.id == db.devices.c.user_id
    )
    if username:
        query = query.where(db.users.c.username == username)
    rows = conn.execute(query.order_by(db.devices.c.created_at, db.devices.c.id)).all()
    return [
        DeviceRow(
            r.id,
            r.user_id,
            r.username,
            r.name,
            r.fingerprint,
            r.created_at,
            r.revoked_at is not None,
            r.state or "approved",
            bool(r.managed),
        )
        for r in rows
    ]


def set_server_admin(conn: Connection, user_id: str, admin: bool, actor: audit.Actor) -> None:
    table = db.server_admins
    present = conn.execute(select(table.c.user_id).where(table.c.user_id == user_id)).first()
    if admin and present is None:
        conn.execute(insert(table).values(user_id=user_id, created_at=int(time.time())))
    elif not admin and present is not None:
        conn.execute(delete(table).where(table.c.user_id == user_id))
    else:
        return
    reason = ("server_admin_" if admin else "server_admin_removed_") + user_id
    audit.record(conn, actor, AccessAction.USER_CHANGED, reason=reason[:64])


def set_member(
    conn: Connection, project_id: str, user_id: str, role: Role | None, actor: audit.Actor
) -> None:
    """Give ``user_id`` ``role`` in the project (``None``: remove them), set by hand."""
    if conn.execute(select(db.users.c.id).where(db.users.c.id == user_id)).first() is None:
        raise AdminError("unknown_user", "no such user")
    m = db.memberships
    conn.execute(delete(m).where(m.c.user_id == user_id, m.c.project_id == project_id))
    if role is not None:
        conn.execute(
            insert(m).values(
                user_id=user_id, project_id=project_id, role=role.value, granted_by=None
            )
        )
    reason = f"member_{role.value if role else 'removed'}_{user_id}"[:64]
    audit.record(conn, actor, AccessAction.POLICY_CHANGED, reason=reason, project_id=project_id)
