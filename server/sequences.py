"""Per-device sequence numbers: noticing events that never arrived.

Every outbox entry (event or label) carries its device's sequence number, and
the client sends them in order. Accepted numbers should follow each other; a
jump means entries were lost between the workstation and the log (deleted,
dropped as malformed, or an outbox the client could no longer read), and a step
back means the device's outbox was wiped and started again. Either raises a
``sequence_alert`` access event — in the audit log like any other — for the
security team; the events themselves are still accepted.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.wire.schemas import AccessAction, Outcome
from server import audit
from server.db import device_sequences


def observe(conn: Connection, actor: audit.Actor, seqs: Iterable[int]) -> list[str]:
    """Record newly accepted ``seqs`` of ``actor.device_id``; return the alerts raised."""
    device_id = actor.device_id
    ordered = sorted(seqs)
    if device_id is None or not ordered:
        return []
    high = conn.execute(
        select(device_sequences.c.high_seq).where(device_sequences.c.device_id == device_id)
    ).scalar()
    alerts = []
    expected = None if high is None else high + 1
    for seq in ordered:
        if expected is not None and seq > expected:
            alerts.append(f"missing_{seq - expected}")
        elif expected is not None and seq < expected:
            alerts.append("sequence_reset")  # then counted on from the new start
        expected = seq + 1
    top = ordered[-1]
    conn.execute(
        sqlite_insert(device_sequences)
        .values(device_id=device_id, high_seq=top)
        .on_conflict_do_update(index_elements=["device_id"], set_={"high_seq": top})
    )
    for reason in alerts:
        audit.record(
            conn, actor, AccessAction.SEQUENCE_ALERT, outcome=Outcome.FAILED, reason=reason
        )
    return alerts
