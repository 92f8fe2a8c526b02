"""Inputs that an outside probe broke, each fixed at the root and kept fixed here.

- values a SQL engine cannot store as sent (NaN, -0.0, integers past 64 bits);
- leaves that must re-encode byte for byte from their stored rows (property test);
- ``audit verify``/``audit export`` over leaves that are not JSON at all;
- refusals on the audit routes, and tokens with junk inside their base64.
"""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from app.crypto.device_keys import DeviceKeyPair
from app.wire.schemas import CLIENT_ACTIONS, MAX_INT, Outcome
from server import db
from server.auditlog import store
from server.cli import main as server_main
from tests.fixtures import DemoServer, demo_server, document, enroll, label, login


@pytest.fixture
def srv(tmp_path: Path) -> DemoServer:
    return demo_server(tmp_path, {"call-a.wav": (1.0, 8000, 1)})


def _event(seq: int = 1, **changes: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "seq": seq,
        "action": "playback_started",
        "client_time": 1.5,
        **changes,
    }


def _verify(srv: DemoServer, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = server_main(["audit", "verify", "--data-dir", str(srv.ctx.data.root)])
    return code, capsys.readouterr().out


def _event_count(srv: DemoServer) -> int:
    with srv.ctx.engine.connect() as conn:
        return len(conn.execute(select(db.access_events.c.seq)).all())


@pytest.mark.parametrize(
    "body",
    [
        # Python's json writes NaN and Infinity as bare tokens; the server must refuse them.
        json.dumps({"events": [_event(client_time=math.nan)]}),
        json.dumps({"events": [_event(client_time=math.inf)]}),
        json.dumps({"events": [_event(client_time=-math.inf)]}),
        json.dumps({"events": [_event(position_ms=2**63)]}),
        json.dumps({"events": [_event(position_ms=MAX_INT + 1)]}),
        json.dumps({"events": [_event(seq=2**64)]}),
        json.dumps({"events": [_event(seq=-1)]}),
    ],
)
def test_unstorable_numbers_are_refused_at_the_edge(srv: DemoServer, body: str) -> None:
    client = srv.client()
    headers = {**login(client, "annotator"), "content-type": "application/json"}
    before = _event_count(srv)
    response = client.post("/v1/events", content=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_request"
    refusals = _event_count(srv) - before
    assert refusals == 1  # the refusal itself, nothing of the batch


def test_label_numbers_and_spans_are_bounded(srv: DemoServer) -> None:
    client = srv.client()
    headers = enroll(client, login(client, "annotator"), DeviceKeyPair.generate())
    task_id = client.get("/v1/tasks", headers=headers).json()["tasks"][0]["task_id"]
    url = f"/v1/tasks/{task_id}/labels"
    for bad in (
        {"seq": 2**63},
        {"document": document(start=10, end=5)},
        {"document": document(start=10, end=10)},
        {"document": document(start=0, end=2**64)},
    ):
        body = {**label("lbl_x", "t"), **bad}
        response = client.post(url, json=body, headers={**headers, "Idempotency-Key": "k" * 10})
        assert response.status_code == 422, (bad, response.text)
    past_end = label("lbl_y", "t")
    past_end["document"]["segments"][0]["end"] = 8001
    response = client.post(url, json=past_end, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["path"] == "$.document.segments[0].end"
    past_end["document"]["segments"][0]["end"] = 8000
    assert client.post(url, json=past_end, headers=headers).status_code == 200


def test_negative_zero_cannot_make_verify_cry_wolf(
    srv: DemoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    client = srv.client()
    body = json.dumps({"events": [_event(client_time=-0.0), _event(seq=2, client_time=0.0)]})
    headers = {**login(client, "annotator"), "content-type": "application/json"}
    assert client.post("/v1/events", content=body, headers=headers).status_code == 200
    code, out = _verify(srv, capsys)
    assert code == 0, out


# -- the leaf encoding: what is stored re-encodes to the same bytes -------------------------

_ids = st.from_regex(r"\A[A-Za-z0-9_.:-]{1,64}\Z")
_events = st.fixed_dictionaries(
    {
        "action": st.sampled_from(sorted(a.value for a in CLIENT_ACTIONS)),
        "client_time": st.floats(allow_nan=False, allow_infinity=False),
        "outcome": st.sampled_from([o.value for o in Outcome]),
    },
    optional={
        "task_id": _ids,
        "segment_id": _ids,
        "position_ms": st.integers(min_value=0, max_value=MAX_INT),
        "reason": st.from_regex(r"\A[a-z0-9_]{0,64}\Z"),
    },
)


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(_events, min_size=1, max_size=5))
def test_every_accepted_event_rereads_to_its_leaf(
    srv: DemoServer, batch: list[dict[str, Any]]
) -> None:
    """Any event the API accepts re-encodes from its row to exactly its stored leaf."""
    client = srv.client()
    headers = login(client, "annotator")
    seq = _event_count(srv) + 1
    events = [{**e, "event_id": str(uuid.uuid4()), "seq": seq + i} for i, e in enumerate(batch)]
    response = client.post("/v1/events", json={"events": events}, headers=headers)
    assert response.status_code == 200, response.text
    ids = [e["event_id"] for e in events]
    leaves, rows = store.audit_leaves, db.access_events
    with srv.ctx.engine.connect() as conn:
        stored = conn.execute(
            select(rows, leaves.c.data, leaves.c.addr_salt)
            .join(leaves, leaves.c.event_seq == rows.c.seq)
            .where(rows.c.event_id.in_(ids))
        ).mappings()
        found = 0
        for row in stored:
            found += 1
            salt = None if row["addr_salt"] is None else bytes(row["addr_salt"])
            assert store.leaf_data(dict(row), salt) == bytes(row["data"])
    assert found == len(events)


# -- verify and export over hostile bytes ------------------------------------------------


def _activity(srv: DemoServer) -> None:
    client = srv.client()
    headers = enroll(client, login(client, "annotator"), DeviceKeyPair.generate())
    task_id = client.get("/v1/tasks", headers=headers).json()["tasks"][0]["task_id"]
    assert client.post(f"/v1/tasks/{task_id}/key-grant", headers=headers).status_code == 200
    events = [_event(seq, task_id=task_id) for seq in (1, 2, 3)]
    assert client.post("/v1/events", json={"events": events}, headers=headers).status_code == 200


def test_verify_and_export_survive_a_leaf_that_is_not_json(
    srv: DemoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _activity(srv)
    project = srv.demo.project_id
    leaves = store.audit_leaves
    with srv.ctx.engine.begin() as conn:
        # An address erased (salt gone), then the leaf's first byte flipped: not JSON.
        row = conn.execute(
            select(leaves.c.data, leaves.c.event_seq).where(
                leaves.c.log_id == project, leaves.c.idx == 1
            )
        ).one()
        data = bytearray(row.data)
        data[0] ^= 0xFF
        conn.execute(
            update(leaves)
            .where(leaves.c.log_id == project, leaves.c.idx == 1)
            .values(data=bytes(data), addr_salt=None)
        )
        conn.execute(
            update(db.access_events)
            .where(db.access_events.c.seq == row.event_seq)
            .values(remote_addr=None)
        )
    code, out = _verify(srv, capsys)
    assert code == 1
    assert f"FAIL log {project}: leaf 1 is not canonical JSON" in out
    assert "log server:" not in out  # the other log was still checked, and is fine
    assert "2 logs" in out

    code = server_main(["audit", "export", "--data-dir", str(srv.ctx.data.root)])
    captured = capsys.readouterr()
    assert code == 1
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert (project, 1) not in {(r["log_id"], r["index"]) for r in records}
    assert (project, 2) in {(r["log_id"], r["index"]) for r in records}  # went on past it
    assert f"FAIL log '{project}' leaf 1: not a JSON object" in captured.err


@pytest.mark.sqlite_only  # PostgreSQL's typed columns cannot hold a row of the wrong type
def test_verify_reports_a_row_of_the_wrong_type_and_goes_on(
    srv: DemoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _activity(srv)
    project = srv.demo.project_id
    with srv.ctx.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE audit_leaves SET data = 'text, not bytes' WHERE log_id = ? AND idx = 0",
            (project,),
        )
        conn.exec_driver_sql(
            "UPDATE access_events SET client_time = 'soon' WHERE seq = "
            "(SELECT max(seq) FROM access_events)"
        )
    code, out = _verify(srv, capsys)
    assert code == 1
    assert f"FAIL log {project}: leaf 0 is stored as str, not bytes" in out
    assert "audit verify: 2 logs" in out


# -- refusals on the audit routes, and strict tokens ------------------------------------


def test_audit_route_refusals_are_audited(srv: DemoServer) -> None:
    client = srv.client()
    headers = login(client, "annotator")
    project = srv.demo.project_id
    before = _event_count(srv)
    for path in (
        f"/v1/audit/{project}/checkpoint",
        f"/v1/audit/{project}/inclusion?index=0&tree_size=1",
        "/v1/audit/prj_nope/consistency?first=0&second=1",
        f"/v1/audit/{project}/inclusion?index=0&tree_size={2**70}",
    ):
        response = client.get(path, headers=headers)
        assert 400 <= response.status_code < 500, (path, response.status_code)
    with srv.ctx.engine.connect() as conn:
        refused = conn.execute(
            select(db.access_events.c.reason).where(db.access_events.c.seq > before)
        ).scalars()
        assert sorted(refused) == ["invalid_request", "not_auditor", "not_auditor", "not_auditor"]


@pytest.mark.parametrize("mutate", ["insert_space", "insert_junk", "pad", "low_bits"])
def test_tokens_with_junk_in_their_base64_are_refused(srv: DemoServer, mutate: str) -> None:
    client = srv.client()
    token = login(client, "annotator")["Authorization"].removeprefix("DPoP ")
    assert client.get("/v1/me", headers={"Authorization": f"DPoP {token}"}).status_code == 200
    payload, mac = token.split(".")
    forms = {
        "insert_space": f"{payload[:5]} {payload[5:]}.{mac}",
        "insert_junk": f"{payload[:5]}!*{payload[5:]}.{mac}",
        "pad": f"{payload}==.{mac}",
        # The last character of a 32-byte MAC carries 2 unused bits; flip one of them.
        "low_bits": f"{payload}.{mac[:-1]}{_flip_low_bit(mac[-1])}",
    }
    response = client.get("/v1/me", headers={"Authorization": f"DPoP {forms[mutate]}"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def _flip_low_bit(char: str) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return alphabet[alphabet.index(char) ^ 1]


def test_sequence_gaps_from_before_a_reset_never_collide(srv: DemoServer) -> None:
    """Found by the long fuzz: a gap left from before a reset overlapped a new one (503)."""
    client = srv.client()
    headers = enroll(client, login(client, "annotator"), DeviceKeyPair.generate())
    for seq in (10, 484, 12, 5, 100, 10, 11, 700, 3, 484, 6):
        response = client.post("/v1/events", json={"events": [_event(seq)]}, headers=headers)
        assert response.status_code == 200, (seq, response.text)
    with srv.ctx.engine.connect() as conn:
        alerts = conn.execute(
            select(db.access_events.c.reason)
            .where(db.access_events.c.action == "sequence_alert")
            .order_by(db.access_events.c.seq)
        ).scalars()
        assert list(alerts) == [
            "missing_473",  # 10 -> 484; then 12 fills part of that gap quietly
            "sequence_reset",  # 5: the old numbering's gaps are forgotten
            "missing_94",  # 5 -> 100; then 10 and 11 fill part of it (this collided before)
            "missing_599",  # 100 -> 700
            "sequence_reset",  # 3
            "missing_480",  # 3 -> 484; then 6 fills part of it
        ]
