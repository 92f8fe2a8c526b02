"""Durable event ingest: idempotent answers, sequence alerts, group commit, fail closed."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from app.crypto.device_keys import DeviceKeyPair
from server import db
from server.audit import AuditUnavailableError
from server.group_commit import GroupCommitter
from tests.fixtures import DemoServer, demo_server, enroll, fail_audit_writes, label, login


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


def test_one_failing_request_does_not_sink_its_group(tmp_path: Path) -> None:
    engine = db.make_writer_engine(tmp_path / "g.db")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (v INTEGER UNIQUE)"))
    committer = GroupCommitter(engine)
    gate = threading.Event()
    results: dict[int, object] = {}

    def insert(value: int) -> Any:
        def work(conn: Any) -> int:
            if value == 0:
                gate.wait(5)  # hold the writer so the others queue into one group
            conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": value})
            if value == 3:
                raise ValueError("refused")
            return value

        def run() -> None:
            try:
                results[value] = committer.run(work)
            except (ValueError, AuditUnavailableError) as exc:
                results[value] = type(exc).__name__

        return threading.Thread(target=run)

    threads = [insert(v) for v in (0, 1, 2, 3, 2)]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(10)
    committer.stop()
    with engine.connect() as conn:
        stored = sorted(conn.execute(text("SELECT v FROM t")).scalars())
    assert stored == [0, 1, 2]  # 3 rolled back alone; the second 2 broke UNIQUE alone
    assert results[3] == "ValueError"
    assert results[0] == 0 and results[1] == 1
    assert committer.requests == 5 and committer.groups < 5
