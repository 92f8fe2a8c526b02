"""Windowed tasks: only the window's audio leaves the server, counted in the bytes it sends."""

from __future__ import annotations

import base64
import io
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.crypto.device_keys import DeviceKeyPair
from app.crypto.key_grant import GrantBinding, open_grant
from app.crypto.segment_format import SegmentDecryptor
from app.wire.schemas import Role
from server import db, provision, windows
from server.cli import main as server_main
from tests.fixtures import (
    DemoServer,
    demo_server,
    device_id,
    enroll,
    login,
    segment_titled,
    stored_blobs,
)

RATE = 8000


@pytest.fixture
def srv(tmp_path: Path) -> DemoServer:
    return demo_server(tmp_path, {"long-call.wav": (10.0, RATE, 1), "short.wav": (1.0, RATE, 1)})


def assign(srv: DemoServer, to: str, window: str, title: str = "long-call") -> int:
    data = str(srv.ctx.data.root)
    return server_main(["task", "assign", "--data-dir", data, "--project", srv.demo.project_id,
                        "--title", title, "--to", to, f"--window={window}"])  # fmt: skip


class Workstations:
    """Devices enrolled for the test's users, and the bytes the server sent each fetch."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.pairs: dict[str, DeviceKeyPair] = {}
        self.sent: list[int] = []

    def device(self, user: str) -> dict[str, str]:
        pair = DeviceKeyPair.generate()
        headers = enroll(self.client, login(self.client, user), pair)
        self.pairs[device_id(headers)] = pair
        return headers

    def fetch(self, headers: dict[str, str], task: dict[str, object]) -> bytes:
        """What the server sends for the task's audio, decrypted as the client does."""
        base = f"/v1/tasks/{task['task_id']}"
        grant = self.client.post(f"{base}/key-grant", headers=headers)
        assert grant.status_code == 200, grant.text
        return self.fetch_path(headers, base, grant.json())

    def fetch_path(self, headers: dict[str, str], base: str, grant: dict[str, Any]) -> bytes:
        """``base``/segment, opened with ``grant`` (the segment it names)."""
        binding = GrantBinding(
            grant["project_id"], grant["segment_id"], device_id(headers),
            grant["grant_id"], grant["expires_at"],
        )  # fmt: skip
        key = open_grant(
            base64.b64decode(grant["wrapped_key"]), self.pairs[device_id(headers)], binding
        )
        sent = self.client.get(f"{base}/segment", headers=headers)
        assert sent.status_code == 200
        self.sent.append(len(sent.content))
        out: list[bytearray] = []

        def allocate(n: int) -> memoryview:
            out.append(bytearray(n))
            return memoryview(out[0])

        dec = SegmentDecryptor(key, project_id=grant["project_id"],
                               segment_id=grant["segment_id"], allocate=allocate)  # fmt: skip
        dec.feed(sent.content)
        dec.finish()
        return bytes(out[0])


def test_the_annotator_receives_the_window_and_nothing_else(srv: DemoServer) -> None:
    client = srv.client()
    desks = Workstations(client)
    assert assign(srv, "annotator2", "2:5") == 0
    bo = desks.device("annotator2")
    (task,) = client.get("/v1/tasks", headers=bo).json()["tasks"]
    assert task["title"] == "long-call 00:02-00:05" and task["duration_s"] == 3.0
    plaintext = desks.fetch(bo, task)
    window, rate = sf.read(io.BytesIO(plaintext), dtype="int16")
    source, _ = sf.read(srv.audio_dir / "long-call.wav", dtype="int16")
    assert rate == RATE and np.array_equal(window, source[2 * RATE : 5 * RATE])
    # Counted at the server: what it sent is the window's ciphertext, under a third of
    # the whole recording's (3 s of 10 s, losslessly compressed).
    with srv.ctx.engine.connect() as conn:
        sizes = dict(conn.execute(select(db.segments.c.id, db.segments.c.ciphertext_bytes)).all())
        whole = conn.execute(
            select(db.segments.c.ciphertext_bytes).where(
                db.segments.c.id == segment_titled(srv.ctx, srv.demo.project_id, "long-call")
            )
        ).scalar_one()
    assert desks.sent == [sizes[task["segment_id"]]]
    assert desks.sent[0] < whole * 0.35
    # The whole recording is not Bo's: its task is Ada's, and 404 for Bo.
    ada = desks.device("annotator")
    whole_task = next(
        t for t in client.get("/v1/tasks", headers=ada).json()["tasks"] if t["title"] == "long-call"
    )
    assert client.get(f"/v1/tasks/{whole_task['task_id']}/segment", headers=bo).status_code == 404


def test_the_same_window_is_one_recording_for_two_annotators(srv: DemoServer) -> None:
    assert assign(srv, "annotator2", "2:5") == 0
    assert assign(srv, "annotator", "2:5") == 0
    assert assign(srv, "annotator", "2:5") == 2  # a second task on one recording: refused
    with srv.ctx.engine.connect() as conn:
        windows = conn.execute(select(db.segment_windows)).all()
        tasks = conn.execute(
            select(db.tasks.c.assignee_id).where(db.tasks.c.segment_id == windows[0].segment_id)
        ).all()
    assert len(windows) == 1 and (windows[0].start_frame, windows[0].end_frame) == (16_000, 40_000)
    assert len(tasks) == 2


@pytest.mark.parametrize("window", ["8:12", "3:3.5", "5:2", "soon", "-1:2"])
def test_a_window_outside_or_too_short_is_refused(
    srv: DemoServer, window: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert assign(srv, "annotator2", window) == 2
    assert "nothing was changed" in capsys.readouterr().err
    with srv.ctx.engine.connect() as conn:
        assert conn.execute(select(db.segment_windows)).all() == []
    assert not [n for n in stored_blobs(srv.ctx) if n.startswith(".")]


def test_a_manager_assigns_a_window_over_the_api(srv: DemoServer) -> None:
    client = srv.client()
    manager = provision.ensure_user(srv.ctx.engine, "mgr", "Manager", demo=True)
    provision.set_membership(srv.ctx.engine, manager, srv.demo.project_id, Role.MANAGER)
    mgr = login(client, "mgr")
    base = f"/v1/projects/{srv.demo.project_id}"
    plan = client.get(f"{base}/tasks", headers=mgr).json()
    segment = next(r["segment_id"] for r in plan["recordings"] if r["title"] == "long-call")
    bo = next(a["user_id"] for a in plan["annotators"] if a["name"].startswith("Bo"))
    body = {"segment_id": segment, "assignee_id": bo, "start_s": 1.5, "end_s": 4.0}
    made = client.post(f"{base}/assignments", json=body, headers=mgr)
    assert made.status_code == 201, made.text
    titles = [t["title"] for t in client.get(f"{base}/tasks", headers=mgr).json()["tasks"]]
    assert "long-call 00:01-00:04" in titles
    for bad, status, reason in (
        ({**body, "end_s": 30.0}, 422, "window_invalid"),
        ({**body, "assignee_id": manager, "start_s": 5.0, "end_s": 7.0}, 422, "not_annotator"),
        ({**body, "end_s": None}, 422, None),  # a window needs both ends
    ):
        answer = client.post(f"{base}/assignments", json=bad, headers=mgr)
        assert answer.status_code == status, answer.text
        if reason:
            with srv.ctx.engine.connect() as conn:
                last = conn.execute(
                    select(db.access_events.c.reason).order_by(db.access_events.c.seq.desc())
                ).first()
            assert last is not None and last.reason == reason
    with srv.ctx.engine.connect() as conn:
        assert len(conn.execute(select(db.segment_windows)).all()) == 1


def test_the_same_window_cut_twice_at_once_is_one_segment_and_one_blob(srv: DemoServer) -> None:
    source = segment_titled(srv.ctx, srv.demo.project_id, "long-call")
    blobs_before = stored_blobs(srv.ctx)
    start = threading.Barrier(4)
    cuts: list[str] = []

    def cut() -> None:
        start.wait()
        cuts.append(windows.cut(srv.ctx, source, 2.0, 5.0).segment_id)

    workers = [threading.Thread(target=cut) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(cuts) == 4 and len(set(cuts)) == 1
    with srv.ctx.engine.connect() as conn:
        assert len(conn.execute(select(db.segment_windows)).all()) == 1
    assert len(stored_blobs(srv.ctx) - blobs_before) == 1  # no orphan blob
