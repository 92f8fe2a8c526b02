"""Per-device sequence numbers: noticing events that never arrived.

Every outbox entry (event or label) carries its device's sequence number, and
the client sends them in order. Accepted numbers should follow each other; a
jump means entries were lost between the workstation and the log (deleted,
dropped as malformed, or an outbox the client could no longer read), and a step
back means the device's outbox was wiped and started again. Either raises a
``sequence_alert`` access event — in the audit log like any other — for the
security team; the events themselves are still accepted. A step back into a
gap reported earlier is no reset: it is an entry the client parked and sent
late, and it only closes that gap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, delete, insert, select

from app.wire.schemas import AccessAction, Outcome
from server import audit, dialect
from server.db import device_sequence_gaps, device_sequences


def observe(conn: Connection, actor: audit.Actor, seqs: Iterable[int]) -> list[str]:
    """Record newly accepted ``seqs`` of ``actor.device_id``; return the alerts raised.

    A number below the high-water mark is *late* if it falls in a gap already
    reported (the client parked that entry and sent those behind it first): it
    fills the gap without a second alert. Anywhere else it is a reset, and the
    gaps of the old numbering are forgotten (they would overlap the new one's).
    """
    return observe_many(conn, [(actor, seqs)])


def observe_many(
    conn: Connection, accepted: Sequence[tuple[audit.Actor, Iterable[int]]]
) -> list[str]:
    """:func:`observe` for several requests in order (a group commit): one read of the
    devices' high-water marks and one write of those that moved, for all of them."""
    work = [(actor, sorted(seqs)) for actor, seqs in accepted if actor.device_id is not None]
    work = [(actor, ordered) for actor, ordered in work if ordered]
    if not work:
        return []
    marks = device_sequences.c
    devices = {actor.device_id for actor, _ordered in work}
    read = conn.execute(select(marks.device_id, marks.high_seq).where(marks.device_id.in_(devices)))
    before: dict[str, int] = {str(device): int(high) for device, high in read.all()}
    highs = dict(before)
    raised = []
    for actor, ordered in work:
        device_id = str(actor.device_id)
        alerts, top = _follow(conn, device_id, highs.get(device_id), ordered)
        if top is not None:
            highs[device_id] = top
        for reason in alerts:
            audit.record(
                conn, actor, AccessAction.SEQUENCE_ALERT, outcome=Outcome.FAILED, reason=reason
            )
        raised.extend(alerts)
    moved = [
        {"device_id": device, "high_seq": high}
        for device, high in highs.items()
        if before.get(device) != high
    ]
    if moved:
        upsert = dialect.insert(conn, device_sequences)
        conn.execute(
            upsert.on_conflict_do_update(
                index_elements=["device_id"], set_={"high_seq": upsert.excluded.high_seq}
            ),
            moved,
        )
    return raised


def _follow(
    conn: Connection, device_id: str, high: int | None, ordered: list[int]
) -> tuple[list[str], int | None]:
    """The alerts ``ordered`` raises after ``high``, and the new high-water mark
    (``None``: unchanged). Gaps are recorded or filled here (rare)."""
    alerts = []
    expected = None if high is None else high + 1
    for seq in ordered:
        if expected is not None and seq > expected:
            alerts.append(f"missing_{seq - expected}")
            conn.execute(
                insert(device_sequence_gaps).values(
                    device_id=device_id, first_seq=expected, last_seq=seq - 1
                )
            )
        elif expected is not None and seq < expected:
            if _fill_gap(conn, device_id, seq):
                continue  # late, not lost: the high-water mark stays
            alerts.append("sequence_reset")  # then counted on from the new start
            # The old numbering's gaps mean nothing in the new one (and would overlap it).
            conn.execute(
                delete(device_sequence_gaps).where(device_sequence_gaps.c.device_id == device_id)
            )
        expected = seq + 1
    if expected is not None and expected - 1 != high:
        return alerts, expected - 1
    return alerts, None


def _fill_gap(conn: Connection, device_id: str, seq: int) -> bool:
    """Take ``seq`` out of a reported gap of ``device_id``; ``False`` if it is in none."""
    gaps = device_sequence_gaps.c
    gap = conn.execute(
        select(gaps.first_seq, gaps.last_seq).where(
            gaps.device_id == device_id, gaps.first_seq <= seq, gaps.last_seq >= seq
        )
    ).first()
    if gap is None:
        return False
    conn.execute(
        delete(device_sequence_gaps).where(
            gaps.device_id == device_id, gaps.first_seq == gap.first_seq
        )
    )
    pieces = [(gap.first_seq, seq - 1), (seq + 1, gap.last_seq)]
    for first, last in pieces:
        if first <= last:
            conn.execute(
                insert(device_sequence_gaps).values(
                    device_id=device_id, first_seq=first, last_seq=last
                )
            )
    return True
