"""Access events the server records, in the same transaction as the access itself.

Fail closed: a key is released, a segment served or a label stored only if its
access event commits in the same transaction. Events carry ids, an action and
an outcome — never transcript text or audio. (The Merkle audit log that makes
these rows tamper-evident builds on this table.)
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, insert

from app.wire.schemas import AccessAction, Outcome
from server import db


@dataclass(frozen=True)
class Actor:
    """Who did it and from where."""

    user_id: str | None
    device_id: str | None = None
    remote_addr: str | None = None


def record(
    conn: Connection,
    actor: Actor,
    action: AccessAction,
    *,
    outcome: Outcome = Outcome.OK,
    reason: str | None = None,
    project_id: str | None = None,
    task_id: str | None = None,
    segment_id: str | None = None,
) -> None:
    """Append one server-observed access event inside the caller's transaction."""
    conn.execute(
        insert(db.access_events).values(
            event_id=str(uuid.uuid4()),
            source="server",
            action=action.value,
            outcome=outcome.value,
            reason=reason,
            user_id=actor.user_id,
            device_id=actor.device_id,
            project_id=project_id,
            task_id=task_id,
            segment_id=segment_id,
            position_ms=None,
            verified=True,
            client_time=None,
            server_time=time.time(),
            remote_addr=actor.remote_addr,
        )
    )
