"""Listen coverage on the server: a hand-in or an accept before listening is a 409 naming
the unheard spans; a forged trace does not count; the policy is the project admin's."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.crypto.device_keys import DeviceKeyPair
from server import db
from server.cli import main as server_main
from tests.fixtures import DemoServer, demo_server, document, enroll, login


@pytest.fixture
def srv(tmp_path: Path) -> DemoServer:
    # call-a: 1 s mono at 8 kHz: the document's segment is 0-800 frames = 0-100 ms.
    return demo_server(tmp_path, {"call-a.wav": (1.0, 8000, 1)}, listening=True)


class Person:
    def __init__(self, client: TestClient, username: str) -> None:
        self.client = client
        self.headers = enroll(client, login(client, username), DeviceKeyPair.generate())
        self.seq = 0

    def fetch(self, task: str) -> None:
        assert self.client.get(f"/v1/tasks/{task}/segment", headers=self.headers).status_code == 200

    def trace(self, task: str, *marks: tuple[str, float, int, str | None]) -> None:
        """Client events (action, seconds after now, position ms, reason)."""
        now = time.time()
        events = []
        for action, after, position, reason in marks:
            self.seq += 1
            events.append({
                "event_id": str(uuid.uuid4()), "seq": self.seq, "action": action,
                "client_time": now + after, "task_id": task, "position_ms": position,
                **({"reason": reason} if reason else {}),
            })  # fmt: skip
        answer = self.client.post("/v1/events", json={"events": events}, headers=self.headers)
        assert answer.status_code == 200, answer.text

    def listen(self, task: str, start_ms: int, end_ms: int, speed: float = 1.0) -> None:
        self.trace(
            task,
            ("playback_speed", 0.0, start_ms, f"speed_{round(speed * 100)}"),
            ("playback_started", 0.0, start_ms, None),
            ("playback_paused", (end_ms - start_ms) / 1000 / speed, end_ms, None),
        )

    def submit(self, task: str, label_id: str, **segment: Any) -> Any:
        body = {"label_id": label_id, "document": document("words", **segment)}
        return self.client.post(f"/v1/tasks/{task}/labels", json=body, headers=self.headers)

    def step(self, task: str, step: str, **extra: Any) -> Any:
        body = {"step": step, **extra}
        return self.client.post(f"/v1/tasks/{task}/review", json=body, headers=self.headers)


def _task(person: Person) -> str:
    tasks = person.client.get("/v1/tasks", headers=person.headers).json()["tasks"]
    return str(tasks[0]["task_id"])


def _leaves(srv: DemoServer, reason: str) -> int:
    with srv.ctx.engine.connect() as conn:
        rows = conn.execute(
            select(db.access_events.c.seq).where(db.access_events.c.reason == reason)
        )
        return len(rows.all())


def test_a_hand_in_before_listening_names_the_unheard_segment_then_passes(
    srv: DemoServer,
) -> None:
    ada = Person(srv.client(), "annotator")
    task = _task(ada)
    listed = ada.client.get("/v1/tasks", headers=ada.headers).json()["tasks"][0]
    assert (listed["submit_coverage"], listed["accept_coverage"]) == (True, 100)  # the default
    segment = {"start": 0, "end": 6400}  # 0-800 ms
    refused = ada.submit(task, "lbl_1", **segment)
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "coverage_incomplete" and error["unheard"] == [[0, 800]]
    assert _leaves(srv, "coverage_submit") == 1
    with srv.ctx.engine.connect() as conn:
        assert conn.execute(select(db.labels.c.id)).first() is None
    ada.fetch(task)
    ada.listen(task, 0, 500)
    partly = ada.submit(task, "lbl_2", **segment).json()["error"]
    assert partly["unheard"] == [[500, 800]]
    ada.listen(task, 400, 800, speed=2.0)  # twice the speed still counts
    assert ada.submit(task, "lbl_3", **segment).status_code == 200


def test_a_forged_trace_does_not_count(srv: DemoServer) -> None:
    ada = Person(srv.client(), "annotator")
    task = _task(ada)
    segment = {"start": 0, "end": 6400}
    ada.listen(task, 0, 1000)  # audio this device never fetched
    assert ada.submit(task, "lbl_1", **segment).status_code == 409
    ada.fetch(task)
    ada.trace(
        task, ("playback_started", -3600.0, 0, None), ("playback_paused", -3599.0, 1000, None)
    )
    assert ada.submit(task, "lbl_2", **segment).status_code == 409  # "heard" before the fetch
    ada.listen(task, 0, 1000, speed=3.0)  # skimmed, not heard
    assert ada.submit(task, "lbl_3", **segment).status_code == 409
    other = Person(ada.client, "annotator")  # a second device of the same person
    other.listen(task, 0, 1000)  # it never fetched the segment
    assert ada.submit(task, "lbl_4", **segment).status_code == 409


def test_an_accept_needs_the_whole_recording_heard_by_the_reviewer(srv: DemoServer) -> None:
    ada = Person(srv.client(), "annotator")
    task = _task(ada)
    ada.fetch(task)
    ada.listen(task, 0, 1000)
    assert ada.submit(task, "lbl_1", start=0, end=6400).status_code == 200
    rui = Person(ada.client, "reviewer")
    assert rui.step(task, "claim").status_code == 200
    refused = rui.step(task, "accept", revision=1)
    assert refused.status_code == 409
    assert refused.json()["error"]["unheard"] == [[0, 1000]]  # the annotator's listening is not his
    rui.fetch(task)
    rui.listen(task, 0, 600)
    assert rui.step(task, "accept", revision=1).json()["error"]["unheard"] == [[600, 1000]]
    rui.listen(task, 600, 1000)
    assert rui.step(task, "accept", revision=1).status_code == 200


def test_the_policy_is_changed_by_the_cli_and_audited(
    srv: DemoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(srv.ctx.data.root)
    base = ["project", "policy", "--data-dir", data, "--project", srv.demo.project_id]
    assert server_main([*base, "--accept-coverage", "101"]) == 2
    assert "nothing was changed" in capsys.readouterr().err
    assert server_main([*base, "--submit-coverage", "none", "--accept-coverage", "50"]) == 0
    assert "no listening required; accept: 50%" in capsys.readouterr().out
    assert _leaves(srv, "submit_none_accept_50") == 1
    ada = Person(srv.client(), "annotator")
    task = _task(ada)
    assert ada.submit(task, "lbl_1", start=0, end=6400).status_code == 200
    rui = Person(ada.client, "reviewer")
    rui.step(task, "claim")
    rui.fetch(task)
    rui.listen(task, 0, 400)
    assert rui.step(task, "accept", revision=1).status_code == 409  # 40 % < 50 %
    rui.listen(task, 400, 550)
    assert rui.step(task, "accept", revision=1).status_code == 200
