"""Who approves a new workstation, and which workstations count as *managed*.

Three ways in, chosen by the security team (``cordon-server device policy``):

* ``--enrolment open`` (the default, and the demo's): a device is usable as soon as
  it enrols; it is *unmanaged*.
* ``--enrolment approval``: a device waits (``pending``) until an administrator
  approves it (``cordon-server device approve``, or the admin API); it may sign in
  but gets no key, audio or label until then.
* In either mode, a device is approved at once **and managed** when it enrols with
  the enrolment secret IT deploys with the installer (stored here only as its
  SHA-256, compared in constant time), or when its person signed in through a
  provider whose token carries the claim the policy names (``--managed-claim
  device_compliant=true``, e.g. a conditional-access claim).

Attribute rules can then require a managed workstation (``server.access_rules``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from server import db
from server.upsert import upsert

MODES = ("open", "approval")


@dataclass(frozen=True)
class EnrolmentPolicy:
    mode: str = "open"
    #: ``claim=value`` that makes a provider sign-in's workstation managed (or empty).
    managed_claim: str = ""
    secret_sha256: str = ""


def load(conn: Connection) -> EnrolmentPolicy:
    rows = dict(conn.execute(select(db.server_settings.c.name, db.server_settings.c.value)).all())
    return EnrolmentPolicy(
        rows.get("enrolment_mode", "open"),
        rows.get("managed_claim", ""),
        rows.get("enrolment_secret_sha256", ""),
    )


def _set(conn: Connection, name: str, value: str) -> None:
    upsert(conn, db.server_settings, ["name"], {"name": name, "value": value})


def set_mode(conn: Connection, mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"enrolment must be one of {', '.join(MODES)}")
    _set(conn, "enrolment_mode", mode)


def set_managed_claim(conn: Connection, claim: str) -> None:
    """``claim=value``, or ``none`` to stop marking provider sign-ins managed."""
    if claim != "none" and (claim.count("=") != 1 or not all(claim.split("="))):
        raise ValueError("the managed claim is written claim=value")
    _set(conn, "managed_claim", "" if claim == "none" else claim)


def new_secret(conn: Connection) -> str:
    """A new enrolment secret (the old one stops working); only its hash is kept."""
    secret = secrets.token_urlsafe(32)
    _set(conn, "enrolment_secret_sha256", hashlib.sha256(secret.encode()).hexdigest())
    return secret


def secret_matches(policy: EnrolmentPolicy, presented: str | None) -> bool:
    if not presented or not policy.secret_sha256:
        return False
    digest = hashlib.sha256(presented.encode()).hexdigest()
    return hmac.compare_digest(digest, policy.secret_sha256)


def claim_matches(policy: EnrolmentPolicy, claims: dict[str, Any]) -> bool:
    """The provider token carries the managed claim (a string, boolean or list member)."""
    if not policy.managed_claim:
        return False
    name, wanted = policy.managed_claim.split("=")
    value = claims.get(name)
    values = value if isinstance(value, list) else [value]
    return any(str(v).lower() == wanted.lower() for v in values if v is not None)


def decide(policy: EnrolmentPolicy, *, secret_ok: bool, claim_ok: bool) -> tuple[str, bool]:
    """(state, managed) for a new enrolment."""
    if secret_ok or claim_ok:
        return "approved", True
    return ("approved" if policy.mode == "open" else "pending"), False
