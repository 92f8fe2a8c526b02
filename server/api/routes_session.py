"""Health, demo login and device enrolment."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import time
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.crypto.device_keys import load_public_key, public_key_fingerprint
from app.wire.schemas import (
    AccessAction,
    DemoLoginIn,
    DeviceEnrollIn,
    DeviceOut,
    ErrorCode,
    HealthOut,
    TokenOut,
    UserOut,
)
from server import __version__, audit, db, enrolment
from server.api.errors import ApiError
from server.api.principal import (
    Ctx,
    CurrentPrincipal,
    JsonBody,
    Principal,
    check_proof,
    workstation_revoked,
)
from server.ingest import new_id

router = APIRouter(prefix="/v1")


@router.get("/health")
def health() -> HealthOut:
    return HealthOut(status="ok", version=__version__)


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@router.post("/auth/demo-login", dependencies=[JsonBody])
def demo_login(body: DemoLoginIn, ctx: Ctx, request: Request) -> TokenOut:
    """Demo users only, and only when the server runs the demo on loopback."""
    client_host = request.client.host if request.client else None
    if not ctx.demo_login or not _is_loopback(client_host):
        raise ApiError(404, ErrorCode.NOT_FOUND, "demo login is not enabled")
    proof = check_proof(request, ctx)
    with ctx.transaction() as conn:
        row = conn.execute(
            select(db.users).where(db.users.c.username == body.username, db.users.c.is_demo)
        ).first()
        if row is None:
            raise ApiError(401, ErrorCode.UNAUTHENTICATED, "unknown demo user")
        token, claims = ctx.signer.issue(row.id, proof.jkt)
        session_id = claims.token_id[:12]
        audit.record(
            conn,
            audit.Actor(row.id, None, client_host),
            AccessAction.LOGIN,
            reason=f"session_{session_id}",
        )
    return TokenOut(
        access_token=token,
        expires_at=claims.expires_at,
        session_id=session_id,
        user=UserOut(user_id=row.id, username=row.username, display_name=row.display_name),
    )


@router.get("/me")
def me(principal: CurrentPrincipal, ctx: Ctx) -> UserOut:
    with ctx.engine.connect() as conn:
        row = conn.execute(select(db.users).where(db.users.c.id == principal.user_id)).one()
    return UserOut(user_id=row.id, username=row.username, display_name=row.display_name)


@router.post("/devices", dependencies=[JsonBody], status_code=201)
def enroll_device(body: DeviceEnrollIn, principal: CurrentPrincipal, ctx: Ctx) -> DeviceOut:
    """Register a device public key; data keys are wrapped only to enrolled devices.

    The device is bound to the signing key that proved this request (the
    token's key): later requests proven by it are this device's. Idempotent for
    a key already enrolled by the same user on the same workstation. A revoked
    key or workstation stays revoked, and a user has at most
    ``ctx.max_devices_per_user`` active devices.
    """
    try:
        raw = base64.b64decode(body.public_key, validate=True)
        load_public_key(raw)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(422, ErrorCode.INVALID_REQUEST, "public_key is not a device key") from exc
    fingerprint = public_key_fingerprint(raw)
    with ctx.transaction() as conn:
        revoked_here = workstation_revoked(conn, principal.user_id, principal.jkt)
        if revoked_here:
            raise ApiError(
                403, ErrorCode.DEVICE_REVOKED, "this device was revoked", reason="device_revoked"
            )
        policy = enrolment.load(conn)
        secret_ok = enrolment.secret_matches(policy, body.enrolment_secret)
        if body.enrolment_secret is not None and not secret_ok:
            raise ApiError(
                403, ErrorCode.FORBIDDEN, "the enrolment secret is not this server's",
                reason="enrolment_secret_wrong",
            )  # fmt: skip
        existing = conn.execute(
            select(
                db.devices.c.id, db.devices.c.user_id, db.devices.c.revoked_at, db.devices.c.jkt,
                db.devices.c.state, db.devices.c.managed,
            ).where(db.devices.c.fingerprint == fingerprint)
        ).first()  # fmt: skip
        if existing is not None:
            return _known_device(conn, existing, principal, fingerprint, secret_ok)
        active = conn.execute(
            select(func.count())
            .select_from(db.devices)
            .where(db.devices.c.user_id == principal.user_id, db.devices.c.revoked_at.is_(None))
        ).scalar_one()
        if active >= ctx.max_devices_per_user:
            raise ApiError(
                403, ErrorCode.FORBIDDEN,
                "device limit reached; ask an administrator to revoke an old device",
                reason="device_limit",
            )  # fmt: skip
        device_id = new_id("dev")
        state, managed = enrolment.decide(
            policy, secret_ok=secret_ok, claim_ok=principal.managed_sign_in
        )
        try:
            conn.execute(
                insert(db.devices).values(
                    id=device_id,
                    user_id=principal.user_id,
                    name=body.name,
                    public_key=raw,
                    fingerprint=fingerprint,
                    created_at=int(time.time()),
                    revoked_at=None,
                    jkt=principal.jkt,
                    state=state,
                    managed=managed,
                )
            )
        except IntegrityError as exc:
            raise ApiError(409, ErrorCode.CONFLICT, "device already enrolled") from exc
        reason = f"{state}_managed" if managed else state
        audit.record(conn, principal.actor(device_id), AccessAction.DEVICE_ENROLLED, reason=reason)
    return _device_out(device_id, fingerprint, state, managed)


def _known_device(
    conn: Connection, existing: Any, principal: Principal, fingerprint: str, secret_ok: bool
) -> DeviceOut:
    """A key enrolled before: the same device again (approved now if IT's secret or
    claim came with it), or refused (revoked, or another person's or workstation's)."""
    if existing.revoked_at is not None:
        raise ApiError(
            403, ErrorCode.DEVICE_REVOKED, "this device was revoked", reason="device_revoked"
        )
    if existing.user_id != principal.user_id or (
        existing.jkt is not None and existing.jkt != principal.jkt
    ):
        raise ApiError(
            409, ErrorCode.CONFLICT, "key is enrolled for another user or workstation",
            reason="device_key_conflict",
        )  # fmt: skip
    values: dict[str, Any] = {}
    if existing.jkt is None:  # enrolled before devices were bound to a signing key
        values["jkt"] = principal.jkt
    state, managed = existing.state or "approved", bool(existing.managed)
    if state == "pending" and (secret_ok or principal.managed_sign_in):
        state, managed = "approved", True
        values |= {"state": state, "managed": True}
    if values:
        conn.execute(update(db.devices).where(db.devices.c.id == existing.id).values(**values))
    return _device_out(existing.id, fingerprint, state, managed)


def _device_out(device_id: str, fingerprint: str, state: str, managed: bool) -> DeviceOut:
    return DeviceOut(
        device_id=device_id,
        fingerprint=fingerprint,
        state="pending" if state == "pending" else "approved",
        managed=managed,
    )
