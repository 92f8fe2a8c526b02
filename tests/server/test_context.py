"""Context unlock around a windowed task: a reason, a daily limit, a leaf, a reviewer's grant,
and only the granted stretch sent (counted and compared sample by sample)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from sqlalchemy import select

from app.wire.schemas import Role
from server import db, provision
from server.cli import main as server_main
from tests.fixtures import DemoServer, database_bytes, demo_server, login
from tests.server.test_windows import RATE, Workstations, assign

WHY = "The caller refers to an earlier account number."


@pytest.fixture
def srv(tmp_path: Path) -> DemoServer:
    return demo_server(tmp_path, {"long-call.wav": (10.0, RATE, 1), "short.wav": (1.0, RATE, 1)})


def policy(srv: DemoServer, *args: str) -> int:
    return server_main(["project", "policy", "--data-dir", str(srv.ctx.data.root),
                        "--project", srv.demo.project_id, *args])  # fmt: skip


def leaves(srv: DemoServer, action: str) -> list[str | None]:
    with srv.ctx.engine.connect() as conn:
        return list(
            conn.execute(
                select(db.access_events.c.reason)
                .where(db.access_events.c.action == action)
                .order_by(db.access_events.c.seq)
            ).scalars()
        )


class Bo:
    """The second demo annotator with seconds 4-6 of the long call."""

    def __init__(self, srv: DemoServer) -> None:
        assert assign(srv, "annotator2", "4:6") == 0
        self.client = srv.client()
        self.desks = Workstations(self.client)
        self.headers = self.desks.device("annotator2")
        (self.task,) = self.client.get("/v1/tasks", headers=self.headers).json()["tasks"]

    def ask(self, seconds: int, why: str = WHY) -> Any:
        body = {"seconds": seconds, "justification": why}
        return self.client.post(
            f"/v1/tasks/{self.task['task_id']}/context", json=body, headers=self.headers
        )

    def hear(self, request_id: str) -> bytes:
        """The granted stretch as the client gets it (key grant, stream, decrypt)."""
        base = f"/v1/tasks/{self.task['task_id']}/context/{request_id}"
        grant = self.client.post(f"{base}/key-grant", headers=self.headers)
        assert grant.status_code == 200, grant.text
        return self.desks.fetch_path(self.headers, base, grant.json())


def test_a_direct_grant_sends_the_wider_stretch_and_nothing_more(srv: DemoServer) -> None:
    bo = Bo(srv)
    assert bo.task["windowed"] is True and bo.task["context_max_s"] == 10
    asked = bo.ask(3)
    assert asked.status_code == 200, asked.text
    out = asked.json()
    assert (out["status"], out["before_s"], out["after_s"]) == ("granted", 3.0, 3.0)
    audio, rate = sf.read(io.BytesIO(bo.hear(out["request_id"])), dtype="int16")
    source, _ = sf.read(srv.audio_dir / "long-call.wav", dtype="int16")
    assert rate == RATE and np.array_equal(audio, source[1 * RATE : 9 * RATE])
    with srv.ctx.engine.connect() as conn:
        cut = conn.execute(
            select(db.segments.c.ciphertext_bytes).join(
                db.context_requests, db.context_requests.c.segment_id == db.segments.c.id
            )
        ).scalar_one()
    assert bo.desks.sent == [cut]  # counted at the server: the cut, and only once
    assert leaves(srv, "context_requested") == ["granted"]
    # The reason is sealed: not in the database file or its log in clear.
    stored = [p for p in srv.ctx.data.root.rglob("*") if p.is_file()]
    for path in stored:
        assert WHY.encode() not in path.read_bytes(), path
    assert WHY.encode() not in database_bytes(srv.ctx)  # the database, whichever it is
    history = bo.client.get(f"/v1/tasks/{bo.task['task_id']}/context", headers=bo.headers)
    assert [r["status"] for r in history.json()["requests"]] == ["granted"]


def test_each_refused_ask_has_its_reason_and_a_leaf(srv: DemoServer) -> None:
    bo = Bo(srv)
    ada = bo.desks.device("annotator")
    whole = next(t for t in bo.client.get("/v1/tasks", headers=ada).json()["tasks"]
                 if t["title"] == "long-call")  # fmt: skip
    body = {"seconds": 2, "justification": WHY}
    refused = bo.client.post(f"/v1/tasks/{whole['task_id']}/context", json=body, headers=ada)
    assert refused.status_code == 409 and leaves(srv, "access_refused")[-1] == "not_windowed"
    assert bo.ask(11).status_code == 422 and leaves(srv, "access_refused")[-1] == "context_too_long"
    assert bo.ask(2, why="because").status_code == 422  # a reason of ten characters at least
    other = bo.client.post(f"/v1/tasks/{bo.task['task_id']}/context", json=body, headers=ada)
    assert other.status_code == 404  # Ada cannot see Bo's task
    for _ in range(3):
        assert bo.ask(1).status_code == 200
    limited = bo.ask(1)
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert leaves(srv, "access_refused")[-1] == "rate_limited"
    assert policy(srv, "--context-max", "0") == 0
    assert bo.ask(1).status_code == 403 and leaves(srv, "access_refused")[-1] == "context_disabled"


def test_with_approval_a_reviewer_reads_the_reason_and_decides(srv: DemoServer) -> None:
    assert policy(srv, "--context-approval", "yes") == 0
    bo = Bo(srv)
    pending = bo.ask(2).json()
    assert pending["status"] == "pending"
    key = f"/v1/tasks/{bo.task['task_id']}/context/{pending['request_id']}/key-grant"
    assert bo.client.post(key, headers=bo.headers).status_code == 404  # nothing to hear yet
    reviewer = login(bo.client, "reviewer")
    queue = bo.client.get("/v1/review/context", headers=reviewer).json()["requests"]
    assert [(q["title"], q["annotator_name"], q["justification"]) for q in queue] == [
        ("long-call 00:04-00:06", "Bo (demo annotator)", WHY)]  # fmt: skip
    assert "context_reason" in leaves(srv, "review_read")
    # The role table: no one else reads the reason or hears the stretch.
    assert bo.client.get("/v1/review/context", headers=bo.headers).json()["requests"] == []
    manager = provision.ensure_user(srv.ctx.engine, "mgr", "Manager", demo=True)
    provision.set_membership(srv.ctx.engine, manager, srv.demo.project_id, Role.MANAGER)
    mgr = login(bo.client, "mgr")
    assert bo.client.get("/v1/review/context", headers=mgr).json()["requests"] == []
    decide = f"/v1/context/{pending['request_id']}/decision"
    assert bo.client.post(decide, json={"grant": True}, headers=bo.headers).status_code == 404
    granted = bo.client.post(decide, json={"grant": True}, headers=reviewer)
    assert granted.status_code == 200 and granted.json()["status"] == "granted"
    audio, _ = sf.read(io.BytesIO(bo.hear(pending["request_id"])), dtype="int16")
    assert len(audio) == 6 * RATE  # 2 s either side of 2 s
    rev_device = bo.desks.device("reviewer")
    for who in (rev_device, mgr):
        assert bo.client.post(key, headers=who).status_code == 404
    again = bo.client.post(decide, json={"grant": False}, headers=reviewer)
    assert again.status_code == 409 and leaves(srv, "access_refused")[-1] == "context_decided"
    denied = bo.ask(5).json()
    answer = bo.client.post(f"/v1/context/{denied['request_id']}/decision",
                            json={"grant": False}, headers=reviewer)  # fmt: skip
    assert answer.json()["status"] == "denied"
    assert leaves(srv, "context_decided") == ["granted", "denied"]
    assert bo.client.get("/v1/review/context", headers=reviewer).json()["requests"] == []


def test_a_granted_stretch_is_not_a_recording_to_assign(srv: DemoServer) -> None:
    bo = Bo(srv)
    assert bo.ask(2).json()["status"] == "granted"
    manager = provision.ensure_user(srv.ctx.engine, "mgr", "Manager", demo=True)
    provision.set_membership(srv.ctx.engine, manager, srv.demo.project_id, Role.MANAGER)
    plan = bo.client.get(f"/v1/projects/{srv.demo.project_id}/tasks",
                         headers=login(bo.client, "mgr")).json()  # fmt: skip
    assert [r["title"] for r in plan["recordings"]] == [
        "long-call", "long-call 00:04-00:06", "short"]  # fmt: skip


def test_a_task_handed_over_does_not_hand_over_its_context(srv: DemoServer) -> None:
    bo = Bo(srv)
    granted = bo.ask(2).json()
    assert server_main(["task", "reassign", "--data-dir", str(srv.ctx.data.root),
                        "--task", bo.task["task_id"], "--to", "annotator"]) == 0  # fmt: skip
    ada = bo.desks.device("annotator")
    key = f"/v1/tasks/{bo.task['task_id']}/context/{granted['request_id']}/key-grant"
    assert bo.client.post(key, headers=ada).status_code == 404
    assert bo.client.post(key, headers=bo.headers).status_code == 404  # no longer Bo's task
