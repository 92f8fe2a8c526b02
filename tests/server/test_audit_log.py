"""The audit log end to end (in process): leaves per access, checkpoints, verify, tamper, proofs.

Each tamper test changes the stored log the way an insider with database
access could, and checks that ``cordon-server audit verify`` fails and names
the place. The log is produced by real API calls, not written by the test.
"""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import ColumnElement, Executable, delete, insert, select, text, update

from app.crypto.device_keys import DeviceKeyPair
from app.wire.schemas import Role
from server import db, provision
from server.auditlog import store, tiles
from server.auditlog.checkpoint import open_checkpoint, parse_verifier_key
from server.auditlog.checkpoints import export_path, origin
from server.auditlog.merkle import (
    CompactTree,
    leaf_hash,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)
from server.cli import main as server_main
from server.context import open_context
from tests.fixtures import DemoServer, demo_server, enroll, fail_audit_writes, login


@pytest.fixture
def srv(tmp_path: Path) -> DemoServer:
    server = demo_server(tmp_path, {"call-a.flac": (2.0, 16000, 1)}, listening=True)
    _activity(server.client())
    server.ctx.checkpointer.run_once()
    return server


def _activity(client: TestClient, events: int = 5) -> str:
    """Sign in, enrol, open a task and report client events: a realistic little log."""
    headers = enroll(client, login(client, "annotator"), DeviceKeyPair.generate())
    task = client.get("/v1/tasks", headers=headers).json()["tasks"][0]
    assert client.post(f"/v1/tasks/{task['task_id']}/key-grant", headers=headers).status_code == 200
    assert client.get(f"/v1/tasks/{task['task_id']}/segment", headers=headers).status_code == 200
    batch = [
        {
            "event_id": str(uuid.uuid4()),
            "action": "playback_started",
            "task_id": task["task_id"],
            "client_time": 1.0,
            "seq": seq,
        }
        for seq in range(1, events + 1)
    ]
    ack = client.post("/v1/events", json={"events": batch}, headers=headers)
    assert ack.status_code == 200, ack.text
    return str(task["project_id"])


def run_verify(srv: DemoServer, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = server_main(["audit", "verify", "--data-dir", str(srv.ctx.data.root)])
    return code, capsys.readouterr().out


def leaves(srv: DemoServer, log_id: str) -> list[dict[str, Any]]:
    with srv.ctx.engine.connect() as conn:
        rows = conn.execute(
            select(store.audit_leaves)
            .where(store.audit_leaves.c.log_id == log_id)
            .order_by(store.audit_leaves.c.idx)
        )
        return [dict(r._mapping) for r in rows]


def test_every_access_has_one_leaf_in_its_projects_log_and_verify_passes(
    srv: DemoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    project = srv.demo.project_id
    in_project = leaves(srv, project)
    actions = [json.loads(leaf["data"])["action"] for leaf in in_project]
    assert actions[:4] == ["schema_applied", "task_assigned", "key_released", "segment_fetched"]
    assert actions.count("playback_started") == 5
    server_actions = {json.loads(x["data"])["action"] for x in leaves(srv, "server")}
    assert {"login", "device_enrolled"} <= server_actions
    for leaf in in_project:  # ids and a salted address hash only: never the address itself
        record = json.loads(leaf["data"])
        assert "127.0.0.1" not in leaf["data"].decode()
        assert len(record["addr"]) == 64
    code, out = run_verify(srv, capsys)
    assert code == 0, out
    assert out.strip().endswith(": OK") and "2 logs" in out
    note = export_path(srv.ctx.data, project, len(in_project)).read_text()
    vkey = (srv.ctx.data.checkpoint_dir / "verifier.vkey").read_text().strip()
    checkpoint = open_checkpoint(note, parse_verifier_key(vkey), origin(project))
    assert checkpoint.size == len(in_project)
    assert export_path(srv.ctx.data, project, len(in_project)).stat().st_mode & 0o222 == 0


def test_a_retried_batch_adds_no_leaf(srv: DemoServer) -> None:
    client = srv.client()
    headers = enroll(client, login(client, "annotator"), DeviceKeyPair.generate())
    task_id = client.get("/v1/tasks", headers=headers).json()["tasks"][0]["task_id"]
    batch = {
        "events": [
            {
                "event_id": str(uuid.uuid4()),
                "action": "segment_closed",
                "task_id": task_id,
                "client_time": 1.0,
                "seq": 1,
            }
        ]
    }
    before = len(leaves(srv, srv.demo.project_id))
    assert client.post("/v1/events", json=batch, headers=headers).json()["accepted"] == 1
    again = client.post("/v1/events", json=batch, headers=headers).json()
    assert again == {"accepted": 0, "duplicates": 1, "logs": []}
    assert len(leaves(srv, srv.demo.project_id)) == before + 1


def _tamper(srv: DemoServer, statement: Executable) -> None:
    with srv.ctx.engine.begin() as conn:
        conn.execute(statement)


def _leaf_row(log_id: str, idx: int) -> ColumnElement[bool]:
    table = store.audit_leaves
    return (table.c.log_id == log_id) & (table.c.idx == idx)


def test_flipped_leaf_fails_and_names_it(
    srv: DemoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    project = srv.demo.project_id
    data = bytearray(leaves(srv, project)[4]["data"])
    data[data.index(b"playback_started")] ^= 0x01
    _tamper(srv, update(store.audit_leaves).where(_leaf_row(project, 4)).values(data=bytes(data)))
    code, out = run_verify(srv, capsys)
    assert code == 1
    assert f"log {project}: leaf 4 does not match access event" in out
    assert f"log {project}: checkpoint 9 (exported file): root does not match" in out


def test_deleted_leaf_fails_and_names_it(
    srv: DemoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    project = srv.demo.project_id
    _tamper(srv, delete(store.audit_leaves).where(_leaf_row(project, 2)))
    code, out = run_verify(srv, capsys)
    assert code == 1
    assert f"log {project}: leaf 2 is missing" in out
    assert "has no audit leaf" in out


def test_reordered_leaves_fail(srv: DemoServer, capsys: pytest.CaptureFixture[str]) -> None:
    project = srv.demo.project_id
    table = store.audit_leaves
    _tamper(srv, update(table).where(_leaf_row(project, 1)).values(idx=-1))
    _tamper(srv, update(table).where(_leaf_row(project, 4)).values(idx=1))
    _tamper(srv, update(table).where(_leaf_row(project, -1)).values(idx=4))
    code, out = run_verify(srv, capsys)
    assert code == 1
    assert f"log {project}: leaf 2 is out of order" in out  # the first leaf behind leaf 1
    assert "root does not match" in out


def test_inserted_leaf_fails(srv: DemoServer, capsys: pytest.CaptureFixture[str]) -> None:
    """An insider adds an event and its leaf, and even recomputes the head: checkpoints differ."""
    project = srv.demo.project_id
    with srv.ctx.engine.begin() as conn:
        # Make room at index 2 by shifting the later leaves up (from the top down).
        for idx in reversed(range(2, len(leaves(srv, project)))):
            conn.execute(
                update(store.audit_leaves).where(_leaf_row(project, idx)).values(idx=idx + 1)
            )
        inserted = conn.execute(
            insert(db.access_events).values(
                event_id=str(uuid.uuid4()),
                source="server",
                action="segment_fetched",
                outcome="ok",
                project_id=project,
                verified=True,
                server_time=1.0,
            )
        ).inserted_primary_key
        assert inserted is not None
        seq = inserted[0]
        conn.execute(text("DELETE FROM audit_heads"))
        fake = store.leaf_data({"event_id": "x", "project_id": project}, None)
        conn.execute(
            insert(store.audit_leaves).values(log_id=project, idx=2, event_seq=seq, data=fake)
        )
    code, out = run_verify(srv, capsys)
    assert code == 1
    assert f"log {project}: leaf 2 does not match access event {seq}" in out
    assert f"log {project}: checkpoint 9 (database): root does not match" in out
    assert f"log {project}: has leaves but no head" in out


def test_rewritten_event_fails(srv: DemoServer, capsys: pytest.CaptureFixture[str]) -> None:
    project = srv.demo.project_id
    seq = leaves(srv, project)[0]["event_seq"]
    _tamper(
        srv, update(db.access_events).where(db.access_events.c.seq == seq).values(outcome="failed")
    )
    code, out = run_verify(srv, capsys)
    assert code == 1 and f"log {project}: leaf 0 does not match access event {seq}" in out


def test_consistent_database_rewrite_is_caught_by_the_exported_checkpoint(
    srv: DemoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rewrite a leaf and its event, recompute the head, drop the stored checkpoints:
    the database agrees with itself, but not with the checkpoint exported earlier."""
    project = srv.demo.project_id
    first = leaves(srv, project)[0]
    with srv.ctx.engine.begin() as conn:
        conn.execute(
            update(db.access_events)
            .where(db.access_events.c.seq == first["event_seq"])
            .values(user_id="usr_someone_else")
        )
        row = (
            conn.execute(
                select(db.access_events).where(db.access_events.c.seq == first["event_seq"])
            )
            .mappings()
            .one()
        )
        data = store.leaf_data(dict(row), first["addr_salt"])
        conn.execute(update(store.audit_leaves).where(_leaf_row(project, 0)).values(data=data))
        conn.execute(text("DELETE FROM audit_heads"))
        conn.execute(text("DELETE FROM audit_checkpoints"))
    _rebuild_heads(srv)
    code, out = run_verify(srv, capsys)
    assert code == 1
    assert f"log {project}: checkpoint 9 (exported file): root does not match" in out
    assert "(database)" not in out  # the database itself was made consistent


def _rebuild_heads(srv: DemoServer) -> None:
    with srv.ctx.engine.begin() as conn:
        for log_id in ("server", srv.demo.project_id):
            tree = CompactTree()
            for leaf in leaves(srv, log_id):
                tree.append(leaf_hash(leaf["data"]))
            conn.execute(
                insert(store.audit_heads).values(
                    log_id=log_id, size=tree.size, frontier=b"".join(tree.frontier())
                )
            )


def test_forged_checkpoint_fails(srv: DemoServer, capsys: pytest.CaptureFixture[str]) -> None:
    project = srv.demo.project_id
    path = export_path(srv.ctx.data, project, 9)
    lines = path.read_text().split("\n")
    lines[1] = "7"  # claim a smaller tree under the same signature
    path.chmod(0o644)
    path.write_text("\n".join(lines))
    code, out = run_verify(srv, capsys)
    assert code == 1 and f"log {project}: checkpoint 9 (exported file):" in out


def test_fail_closed_no_key_is_released_if_the_log_cannot_be_written(srv: DemoServer) -> None:
    client = srv.client()
    headers = enroll(client, login(client, "annotator"), DeviceKeyPair.generate())
    task_id = client.get("/v1/tasks", headers=headers).json()["tasks"][0]["task_id"]
    with srv.ctx.engine.begin() as conn:
        grants_before = len(conn.execute(select(db.key_grants)).all())
        fail_audit_writes(conn)
    response = client.post(f"/v1/tasks/{task_id}/key-grant", headers=headers)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "audit_unavailable"
    assert "wrapped_key" not in response.text
    with srv.ctx.engine.connect() as conn:
        assert len(conn.execute(select(db.key_grants)).all()) == grants_before
        released = conn.execute(
            select(db.access_events).where(db.access_events.c.action == "key_released")
        ).all()
    assert len(released) == 1  # only the one from before the log went down


def test_auditor_gets_proofs_that_verify_and_others_get_nothing(srv: DemoServer) -> None:
    client = srv.client()
    project = srv.demo.project_id
    auditor = provision.ensure_user(srv.ctx.engine, "audra", "Audra (auditor)", demo=True)
    provision.set_membership(srv.ctx.engine, auditor, project, Role.AUDITOR)
    headers = login(client, "audra")
    listed = client.get("/v1/tasks", headers=headers).json()
    assert listed == {"tasks": [], "review_projects": [], "managed_projects": []}  # no content
    body = client.get(f"/v1/audit/{project}/checkpoint", headers=headers).json()
    vkey = (srv.ctx.data.checkpoint_dir / "verifier.vkey").read_text().strip()
    old = open_checkpoint(body["note"], parse_verifier_key(vkey), origin(project))
    hashes = [leaf_hash(leaf["data"]) for leaf in leaves(srv, project)]
    for index in range(old.size):
        proof = client.get(
            f"/v1/audit/{project}/inclusion",
            params={"index": index, "tree_size": old.size},
            headers=headers,
        ).json()
        assert base64.b64decode(proof["leaf_hash"]) == hashes[index]
        path = [base64.b64decode(h) for h in proof["hashes"]]
        verify_inclusion(hashes[index], index, old.size, path, old.root_hash)
    _activity(client, events=3)  # the log grows
    srv.ctx.checkpointer.run_once()
    new_note = client.get(f"/v1/audit/{project}/checkpoint", headers=headers).json()["note"]
    new = open_checkpoint(new_note, parse_verifier_key(vkey), origin(project))
    assert new.size == old.size + 5
    proof = client.get(
        f"/v1/audit/{project}/consistency",
        params={"first": old.size, "second": new.size},
        headers=headers,
    ).json()
    path = [base64.b64decode(h) for h in proof["hashes"]]
    verify_consistency(old.size, new.size, old.root_hash, new.root_hash, path)
    annotator = login(client, "annotator")
    assert client.get(f"/v1/audit/{project}/checkpoint", headers=annotator).status_code == 404
    too_big = client.get(
        f"/v1/audit/{project}/inclusion", params={"index": 0, "tree_size": 999}, headers=headers
    )
    assert too_big.status_code == 422 and too_big.json()["error"]["code"] == "invalid_request"


def test_export_streams_json_lines(srv: DemoServer, capsys: pytest.CaptureFixture[str]) -> None:
    project = srv.demo.project_id
    assert (
        server_main(["audit", "export", "--data-dir", str(srv.ctx.data.root), "--log", project])
        == 0
    )
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["index"] for x in lines] == list(range(9))
    assert {x["log_id"] for x in lines} == {project}
    assert lines[1]["event"]["action"] == "task_assigned"
    assert lines[4]["event"]["action"] == "playback_started"
    assert lines[0]["leaf_hash"] == leaf_hash(leaves(srv, project)[0]["data"]).hex()
    assert lines[2]["remote_addr"] == "127.0.0.1"  # the SIEM gets the address the leaf hides
    assert (lines[0]["event"]["action"], lines[0]["remote_addr"]) == ("schema_applied", "demo")


def test_a_changed_tile_fails_verify_and_names_it(
    srv: DemoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Proofs are served from the tiles: a forged interior hash is found by verify."""
    project = srv.demo.project_id
    with srv.ctx.engine.connect() as conn:
        blob = conn.execute(
            select(tiles.audit_tiles.c.hashes).where(
                tiles.audit_tiles.c.log_id == project, tiles.audit_tiles.c.level == 0
            )
        ).scalar_one()
    forged = bytes(blob[:32]) + bytes(32) + bytes(blob[64:])
    _tamper(
        srv,
        update(tiles.audit_tiles)
        .where(tiles.audit_tiles.c.log_id == project, tiles.audit_tiles.c.level == 0)
        .values(hashes=forged),
    )
    code, out = run_verify(srv, capsys)
    assert code == 1
    assert f"log {project}: tile 0/0 does not match the leaves" in out


def test_a_data_directory_without_tiles_gets_them_when_opened(
    srv: DemoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Logs written before tiles were stored are backfilled once, from their leaves."""
    project = srv.demo.project_id
    _tamper(srv, tiles.audit_tiles.delete())
    code, out = run_verify(srv, capsys)
    assert code == 1 and f"log {project}: tile 0/0 is missing" in out
    reopened = open_context(srv.ctx.data)
    code, out = run_verify(srv, capsys)
    assert code == 0, out
    hashes = [leaf_hash(leaf["data"]) for leaf in leaves(srv, project)]
    with reopened.engine.connect() as conn:
        reader = tiles.TileReader(conn, project)
        assert reader.range_root(0, len(hashes)) == root_from_leaves(hashes)
