"""The admin API: server administrators manage people and devices; project
administrators manage who has which role in their project. No content anywhere."""

from __future__ import annotations

from app.wire.base import Count, Id, _Model
from app.wire.schemas import Role


class AdminUserOut(_Model):
    user_id: Id
    username: str
    display_name: str
    provider: str | None
    disabled: bool
    server_admin: bool


class AdminUsersOut(_Model):
    users: list[AdminUserOut]


class DisabledIn(_Model):
    disabled: bool


class AdminDeviceOut(_Model):
    device_id: Id
    user_id: Id
    username: str
    name: str
    fingerprint: str
    created_at: Count
    revoked: bool
    #: ``approved`` or ``pending`` (waiting for an administrator).
    state: str
    managed: bool


class AdminDevicesOut(_Model):
    devices: list[AdminDeviceOut]


class ApproveIn(_Model):
    #: IT vouches for the workstation: attribute rules that need a managed one allow it.
    managed: bool = False


class MemberOut(_Model):
    user_id: Id
    username: str
    display_name: str
    role: Role
    #: ``idp:<name>`` when the identity provider's groups granted it, else ``None``.
    granted_by: str | None


class MembersOut(_Model):
    members: list[MemberOut]


class MemberIn(_Model):
    #: ``None`` removes the person from the project.
    role: Role | None
