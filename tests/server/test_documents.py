"""Label documents on the server: the schema a task is made under, and every 422 it answers."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select

from app.crypto.device_keys import DeviceKeyPair
from server import db
from server.cli import main as server_main
from server.demo import DEMO_SCHEMA
from tests.fixtures import DemoServer, demo_server, document, enroll, login


@pytest.fixture
def srv(tmp_path: Path) -> DemoServer:
    # call-a: 1 s mono at 8 kHz (8,000 frames); call-b: 2 s stereo at 8 kHz.
    return demo_server(tmp_path, {"call-a.wav": (1.0, 8000, 1), "call-b.wav": (2.0, 8000, 2)})


@pytest.fixture
def device(srv: DemoServer) -> tuple[TestClient, dict[str, str], dict[str, str]]:
    client = srv.client()
    headers = enroll(client, login(client, "annotator"), DeviceKeyPair.generate())
    tasks = {
        t["title"]: t["task_id"] for t in client.get("/v1/tasks", headers=headers).json()["tasks"]
    }
    return client, headers, tasks


def _count(srv: DemoServer, table: Any, **where: str) -> int:
    with srv.ctx.engine.connect() as conn:
        query = select(func.count()).select_from(table)
        for column, value in where.items():
            query = query.where(table.c[column] == value)
        return int(conn.execute(query).scalar_one())


def test_a_task_serves_its_project_schema_to_members_only(
    srv: DemoServer, device: tuple[TestClient, dict[str, str], dict[str, str]]
) -> None:
    client, headers, tasks = device
    out = client.get(f"/v1/tasks/{tasks['call-a']}/schema", headers=headers).json()
    assert out["version"] == 1 and out["project_id"] == srv.demo.project_id
    assert [s["name"] for s in out["definition"]["speakers"]][:2] == ["agent", "customer"]
    reviewer = login(client, "reviewer")  # no submitted task yet: the task is not theirs
    response = client.get(f"/v1/tasks/{tasks['call-a']}/schema", headers=reviewer)
    assert response.status_code == 404


def _with(doc: dict[str, Any], path: list[Any], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


CASES = [
    ("unknown label", ["segments", 0, "labels"], {"intent": ["farewell"]},
     "$.document.segments[0].labels.intent[0]"),
    ("unknown speaker", ["segments", 0, "speaker"], "narrator", "$.document.segments[0].speaker"),
    ("segment past the audio", ["segments", 0, "end"], 8001, "$.document.segments[0].end"),
    ("channel of a mono call", ["segments", 0, "channel"], 1, "$.document.segments[0].channel"),
    ("pii past the audio", ["pii"], [{"id": "p1", "category": "person_name", "start": 0,
                                      "end": 9000}], "$.document.pii[0].end"),
    ("pii outside its segment's text", ["pii"],
     [{"id": "p1", "category": "person_name", "start": 0, "end": 100, "segment": "s1",
       "char_start": 0, "char_end": 50}], "$.document.pii[0].char_end"),
    ("pii outside its segment", ["pii"],
     [{"id": "p1", "category": "person_name", "start": 700, "end": 900, "segment": "s1"}],
     "$.document.pii[0].start"),
    ("missing required field", ["fields"], {}, "$.document.fields.outcome"),
    ("rating out of range", ["fields", "audio_quality"], 9, "$.document.fields.audio_quality"),
    ("oversized text", ["segments", 0, "text"], "x" * 20_001, "$.document.segments[0].text"),
    ("misordered span", ["segments", 0, "start"], 900, "$.document.segments[0]"),
    ("unknown schema version", ["schema_version"], 7, "$.document.schema_version"),
    # A name the caller chose is never echoed: the path stops at its parent.
    ("unknown field name", ["fields", "Ana_Okafor_4417"], "x", "$.document.fields"),
    ("unknown label name", ["segments", 0, "labels"], {"Ana_4417": ["x"]},
     "$.document.segments[0].labels"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "path", "value", "where"), CASES, ids=[c[0] for c in CASES])
def test_a_document_that_does_not_fit_is_refused_with_its_path(
    srv: DemoServer,
    device: tuple[TestClient, dict[str, str], dict[str, str]],
    what: str,
    path: list[Any],
    value: Any,
    where: str,
) -> None:
    client, headers, tasks = device
    task_id = tasks["call-a"]
    body = {"label_id": "lbl_bad", "document": _with(document("Ana speaking"), path, value)}
    refusals = _count(srv, db.access_events, action="access_refused")
    response = client.post(f"/v1/tasks/{task_id}/labels", json=body, headers=headers)
    assert response.status_code == 422, (what, response.text)
    error = response.json()["error"]
    structural = what in ("oversized text", "misordered span")  # the wire model refuses these
    code = "invalid_request" if structural else "document_invalid"
    assert (error["code"], error.get("path")) == (code, where)
    assert "Ana" not in response.text  # the answer never echoes content (text or names)
    assert _count(srv, db.labels) == 0
    assert _count(srv, db.access_events, action="access_refused") == refusals + 1


def test_a_draft_may_be_incomplete_but_not_inconsistent(
    device: tuple[TestClient, dict[str, str], dict[str, str]],
) -> None:
    client, headers, tasks = device
    url = f"/v1/tasks/{tasks['call-b']}/labels"
    incomplete = _with(_with(document(), ["fields"], {}), ["segments", 0, "speaker"], None)
    assert client.post(url, json={"label_id": "lbl_d", "document": incomplete, "draft": True},
                       headers=headers).status_code == 200  # fmt: skip
    submit = client.post(url, json={"label_id": "lbl_s", "document": incomplete}, headers=headers)
    assert submit.json()["error"]["path"] == "$.document.segments[0].speaker"
    wrong = _with(incomplete, ["segments", 0, "speaker"], "narrator")
    draft = client.post(url, json={"label_id": "lbl_w", "document": wrong, "draft": True},
                        headers=headers)  # fmt: skip
    assert draft.status_code == 422


def test_the_stored_document_reads_back_exactly_with_its_base(
    device: tuple[TestClient, dict[str, str], dict[str, str]],
) -> None:
    client, headers, tasks = device
    task_id = tasks["call-b"]
    doc = document("the agent greets", channel=0)
    doc["segments"].append({"id": "s2", "start": 400, "end": 12000, "channel": 1,
                            "speaker": "customer", "text": "hi my name is Ana",
                            "labels": {"quality": ["overlap", "noise"]}})  # fmt: skip
    doc["pii"] = [{"id": "p1", "category": "person_name", "start": 9000, "end": 11000,
                   "segment": "s2", "char_start": 14, "char_end": 17}]  # fmt: skip
    doc["fields"]["audio_quality"] = 4
    body = {"label_id": "lbl_full", "document": doc, "base_revision": None}
    assert client.post(f"/v1/tasks/{task_id}/labels", json=body, headers=headers).status_code == 200
    latest = client.get(f"/v1/tasks/{task_id}/labels/latest", headers=headers).json()
    expected = {"format_version": 2, "comment": "", "preference": None, "ranking": None, **doc}
    for segment in expected["segments"]:
        segment.setdefault("labels", {})
    for span in expected["pii"]:
        span.setdefault("segment", None)
    assert latest["document"] == json.loads(json.dumps(expected))


def test_a_legacy_label_is_read_as_a_document(
    srv: DemoServer, device: tuple[TestClient, dict[str, str], dict[str, str]]
) -> None:
    client, headers, tasks = device
    task_id = tasks["call-a"]
    legacy = {"transcript": "old words", "regions": [{"start_frame": 100, "end_frame": 900}],
              "draft": False}  # fmt: skip
    with srv.ctx.engine.begin() as conn:
        project = conn.execute(select(db.projects)).one()
        sealed = srv.ctx.vault.seal_label(
            project.id, project.wrapped_key, "lbl_old", task_id, json.dumps(legacy).encode()
        )
        author = conn.execute(
            select(db.users.c.id).where(db.users.c.username == "annotator")
        ).scalar_one()
        conn.execute(insert(db.labels).values(
            id="lbl_old", task_id=task_id, project_id=project.id, author_id=author, revision=1,
            sealed_transcript=sealed, created_at=int(time.time()),
        ))  # fmt: skip
    latest = client.get(f"/v1/tasks/{task_id}/labels/latest", headers=headers).json()
    segments = latest["document"]["segments"]
    assert [(s["start"], s["end"], s["text"]) for s in segments] == [
        (0, 8000, "old words"),
        (100, 900, ""),
    ]


def test_schema_cli_applies_versions_audits_and_refuses_bad_files_whole(
    srv: DemoServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(srv.ctx.data.root)
    data = json.loads(DEMO_SCHEMA.read_text())
    same = tmp_path / "same.json"
    same.write_text(json.dumps(data))
    args = ["project", "schema", "--data-dir", root, "--project", "Demo call centre"]
    assert server_main([*args, str(same)]) == 0
    assert "unchanged, still version 1" in capsys.readouterr().out
    data["pii"].append({"name": "address", "hotkey": "Ctrl+Alt+Z"})
    newer = tmp_path / "newer.toml"
    newer.write_text(_toml(data))
    assert server_main([*args, str(newer)]) == 0
    assert "applied version 2" in capsys.readouterr().out
    data["pii"].append({"name": "phone", "hotkey": "Ctrl+Alt+Z"})
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    assert server_main([*args, str(bad)]) == 2
    assert (
        "$.pii[5].hotkey: hotkey Ctrl+Alt+Z is already used at $.pii[4].hotkey"
        in capsys.readouterr().err
    )
    assert _count(srv, db.project_schemas) == 2
    assert _count(srv, db.access_events, action="schema_applied") == 2
    assert server_main([*args[:-1], "No such project", str(same)]) == 2


def _toml(data: dict[str, Any]) -> str:
    """Just enough TOML for a schema: arrays of tables with scalar and table values."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, str)):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return "{" + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + "}"

    lines = []
    for key, v in data.items():
        if isinstance(v, list) and v and isinstance(v[0], dict):
            for item in v:
                lines.append(f"[[{key}]]")
                lines.extend(f"{k} = {value(x)}" for k, x in item.items() if x is not None)
        else:
            lines.insert(0, f"{key} = {value(v)}")
    return "\n".join(lines) + "\n"
