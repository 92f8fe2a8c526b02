"""Access events the server records, in the same transaction as the access itself.

Fail closed: a key is released, a segment served or a label stored only if its
access event *and* its audit-log leaf commit in the same transaction. If either
cannot be written, :class:`AuditUnavailableError` rolls the access back and the
caller gets a 503 saying so. Events carry ids, an action and an outcome — never
transcript text or audio.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from app.wire.schemas import AccessAction, Outcome
from server import db, dialect
from server.auditlog import store

logger = logging.getLogger(__name__)


class AuditUnavailableError(Exception):
    """The audit record could not be written; the access it describes must not happen."""


@dataclass(frozen=True)
class Actor:
    """Who did it and from where."""

    user_id: str | None
    device_id: str | None = None
    remote_addr: str | None = None


def insert_event(conn: Connection, values: dict[str, Any]) -> tuple[str, int] | None:
    """Insert one access event and its audit leaf; return ``(log_id, leaf index)``.

    ``None`` if ``event_id`` was already recorded: duplicates (a client retrying
    a batch) are skipped without a second leaf.
    """
    try:
        seq = conn.execute(
            dialect.insert(conn, db.access_events)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(db.access_events.c.seq)
        ).scalar()
        if seq is None:
            return None
        return store.append(conn, int(seq), values)
    except SQLAlchemyError as exc:
        logger.error("audit write failed: %s", type(exc).__name__)
        raise AuditUnavailableError("the audit log cannot be written") from exc


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
) -> tuple[str, int] | None:
    """Append one server-observed access event inside the caller's transaction; return
    the leaf's ``(log id, index)``."""
    return insert_event(
        conn,
        {
            "event_id": str(uuid.uuid4()),
            "source": "server",
            "action": action.value,
            "outcome": outcome.value,
            "reason": reason,
            "user_id": actor.user_id,
            "device_id": actor.device_id,
            "project_id": project_id,
            "task_id": task_id,
            "segment_id": segment_id,
            "position_ms": None,
            "verified": True,
            "client_time": None,
            "server_time": time.time(),
            "remote_addr": actor.remote_addr,
        },
    )
