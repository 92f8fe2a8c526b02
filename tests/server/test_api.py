"""The /v1 API in process: roles, key grants, labels at rest, events, and bad input."""

from __future__ import annotations

import base64
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.crypto.device_keys import DeviceKeyPair
from app.crypto.dpop import DPoPKey
from app.crypto.key_grant import GrantBinding, open_grant
from app.crypto.segment_format import SegmentDecryptor
from devtools.synthetic_audio import write_audio
from server import db
from server.api.app import openapi_schema
from server.context import MAX_JSON_BODY
from server.demo import setup_demo
from server.ingest import IngestError, ingest_file
from tests.fixtures import (
    DemoServer,
    ProvingClient,
    demo_server,
    device_id,
    enroll,
    everything_stored,
    label,
    login,
    proof_key,
    stored_blobs,
)


@pytest.fixture
def srv(tmp_path: Path) -> DemoServer:
    return demo_server(tmp_path, {"call-a.flac": (3.0, 16000, 1), "call-b.wav": (2.0, 8000, 2)})


@pytest.fixture
def client(srv: DemoServer) -> TestClient:
    return srv.client()


def events(srv: DemoServer) -> list[dict[str, object]]:
    with srv.ctx.engine.connect() as conn:
        rows = conn.execute(select(db.access_events).order_by(db.access_events.c.seq))
        return [dict(r._mapping) for r in rows]


def test_annotator_sees_assigned_tasks_and_reviewer_none_yet(
    srv: DemoServer, client: TestClient
) -> None:
    tasks = client.get("/v1/tasks", headers=login(client, "annotator")).json()["tasks"]
    assert {t["title"] for t in tasks} == {"call-a", "call-b"}
    assert {(t["sample_rate"], t["channels"]) for t in tasks} == {(16000, 1), (8000, 2)}
    reviewer = client.get("/v1/tasks", headers=login(client, "reviewer")).json()
    assert reviewer == {
        "tasks": [], "review_projects": [srv.demo.project_id], "managed_projects": []
    }  # fmt: skip


def test_key_grant_opens_only_on_the_enrolled_device_and_decrypts_the_blob(
    srv: DemoServer, client: TestClient
) -> None:
    pair = DeviceKeyPair.generate()
    headers = enroll(client, login(client, "annotator"), pair)
    task = client.get("/v1/tasks", headers=headers).json()["tasks"][0]
    grant = client.post(f"/v1/tasks/{task['task_id']}/key-grant", headers=headers).json()
    binding = GrantBinding(
        task["project_id"], task["segment_id"], device_id(headers),
        grant["grant_id"], grant["expires_at"],
    )  # fmt: skip
    data_key = open_grant(base64.b64decode(grant["wrapped_key"]), pair, binding)
    blob = client.get(f"/v1/tasks/{task['task_id']}/segment", headers=headers)
    assert blob.status_code == 200
    assert blob.headers["cache-control"] == "no-store"
    out: list[bytearray] = []

    def allocate(n: int) -> memoryview:
        out.append(bytearray(n))
        return memoryview(out[0])

    dec = SegmentDecryptor(
        data_key, project_id=task["project_id"], segment_id=task["segment_id"], allocate=allocate
    )
    dec.feed(blob.content)
    dec.finish()
    (source,) = srv.audio_dir.glob(f"{task['title']}.*")
    assert bytes(out[0]) == source.read_bytes()
    actions = [e["action"] for e in events(srv)]
    assert actions.count("key_released") == 1 and actions.count("segment_fetched") == 1


def test_key_grant_needs_an_enrolled_device_of_the_caller(
    srv: DemoServer, client: TestClient
) -> None:
    headers = login(client, "annotator")
    task_id = client.get("/v1/tasks", headers=headers).json()["tasks"][0]["task_id"]
    missing = client.post(f"/v1/tasks/{task_id}/key-grant", headers=headers)
    assert missing.status_code == 403 and missing.json()["error"]["code"] == "unknown_device"
    # The annotator's token, proven by the reviewer's enrolled workstation key.
    reviewer = enroll(client, login(client, "reviewer"), DeviceKeyPair.generate())
    path = f"/v1/tasks/{task_id}/key-grant"
    proof = client.prove(proof_key(reviewer), "POST", path, headers["Authorization"][5:])
    refused = client.post(path, headers={**headers, "DPoP": proof})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_dpop_proof"
    refusals = [e for e in events(srv) if e["action"] == "access_refused"]
    assert [e["reason"] for e in refusals] == ["device_not_enrolled", "dpop_key_mismatch"]
    assert {e["user_id"] for e in refusals} == {srv.demo.annotator_id}
    assert not [e for e in events(srv) if e["action"] == "key_released"]


def test_revoked_devices_stay_revoked_and_devices_are_capped(
    srv: DemoServer, client: TestClient
) -> None:
    headers = login(client, "annotator")
    pair = DeviceKeyPair.generate()
    device = enroll(client, headers, pair)
    task_id = client.get("/v1/tasks", headers=headers).json()["tasks"][0]["task_id"]
    with srv.ctx.engine.begin() as conn:
        conn.execute(
            update(db.devices).where(db.devices.c.id == device_id(device)).values(revoked_at=1)
        )
    revoked = client.post(f"/v1/tasks/{task_id}/key-grant", headers=device)
    assert revoked.status_code == 403 and revoked.json()["error"]["code"] == "device_revoked"
    # A new sign-in from another workstation may not bring the revoked key back.
    headers = login(client, "annotator")
    body = {"name": "again", "public_key": base64.b64encode(pair.public_bytes()).decode()}
    again = client.post("/v1/devices", json=body, headers=headers)
    assert again.status_code == 403
    for _ in range(srv.ctx.max_devices_per_user):
        enroll(client, headers, DeviceKeyPair.generate())
    extra = {
        "name": "x",
        "public_key": base64.b64encode(DeviceKeyPair.generate().public_bytes()).decode(),
    }
    over = client.post("/v1/devices", json=extra, headers=headers)
    assert over.status_code == 403
    reasons = [e["reason"] for e in events(srv) if e["action"] == "access_refused"]
    assert reasons == ["device_revoked", "device_revoked", "device_limit"]


def test_concurrent_submits_get_distinct_revisions(srv: DemoServer) -> None:
    first = srv.client()
    headers = enroll(first, login(first, "annotator"), DeviceKeyPair.generate())
    task_id = first.get("/v1/tasks", headers=headers).json()["tasks"][0]["task_id"]
    statuses: list[int] = []

    def submit(worker: int) -> None:
        client = srv.client()
        for i in range(5):
            body = label(f"lbl_{worker}_{i}")
            statuses.append(
                client.post(f"/v1/tasks/{task_id}/labels", json=body, headers=headers).status_code
            )

    threads = [threading.Thread(target=submit, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 30
    with srv.ctx.engine.connect() as conn:
        revisions = sorted(conn.execute(select(db.labels.c.revision)).scalars())
    assert revisions == list(range(1, 31))


def test_other_users_get_404_and_the_refusal_is_audited(
    srv: DemoServer, client: TestClient
) -> None:
    annotator = login(client, "annotator")
    task_id = client.get("/v1/tasks", headers=annotator).json()["tasks"][0]["task_id"]
    reviewer = enroll(client, login(client, "reviewer"), DeviceKeyPair.generate())
    for method, path in [("POST", "key-grant"), ("GET", "segment"), ("GET", "labels/latest")]:
        response = client.request(method, f"/v1/tasks/{task_id}/{path}", headers=reviewer)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    refused = [e for e in events(srv) if e["action"] == "access_refused"]
    assert len(refused) == 3 and all(e["outcome"] == "refused" for e in refused)
    unknown = client.post("/v1/tasks/tsk_nope/key-grant", headers=reviewer)
    assert unknown.status_code == 404


def test_label_is_sealed_at_rest_then_visible_to_the_reviewer(
    srv: DemoServer, client: TestClient
) -> None:
    annotator = enroll(client, login(client, "annotator"), DeviceKeyPair.generate())
    task_id = client.get("/v1/tasks", headers=annotator).json()["tasks"][0]["task_id"]
    marker = f"patient-{uuid.uuid4().hex}"
    body = label("lbl_1", f"Caller says {marker}")
    first = client.post(f"/v1/tasks/{task_id}/labels", json=body, headers=annotator)
    assert first.status_code == 200 and first.json()["revision"] == 1
    again = client.post(f"/v1/tasks/{task_id}/labels", json=body, headers=annotator)
    assert again.json()["duplicate"] is True and again.json()["revision"] == 1
    with srv.ctx.engine.connect() as conn:
        sealed = conn.execute(select(db.labels.c.sealed_transcript)).scalar_one()
    assert marker.encode() not in sealed
    for where, data in everything_stored(srv.ctx):  # the database, its WAL, the blobs
        assert marker.encode() not in data, where
    reviewer = enroll(client, login(client, "reviewer"), DeviceKeyPair.generate())
    before = len([e for e in events(srv) if e["action"] == "access_refused"])
    latest = client.get(f"/v1/tasks/{task_id}/labels/latest", headers=reviewer).json()
    assert latest["document"]["segments"][0]["text"] == f"Caller says {marker}"
    visible = client.get("/v1/tasks", headers=reviewer).json()["tasks"]
    assert [t["task_id"] for t in visible] == [task_id]
    forbidden = client.post(
        f"/v1/tasks/{task_id}/labels", json={**body, "label_id": "lbl_2"}, headers=reviewer
    )
    # A reviewer changes a document only as a correction of a task they hold in review.
    assert forbidden.status_code == 409
    assert forbidden.json()["error"]["code"] == "transition_forbidden"
    refusals = [e for e in events(srv) if e["action"] == "access_refused"]
    assert len(refusals) == before + 1
    assert (refusals[-1]["reason"], refusals[-1]["task_id"]) == ("task_not_held", task_id)


def test_label_id_reused_on_another_task_conflicts(srv: DemoServer, client: TestClient) -> None:
    headers = enroll(client, login(client, "annotator"), DeviceKeyPair.generate())
    t1, t2 = (t["task_id"] for t in client.get("/v1/tasks", headers=headers).json()["tasks"])
    body = label("lbl_x", "a")
    assert client.post(f"/v1/tasks/{t1}/labels", json=body, headers=headers).status_code == 200
    clash = client.post(f"/v1/tasks/{t2}/labels", json=body, headers=headers)
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "conflict"


def test_events_are_deduplicated_and_unverifiable_ones_kept_flagged(
    srv: DemoServer, client: TestClient
) -> None:
    headers = login(client, "annotator")
    task = client.get("/v1/tasks", headers=headers).json()["tasks"][0]
    ev = {
        "event_id": str(uuid.uuid4()),
        "action": "playback_started",
        "client_time": 1.0,
        "task_id": task["task_id"],
        "position_ms": 10,
        "seq": 1,
    }
    stray = {**ev, "event_id": str(uuid.uuid4()), "task_id": "tsk_not_mine", "seq": 2}
    ack = client.post("/v1/events", json={"events": [ev, ev, stray]}, headers=headers).json()
    assert (ack["accepted"], ack["duplicates"]) == (2, 1)
    assert sum(log["count"] for log in ack["logs"]) == 2
    client_events = {e["task_id"]: e for e in events(srv) if e["source"] == "client"}
    assert client_events[task["task_id"]]["verified"] is True
    assert client_events[task["task_id"]]["project_id"] == task["project_id"]
    assert client_events["tsk_not_mine"]["verified"] is False
    assert client_events["tsk_not_mine"]["project_id"] is None
    forged = {**ev, "event_id": str(uuid.uuid4()), "action": "key_released"}
    response = client.post("/v1/events", json={"events": [forged]}, headers=headers)
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"content": b'{"events": [', "headers": {"content-type": "application/json"}},
         400, "malformed_json"),
        ({"content": b"{}", "headers": {"content-type": "text/plain"}},
         415, "unsupported_media_type"),
        ({"json": {"events": [{"event_id": "nope"}]}}, 422, "invalid_request"),
        ({"json": {"events": []}}, 422, "invalid_request"),
        ({"content": b"x" * (MAX_JSON_BODY + 1), "headers": {"content-type": "application/json"}},
         413, "payload_too_large"),
    ],
)  # fmt: skip
def test_bad_requests_get_json_errors(
    client: TestClient, kwargs: dict[str, Any], status: int, code: str
) -> None:
    headers = login(client, "annotator")
    extra = kwargs.pop("headers", {})
    response = client.post("/v1/events", headers={**headers, **extra}, **kwargs)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == code


def test_streamed_oversized_body_is_refused(client: TestClient) -> None:
    headers = {**login(client, "annotator"), "content-type": "application/json"}

    def body() -> object:
        for _ in range(MAX_JSON_BODY // 65536 + 2):
            yield b" " * 65536

    response = client.post("/v1/events", headers=headers, content=body())
    assert response.status_code == 413


def test_validation_errors_never_echo_content(client: TestClient) -> None:
    headers = login(client, "annotator")
    secret = "account 4419 belongs to Maria"
    bodies = [
        {"events": [{"event_id": secret}]},  # as a value
        {"events": [{secret: 1}]},  # as a field name
        {secret: {"nested": secret}},
    ]
    for body in bodies:
        response = client.post("/v1/events", json=body, headers=headers)
        assert response.status_code == 422
        assert "4419" not in response.text
        assert "Maria" not in response.text


def test_authentication_failures(srv: DemoServer, client: TestClient) -> None:
    assert client.get("/v1/tasks").json()["error"]["code"] == "unauthenticated"
    bad = client.get("/v1/tasks", headers={"Authorization": "DPoP abc.def"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "unauthenticated"
    key = DPoPKey.generate()
    token, _ = srv.ctx.signer.issue(srv.demo.annotator_id, key.thumbprint, now=0)
    expired = client.get("/v1/tasks", headers={"Authorization": f"DPoP {token}"})
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "token_expired"
    proof = client.prove(key, "POST", "/v1/auth/demo-login")
    unknown = client.post(
        "/v1/auth/demo-login", json={"username": "mallory"}, headers={"DPoP": proof}
    )
    assert unknown.status_code == 401


def test_demo_login_is_off_unless_enabled_and_only_on_loopback(srv: DemoServer) -> None:
    remote = ProvingClient(srv.client().app, client=("192.0.2.7", 5000))
    assert remote.post("/v1/auth/demo-login", json={"username": "annotator"}).status_code == 404
    srv.ctx.demo_login = False
    local = srv.client()
    assert local.post("/v1/auth/demo-login", json={"username": "annotator"}).status_code == 404


def test_unknown_routes_and_methods_are_json(client: TestClient) -> None:
    assert client.get("/v1/nothing").json()["error"]["code"] == "not_found"
    assert client.put("/v1/health").json()["error"]["code"] == "method_not_allowed"


def test_device_key_enrolled_for_another_user_conflicts(client: TestClient) -> None:
    pair = DeviceKeyPair.generate()
    enroll(client, login(client, "annotator"), pair)
    body = {"name": "x", "public_key": base64.b64encode(pair.public_bytes()).decode()}
    response = client.post("/v1/devices", json=body, headers=login(client, "reviewer"))
    assert response.status_code == 409
    junk = {"name": "x", "public_key": base64.b64encode(b"junk").decode()}
    bad = client.post("/v1/devices", json=junk, headers=login(client, "reviewer"))
    assert bad.status_code == 422


def test_ingest_refuses_what_it_cannot_decode(srv: DemoServer, tmp_path: Path) -> None:
    junk = tmp_path / "notes.wav"
    junk.write_bytes(b"RIFF but not really audio" * 20)
    with pytest.raises(IngestError, match="not a readable audio file"):
        ingest_file(srv.ctx.data, srv.ctx.engine, srv.ctx.vault, srv.demo.project_id, junk)
    assert not [n for n in stored_blobs(srv.ctx) if n.startswith(".")]


def test_no_public_schema_docs_or_host_redirects(client: TestClient) -> None:
    for path in ("/v1/openapi.json", "/openapi.json", "/docs", "/redoc"):
        response = client.get(path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    slash = client.get(
        "/v1/tasks/", headers={"host": "evil.example", **login(client, "annotator")},
        follow_redirects=False,
    )  # fmt: skip
    assert slash.status_code == 404 and "location" not in slash.headers
    assert "/v1/tasks/{task_id}/key-grant" in openapi_schema()["paths"]


def test_demo_setup_ingests_each_recording_once_and_picks_up_new_ones(srv: DemoServer) -> None:
    again = setup_demo(srv.ctx, srv.audio_dir)
    assert again.task_ids == srv.demo.task_ids  # a second run ingests nothing twice
    write_audio(srv.audio_dir / "call-c.flac", 1.0, 8000, 2, seed=9)
    third = setup_demo(srv.ctx, srv.audio_dir)
    assert len(third.task_ids) == len(srv.demo.task_ids) + 1
    assert set(srv.demo.task_ids) < set(third.task_ids)
