"""Durable event ingest: idempotent answers, sequence alerts, group commit, fail closed."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select
from sqlalchemy.exc import OperationalError

from app.crypto.device_keys import DeviceKeyPair
from app.wire.schemas import EventBatchAck, EventBatchIn
from server import db
from server.api import idempotency
from server.api.errors import ApiError
from server.api.event_batch import ENDPOINT, EventBatch
from server.api.idempotency import HEADER
from server.api.principal import Principal
from server.audit import AuditUnavailableError
from server.auditlog.store import audit_leaves
from server.cli import main as server_main
from tests.fixtures import (
    DemoServer,
    demo_server,
    enroll,
    fail_audit_writes,
    label,
    login,
    proof_key,
)


@pytest.fixture
def srv(tmp_path: Path) -> DemoServer:
    return demo_server(tmp_path, {"call-a.flac": (2.0, 16000, 1)})


@pytest.fixture
def device(srv: DemoServer) -> tuple[TestClient, dict[str, str], str]:
    client = srv.client()
    headers = enroll(client, login(client, "annotator"), DeviceKeyPair.generate())
    task_id = client.get("/v1/tasks", headers=headers).json()["tasks"][0]["task_id"]
    return client, headers, task_id


def batch(task_id: str, seqs: list[int]) -> dict[str, Any]:
    return {
        "events": [
            {
                "event_id": str(uuid.uuid4()),
                "action": "playback_paused",
                "task_id": task_id,
                "client_time": 1.0,
                "seq": seq,
            }
            for seq in seqs
        ]
    }


def alerts(srv: DemoServer) -> list[str]:
    with srv.ctx.engine.connect() as conn:
        rows = conn.execute(
            select(db.access_events.c.reason)
            .where(db.access_events.c.action == "sequence_alert")
            .order_by(db.access_events.c.seq)
        )
        return [str(r) for r in rows.scalars()]


def test_a_retried_request_gets_the_first_answer(
    srv: DemoServer, device: tuple[TestClient, dict[str, str], str]
) -> None:
    client, headers, task_id = device
    body = batch(task_id, [1, 2, 3])
    keyed = {**headers, "Idempotency-Key": "batch-0001"}
    first = client.post("/v1/events", json=body, headers=keyed)
    again = client.post("/v1/events", json=body, headers=keyed)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert first.json()["accepted"] == 3  # the replay says what the first attempt did
    unkeyed = client.post("/v1/events", json=body, headers=headers).json()
    assert (unkeyed["accepted"], unkeyed["duplicates"]) == (0, 3)  # ids still de-duplicate
    other = client.post("/v1/events", json=batch(task_id, [4]), headers=keyed)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    bad = client.post(
        "/v1/events", json=batch(task_id, [4]), headers={**headers, "Idempotency-Key": "x y"}
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"


def test_a_label_retry_gets_the_first_answer_even_after_the_task_moved_on(
    srv: DemoServer, device: tuple[TestClient, dict[str, str], str]
) -> None:
    client, headers, task_id = device
    keyed = {**headers, "Idempotency-Key": "lbl-key-0001"}
    body = label("lbl_k1", "hello", seq=1)
    first = client.post(f"/v1/tasks/{task_id}/labels", json=body, headers=keyed)
    assert first.status_code == 200, first.text
    again = client.post(f"/v1/tasks/{task_id}/labels", json=body, headers=keyed)
    assert again.json() == first.json() and again.json()["duplicate"] is False
    assert client.post("/v1/events", json=batch(task_id, [2]), headers=headers).status_code == 200
    assert alerts(srv) == []  # label 1 and event 2 share one sequence


def test_gaps_and_resets_in_a_device_sequence_raise_alerts(
    srv: DemoServer, device: tuple[TestClient, dict[str, str], str]
) -> None:
    client, headers, task_id = device
    bodies = [batch(task_id, seqs) for seqs in ([1, 2], [3], [6, 7])]
    for body in bodies:
        assert client.post("/v1/events", json=body, headers=headers).status_code == 200
    assert alerts(srv) == ["missing_2"]
    client.post("/v1/events", json=bodies[1], headers=headers)  # a duplicate is no reset
    assert alerts(srv) == ["missing_2"]
    assert (
        client.post("/v1/events", json=batch(task_id, [1, 2]), headers=headers).status_code == 200
    )
    assert alerts(srv) == ["missing_2", "sequence_reset"]
    client.post("/v1/events", json=batch(task_id, [3]), headers=headers)
    assert alerts(srv) == ["missing_2", "sequence_reset"]  # counting on from the new start


def test_an_event_batch_is_refused_whole_when_its_leaves_cannot_be_written(
    srv: DemoServer, device: tuple[TestClient, dict[str, str], str]
) -> None:
    client, headers, task_id = device
    with srv.ctx.engine.begin() as conn:
        before = conn.execute(select(db.access_events)).all()
        fail_audit_writes(conn)
    response = client.post("/v1/events", json=batch(task_id, [1, 2]), headers=headers)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "audit_unavailable"
    with srv.ctx.engine.connect() as conn:
        assert conn.execute(select(db.access_events)).all() == before


class _Holder:
    """Holds the group committer's thread, under the write lock, until ``gate`` is set."""

    def __init__(self) -> None:
        self.gate, self.holding = threading.Event(), threading.Event()

    def prepare(self, conn: Connection) -> None:
        pass

    @classmethod
    def apply_group(cls, conn: Connection, jobs: Sequence[Self], *, retried: bool) -> list[object]:
        for job in jobs:
            job.holding.set()
            job.gate.wait(10)
        return [None for _job in jobs]


def _stored(srv: DemoServer, event_ids: list[str]) -> list[str]:
    """Those of ``event_ids`` stored, sorted, once for each row."""
    with srv.ctx.engine.connect() as conn:
        found = conn.execute(
            select(db.access_events.c.event_id).where(db.access_events.c.event_id.in_(event_ids))
        ).scalars()
        return sorted(found)


def _caller(client: TestClient, headers: dict[str, str]) -> Principal:
    """The annotator whose requests the device fixture proves, as a route sees them."""
    return Principal(
        user_id=str(client.get("/v1/me", headers=headers).json()["user_id"]),
        remote_addr="127.0.0.1",
        jkt=proof_key(headers).thumbprint,
    )


def _one_group(srv: DemoServer, jobs: Sequence[Any]) -> tuple[list[object], int]:
    """Run ``jobs`` through the server's committer as one group, in this order: each one's
    answer (an ApiError's code, or the name of AuditUnavailableError), and how many
    groups the committer then committed (the holder's counts one)."""
    holder, committer = _Holder(), srv.ctx.committer
    outcomes: list[object] = [None] * len(jobs)

    def run(position: int) -> None:
        try:
            outcomes[position] = committer.run(jobs[position])
        except ApiError as exc:
            outcomes[position] = exc.code
        except AuditUnavailableError as exc:
            outcomes[position] = type(exc).__name__

    held = threading.Thread(target=committer.run, args=(holder,))
    held.start()
    assert holder.holding.wait(10)
    groups = committer.groups
    threads = [threading.Thread(target=run, args=(p,)) for p in range(len(jobs))]
    for position, thread in enumerate(threads):
        thread.start()
        deadline = time.monotonic() + 10
        while committer._queue.qsize() < position + 1:
            assert time.monotonic() < deadline, "a job never queued"
            threading.Event().wait(0.005)
    holder.gate.set()
    for thread in [held, *threads]:
        thread.join(10)
    return outcomes, committer.groups - groups


def test_batches_committed_together_each_get_their_own_answer(
    srv: DemoServer, device: tuple[TestClient, dict[str, str], str]
) -> None:
    """One group: a key used twice (same request, then another), an event two batches share,
    an event twice in one batch; each answer and each leaf range is that batch's own."""
    client, headers, task_id = device
    principal = _caller(client, headers)
    bodies = [batch(task_id, [1, 2]), batch(task_id, [9]), batch(task_id, [3]), batch(task_id, [4])]
    shared, twice = bodies[0]["events"][1], bodies[3]["events"][0]
    bodies[2]["events"].insert(0, shared)  # already in the first batch of the group
    bodies[3]["events"].append(twice)  # twice in its own batch
    models = [EventBatchIn.model_validate(b) for b in bodies]
    key = "group-key-1"
    digests = [idempotency.request_hash(ENDPOINT, m) for m in models]
    jobs = [
        EventBatch(principal, models[0].events, key, digests[0]),
        EventBatch(principal, models[0].events, key, digests[0]),  # the same request again
        EventBatch(principal, models[1].events, key, digests[1]),  # the key, another request
        EventBatch(principal, models[2].events),
        EventBatch(principal, models[3].events),
    ]
    outcomes, groups = _one_group(srv, jobs)
    assert groups == 2  # the holder's, then all five together
    first, again, other, with_shared, with_twice = outcomes
    assert isinstance(first, EventBatchAck) and again == first
    assert other == "idempotency_key_reused"
    assert isinstance(with_shared, EventBatchAck) and isinstance(with_twice, EventBatchAck)
    assert (first.accepted, first.duplicates) == (2, 0)
    assert (with_shared.accepted, with_shared.duplicates) == (1, 1)
    assert (with_twice.accepted, with_twice.duplicates) == (1, 1)
    # Each range holds exactly that batch's new events, in its order.
    expected = [
        (first, [e["event_id"] for e in bodies[0]["events"]]),
        (with_shared, [bodies[2]["events"][1]["event_id"]]),
        (with_twice, [twice["event_id"]]),
    ]
    with srv.ctx.engine.connect() as conn:
        for ack, event_ids in expected:
            (logged,) = ack.logs
            leaves = conn.execute(
                select(db.access_events.c.event_id)
                .join(audit_leaves, audit_leaves.c.event_seq == db.access_events.c.seq)
                .where(
                    audit_leaves.c.log_id == logged.log_id,
                    audit_leaves.c.idx >= logged.first_index,
                    audit_leaves.c.idx < logged.first_index + logged.count,
                )
                .order_by(audit_leaves.c.idx)
            ).scalars()
            assert list(leaves) == event_ids
    # The key keeps the first answer; the device's numbering 1-4 raised no alert.
    retry = client.post("/v1/events", json=bodies[0], headers={**headers, HEADER: key})
    assert retry.status_code == 200 and EventBatchAck.model_validate(retry.json()) == first
    assert alerts(srv) == []
    assert server_main(["audit", "verify", "--data-dir", str(srv.ctx.data.root)]) == 0


class _Broken:
    """A job whose ordered work the database refuses (as a full disk would)."""

    def prepare(self, conn: Connection) -> None:
        pass

    @classmethod
    def apply_group(cls, conn: Connection, jobs: Sequence[Self], *, retried: bool) -> list[object]:
        raise OperationalError("INSERT", {}, Exception("disk full"))


def test_a_keyed_batch_sent_twice_in_a_failing_group_gets_one_answer_twice(
    srv: DemoServer, device: tuple[TestClient, dict[str, str], str]
) -> None:
    """The group fails (another job breaks it) twice, so each job runs alone: the first copy
    stores the events and its key's answer, the second is answered from the key."""
    client, headers, task_id = device
    body = EventBatchIn.model_validate(batch(task_id, [1, 2]))
    digest = idempotency.request_hash(ENDPOINT, body)
    principal = _caller(client, headers)
    jobs = [
        EventBatch(principal, body.events, "twice-key", digest),
        EventBatch(principal, body.events, "twice-key", digest),
        _Broken(),
    ]
    (first, again, broken), _groups = _one_group(srv, jobs)
    assert broken == "AuditUnavailableError"
    assert isinstance(first, EventBatchAck) and (first.accepted, first.duplicates) == (2, 0)
    assert again == first
    assert server_main(["audit", "verify", "--data-dir", str(srv.ctx.data.root)]) == 0


def test_a_batch_in_a_group_that_fails_is_stored_when_tried_alone(
    srv: DemoServer, device: tuple[TestClient, dict[str, str], str], capsys: Any
) -> None:
    """The group fails because of another request; this batch, prepared once on its own
    thread and then run again alone, is stored once, answered, and its leaves verify."""
    client, headers, task_id = device
    body = EventBatchIn.model_validate(batch(task_id, [1, 2, 3]))
    jobs = [EventBatch(_caller(client, headers), body.events), _Broken()]
    (ack, broken), groups = _one_group(srv, jobs)
    assert broken == "AuditUnavailableError"
    assert isinstance(ack, EventBatchAck) and (ack.accepted, ack.duplicates) == (3, 0)
    assert groups == 2  # the holder's, then the batch alone
    ids = [e.event_id for e in body.events]
    assert _stored(srv, ids) == sorted(ids)
    assert server_main(["audit", "verify", "--data-dir", str(srv.ctx.data.root)]) == 0
    assert "OK" in capsys.readouterr().out


class _StoredMeanwhile:
    """An event batch of its own kind, applied first in its group: it stores events after
    the other batches checked them before the lock — as another server process storing
    a copy between their check and their lock would."""

    def __init__(self, batch: EventBatch) -> None:
        self.batch = batch

    def prepare(self, conn: Connection) -> None:
        self.batch.prepare(conn)

    @classmethod
    def apply_group(cls, conn: Connection, jobs: Sequence[Self], *, retried: bool) -> list[object]:
        return EventBatch.apply_group(conn, [job.batch for job in jobs], retried=retried)


def test_an_event_stored_between_the_check_and_the_lock_is_a_duplicate_not_a_second_row(
    srv: DemoServer, device: tuple[TestClient, dict[str, str], str], caplog: Any
) -> None:
    client, headers, task_id = device
    principal = _caller(client, headers)
    first = EventBatchIn.model_validate(batch(task_id, [1, 2]))
    second = EventBatchIn.model_validate(batch(task_id, [3]))
    copy = EventBatchIn.model_validate({"events": [first.model_dump()["events"][1]]})
    acks, _groups = _one_group(srv, [  # kinds are applied in the order they first come
        _StoredMeanwhile(EventBatch(principal, copy.events)),  # so the copy's goes first
        EventBatch(principal, first.events),
        EventBatch(principal, second.events),
    ])  # fmt: skip
    assert all(isinstance(ack, EventBatchAck) for ack in acks), acks
    # The copy went in first; the batch that also carried it counts it as a duplicate.
    counts = [(a.accepted, a.duplicates) for a in acks]  # type: ignore[attr-defined]
    assert counts == [(1, 0), (1, 1), (1, 0)]
    # the path taken: the group once more, checked under the lock, not each batch alone
    assert "group of 3 failed (IntegrityError): once more, checked under the lock" in caplog.text
    assert "each job alone" not in caplog.text
    ids = [e.event_id for e in (*first.events, *second.events)]
    assert _stored(srv, ids) == sorted(ids)  # each once
    assert server_main(["audit", "verify", "--data-dir", str(srv.ctx.data.root)]) == 0


class _CopyStoredAfterPrepare(EventBatch):
    """A batch that, once its reads are done, has another request store a copy of one of
    its events — the race a client's two sends of one event make (or two processes)."""

    copy: Any = None

    def prepare(self, conn: Connection) -> None:
        super().prepare(conn)
        self.copy()


def test_a_lone_batch_whose_event_was_stored_after_its_reads_counts_it_a_duplicate(
    srv: DemoServer, device: tuple[TestClient, dict[str, str], str], caplog: Any
) -> None:
    """Alone in its group, the batch's check was made without the lock: the insert breaks
    UNIQUE(event_id), and the batch, run again and checked under the lock, stores the
    other event once and counts the copy as a duplicate."""
    client, headers, task_id = device
    principal = _caller(client, headers)
    body = EventBatchIn.model_validate(batch(task_id, [1, 2]))
    copy = EventBatchIn.model_validate({"events": [body.model_dump()["events"][0]]})
    job = _CopyStoredAfterPrepare(principal, body.events)
    stored_copy: list[object] = []
    job.copy = lambda: stored_copy.append(srv.ctx.committer.run(EventBatch(principal, copy.events)))
    ack = srv.ctx.committer.run(job)
    assert isinstance(stored_copy[0], EventBatchAck) and stored_copy[0].accepted == 1
    assert isinstance(ack, EventBatchAck) and (ack.accepted, ack.duplicates) == (1, 1)
    assert "group of 1 failed (IntegrityError): once more" in caplog.text
    ids = [e.event_id for e in body.events]
    assert _stored(srv, ids) == sorted(ids)  # each once
    assert alerts(srv) == []
    assert server_main(["audit", "verify", "--data-dir", str(srv.ctx.data.root)]) == 0


def test_a_key_used_by_another_request_after_the_reads_is_refused_and_nothing_stored(
    srv: DemoServer, device: tuple[TestClient, dict[str, str], str], caplog: Any
) -> None:
    """The key was free when the batch looked it up (without the lock); another request
    used it before the lock. The answers' insert breaks the key's primary key, the group
    runs again with the keys checked under the lock, and the batch is refused as a
    reused key, its events not stored."""
    client, headers, task_id = device
    principal = _caller(client, headers)
    late = EventBatchIn.model_validate(batch(task_id, [3, 4]))
    early = EventBatchIn.model_validate(batch(task_id, [1, 2]))
    job = _CopyStoredAfterPrepare(
        principal, late.events, "raced-key", idempotency.request_hash(ENDPOINT, late)
    )
    other = EventBatch(
        principal, early.events, "raced-key", idempotency.request_hash(ENDPOINT, early)
    )
    first: list[object] = []
    job.copy = lambda: first.append(srv.ctx.committer.run(other))
    with pytest.raises(ApiError) as refused:
        srv.ctx.committer.run(job)
    assert refused.value.code == "idempotency_key_reused"
    assert isinstance(first[0], EventBatchAck) and first[0].accepted == 2
    assert "group of 1 failed (IntegrityError): once more" in caplog.text
    assert _stored(srv, [e.event_id for e in late.events]) == []
    assert server_main(["audit", "verify", "--data-dir", str(srv.ctx.data.root)]) == 0
