"""Client access-event batches, as the group committer takes them (:mod:`server.group_commit`).

Events are de-duplicated by their UUID, so a retried batch is harmless: an
event already stored counts as a duplicate and gets no second leaf. An event
naming a task the caller may not see is still kept — losing it would hide an
attempt — but marked unverified and stripped of the project attribution.

Each request is an :class:`EventBatch`. On the request's own thread, before it
is queued, it finds the caller's device and which of its tasks the caller may
see, builds each event's row and its audit leaf, encoded and hashed (neither
holds the event's number), and looks up which of its events are stored already
and whether its idempotency key was used (reads only, no lock). Under the lock,
:meth:`EventBatch.apply_group` does the ordered work once for the whole group:
one numbering, one bulk insert of the events, one append per audit log, one
write of the devices' sequence marks and one of the keys' answers. If another
request stored one of the events, or used the key, between the look-up and the
lock (a copy sent twice at once, or to two server processes),
``UNIQUE(event_id)`` or the key's primary key stops the insert and the group
runs once more, checked under the lock. Done
per request, all of it under the lock, that took ~15 ms for each 50-event
request on PostgreSQL and capped every server process together at 60-75
requests a second.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Self

from sqlalchemy import Connection, select

from app.wire.schemas import AccessEventIn, EventBatchAck, LogRange
from server import db, dialect, sequences
from server.api import idempotency
from server.api.errors import ApiError
from server.api.principal import Principal, membership_role
from server.api.task_access import device_of, is_gold, may_access
from server.auditlog import store

ENDPOINT = "POST /v1/events"

Visible = dict[str, tuple[str, frozenset[str]] | None]
#: The stored columns of a client event, in the order the bulk insert sends them (its
#: number last: it is assigned under the lock).
_COLUMNS = (
    "event_id", "source", "action", "outcome", "reason", "user_id", "device_id", "project_id",
    "task_id", "segment_id", "position_ms", "verified", "client_time", "server_time",
    "remote_addr", "seq",
)  # fmt: skip


@dataclass(frozen=True)
class _Prepared:
    """One event of a batch as it will be stored: its row's values (all but the number),
    encoded for the bulk insert (:func:`server.dialect.encode`), and its leaf, made
    before the write lock."""

    event: AccessEventIn
    head: Any
    leaf: store.PreparedLeaf


@dataclass
class EventBatch:
    """One ``POST /v1/events`` request: the caller, its events and its idempotency key."""

    principal: Principal
    events: Sequence[AccessEventIn]
    key: str | None = None
    digest: bytes = b""
    device_id: str | None = field(default=None, init=False)
    #: Each distinct event of the batch, in order, ready to store (made before the lock).
    prepared: list[_Prepared] = field(default_factory=list, init=False)
    #: Which of them were stored already when prepared (no lock: see ``_ingest``).
    stored: set[str] = field(default_factory=set, init=False)
    #: The stored answer to its idempotency key, if the key was used when prepared.
    answered: Any = field(default=None, init=False)

    def prepare(self, conn: Connection) -> None:
        """On the request's thread, without the write lock (reads only): the caller's
        device, which of the tasks the batch names the caller may see, and each event's
        row and leaf, encoded and hashed."""
        self.device_id = device_of(conn, self.principal)
        visible: Visible = {}
        for task_id in dict.fromkeys(e.task_id for e in self.events if e.task_id is not None):
            visible[task_id] = _visible_task(conn, self.principal, task_id)
        now = time.time()
        unique: dict[str, AccessEventIn] = {}
        for event in self.events:
            unique.setdefault(event.event_id, event)
        prepared = []  # anew on each call: a job prepared twice keeps no rows of the first
        for event in unique.values():
            row = _row(self, event, now, visible)
            head = dialect.encode(conn, [row[c] for c in _COLUMNS[:-1]])
            prepared.append(_Prepared(event, head, store.prepare_leaf(row, conn)))
        self.prepared = prepared
        ids = [p.event.event_id for p in prepared]
        self.stored = dialect.existing(conn, "access_events", "event_id", ids)
        if self.key is not None:
            used = (self.principal.user_id, self.key)
            self.answered = idempotency.used(conn, {used}).get(used)

    @classmethod
    def apply_group(cls, conn: Connection, jobs: Sequence[Self], *, retried: bool) -> list[object]:
        """Store the new events of every batch and their leaves; one outcome per batch:
        its acknowledgement, or the refusal of a reused idempotency key. ``retried``: the
        group (or one batch of it) again after it failed: stored events are looked up
        anew, under the lock."""
        outcomes: list[object] = [None] * len(jobs)
        if retried:  # checked under the lock, as the events are (see ``_ingest``)
            stored = idempotency.used(
                conn, {(j.principal.user_id, j.key) for j in jobs if j.key is not None}
            )
        else:  # a key used since its job's reads makes the answers' insert fail: retried
            stored = {
                (j.principal.user_id, str(j.key)): j.answered
                for j in jobs
                if j.answered is not None
            }
        first_with: dict[tuple[str, str], int] = {}  # a key's first batch in this group
        again: list[int] = []  # batches repeating a key an earlier batch of the group used
        active: list[int] = []
        for position, job in enumerate(jobs):
            if job.key is None:
                active.append(position)
                continue
            used = (job.principal.user_id, job.key)
            if used in stored:
                outcomes[position] = _replay(stored[used], job.digest)
            elif used in first_with:
                again.append(position)
            else:
                first_with[used] = position
                active.append(position)
        acked = _ingest(conn, [jobs[p] for p in active], retried=retried)
        acks = dict(zip(active, acked, strict=True))
        for position, ack in acks.items():
            outcomes[position] = ack
        idempotency.remember_new(
            conn,
            [
                (user_id, key, ENDPOINT, jobs[p].digest, acks[p])
                for (user_id, key), p in first_with.items()
            ],
        )
        for position in again:
            job = jobs[position]
            first = first_with[(job.principal.user_id, str(job.key))]
            outcomes[position] = _same_or_refused(jobs[first], job, outcomes[first])
        return outcomes


def _replay(row: Any, digest: bytes) -> object:
    try:
        return EventBatchAck.model_validate_json(idempotency.replay(row, ENDPOINT, digest))
    except ApiError as exc:  # the 422 is this batch's answer
        return exc


def _same_or_refused(first: EventBatch, job: EventBatch, answer: object) -> object:
    """A key used twice in one group: the first batch's answer if it is the same request."""
    if hmac.compare_digest(first.digest, job.digest):
        return answer
    return idempotency.reused()


def _ingest(
    conn: Connection, batches: Sequence[EventBatch], *, retried: bool
) -> list[EventBatchAck]:
    """The new events of ``batches`` in, numbered in arrival order; their acknowledgements."""
    if retried:  # again after the group failed: checked under the lock, so a retry
        # cannot meet the same race again.
        ids = [p.event.event_id for batch in batches for p in batch.prepared]
        known = dialect.existing(conn, "access_events", "event_id", ids)
    else:
        # Checked without the lock, each batch in its own prepare: it is exact unless
        # another request stored one of these events since (a copy sent twice at once,
        # or to two server processes). Then the bulk insert breaks UNIQUE(event_id), the
        # group fails, and it runs once more, checked under the lock.
        known = set().union(*(batch.stored for batch in batches))
    fresh_of: list[list[_Prepared]] = []
    for batch in batches:
        fresh = [p for p in batch.prepared if p.event.event_id not in known]
        known.update(p.event.event_id for p in fresh)  # a copy in a later batch is a duplicate
        fresh_of.append(fresh)
    count = sum(len(fresh) for fresh in fresh_of)
    next_index: dict[str, int] = {}
    if count:
        # Row numbers are assigned here, not by RETURNING: SQLAlchemy runs an ordered
        # RETURNING insert on SQLite one row at a time. The write lock is held, so
        # max(seq) cannot move meanwhile.
        first = dialect.reserve_numbers(conn, "access_events", "seq", count)
        numbered = [p for fresh in fresh_of for p in fresh]
        dialect.insert_rows(
            conn,
            "access_events",
            _COLUMNS,
            [(p.head, (first + offset,)) for offset, p in enumerate(numbered)],
        )
        # Each log's leaves go in arrival order, so a batch's leaves in a log are contiguous.
        leaves = [(first + offset, p.leaf) for offset, p in enumerate(numbered)]
        next_index = {log: at for log, at, _n in store.append_prepared(conn, leaves)}
        sequences.observe_many(
            conn,
            [
                (batch.principal.actor(batch.device_id), [p.event.seq for p in fresh])
                for batch, fresh in zip(batches, fresh_of, strict=True)
            ],
        )
    acks = []
    for batch, fresh in zip(batches, fresh_of, strict=True):
        counts: dict[str, int] = {}
        for p in fresh:
            counts[p.leaf.log_id] = counts.get(p.leaf.log_id, 0) + 1
        logs = []
        for log, n in counts.items():
            logs.append(LogRange(log_id=log, first_index=next_index[log], count=n))
            next_index[log] += n
        acks.append(
            EventBatchAck(accepted=len(fresh), duplicates=len(batch.events) - len(fresh), logs=logs)
        )
    return acks


def _row(batch: EventBatch, event: AccessEventIn, now: float, visible: Visible) -> dict[str, Any]:
    project_id = None
    verified = event.task_id is None
    if event.task_id is not None:
        found = visible.get(event.task_id)
        if found is not None:
            project_id, segments = found
            verified = event.segment_id is None or event.segment_id in segments
    principal = batch.principal
    return {
        "event_id": event.event_id,
        "source": "client",
        "action": event.action.value,
        "outcome": event.outcome.value,
        "reason": event.reason,
        "user_id": principal.user_id,
        "device_id": batch.device_id,
        "project_id": project_id,
        "task_id": event.task_id,
        "segment_id": event.segment_id,
        "position_ms": event.position_ms,
        "verified": verified,
        "client_time": event.client_time,
        "server_time": now,
        "remote_addr": principal.remote_addr,
    }


def _visible_task(
    conn: Connection, principal: Principal, task_id: str
) -> tuple[str, frozenset[str]] | None:
    """(project, segments) of a task the caller may see, else ``None``: its own segment and
    the context stretches granted around it (playing those is an event about the task)."""
    task = conn.execute(select(db.tasks).where(db.tasks.c.id == task_id)).first()
    if task is None:
        return None
    role = membership_role(conn, principal.user_id, task.project_id)
    if not may_access(role, principal, task.assignee_id, task.status, gold=is_gold(conn, task_id)):
        return None
    granted = conn.execute(
        select(db.context_requests.c.segment_id).where(
            db.context_requests.c.task_id == task_id, db.context_requests.c.segment_id.is_not(None)
        )
    ).scalars()
    return str(task.project_id), frozenset({str(task.segment_id), *map(str, granted)})
