"""RLHF comparisons on the server: ingest from a manifest, sealed; judgements checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.crypto.device_keys import DeviceKeyPair
from devtools.synthetic_audio import write_audio
from server import db
from server.cli import main as server_main
from tests.fixtures import DemoServer, demo_server, enroll, everything_stored, login, stored_blobs

SECRET = "OUTPUT-TEXT-4821 Maria Okafor"


@pytest.fixture
def srv(tmp_path: Path) -> DemoServer:
    return demo_server(tmp_path, {"call.wav": (1.0, 8000, 1)})


def manifest(tmp_path: Path, kind: str = "ranking", **change: Any) -> Path:
    write_audio(tmp_path / "reply.wav", 1.0, 16000, 1, seed=7)
    body: dict[str, Any] = {
        "kind": kind, "title": f"compare-{kind}", "prompt": {"text": "Which reply?"},
        "outputs": [{"id": "p", "text": SECRET}, {"id": "q", "audio": "reply.wav"}],
    }  # fmt: skip
    if kind == "ranking":
        body["outputs"].append({"id": "r", "text": "third"})
    body.update(change)
    path = tmp_path / f"{kind}.json"
    path.write_text(json.dumps(body))
    return path


def ingest(srv: DemoServer, path: Path) -> int:
    return server_main([
        "ingest", "--data-dir", str(srv.ctx.data.root), "--project", "Demo call centre",
        "--assign", "annotator", "--comparison", str(path),
    ])  # fmt: skip


def test_a_comparison_is_sealed_like_a_segment(
    srv: DemoServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ingest(srv, manifest(tmp_path)) == 0
    with srv.ctx.engine.connect() as conn:
        (row,) = conn.execute(select(db.comparisons)).all()
    assert (row.kind, json.loads(row.output_ids)) == ("ranking", ["p", "q", "r"])
    audio = (tmp_path / "reply.wav").read_bytes()
    for where, data in everything_stored(srv.ctx):
        assert SECRET.encode() not in data and audio[4000:4064] not in data, where
    client = srv.client()
    tasks = client.get("/v1/tasks", headers=login(client, "annotator")).json()["tasks"]
    assert {t["title"]: t["kind"] for t in tasks} == {
        "call": "transcription", "compare-ranking": "ranking",
    }  # fmt: skip
    capsys.readouterr()


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"outputs": [{"id": "p", "audio": "missing.wav"}, {"id": "q", "text": "x"}]},
         "$.outputs[0].audio: not a readable audio file"),
        ({"kind": "pairwise", "outputs": [{"id": i, "text": "t"} for i in "abc"]},
         "exactly two outputs"),
        ({"prompt": {}}, "$.prompt: text, audio or both"),
        ({"colour": "red"}, "$.colour"),
    ],
)  # fmt: skip
def test_a_bad_manifest_is_refused_with_nothing_stored(
    srv: DemoServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    change: dict[str, Any], words: str,
) -> None:  # fmt: skip
    assert ingest(srv, manifest(tmp_path, **change)) == 2
    assert words in capsys.readouterr().err
    with srv.ctx.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(db.comparisons)).scalar_one() == 0
    assert not [n for n in stored_blobs(srv.ctx) if n.startswith(".")]


def _submit(client: TestClient, headers: dict[str, str], task: str, doc: dict[str, Any],
            draft: bool = False) -> Any:  # fmt: skip
    body = {"label_id": f"lbl_{abs(hash(json.dumps(doc))) % 10**9}", "draft": draft,
            "document": {"schema_version": 1, **doc}}  # fmt: skip
    return client.post(f"/v1/tasks/{task}/labels", json=body, headers=headers)


def test_judgements_are_checked_against_the_comparison(srv: DemoServer, tmp_path: Path) -> None:
    assert ingest(srv, manifest(tmp_path, "pairwise")) == 0
    assert ingest(srv, manifest(tmp_path)) == 0
    client = srv.client()
    headers = enroll(client, login(client, "annotator"), DeviceKeyPair.generate())
    tasks = {
        t["kind"]: t["task_id"] for t in client.get("/v1/tasks", headers=headers).json()["tasks"]
    }
    pairwise, ranking = tasks["pairwise"], tasks["ranking"]
    cases: list[tuple[str, dict[str, Any], str]] = [
        (pairwise, {}, "$.document.preference.choice"),
        (pairwise, {"preference": {"reason": "only why"}}, "$.document.preference.choice"),
        (pairwise, {"ranking": [["p"]]}, "$.document.ranking"),
        (ranking, {"ranking": [["p"], ["q"]]}, "$.document.ranking"),
        (ranking, {"ranking": [["p", "nope"], ["q"], ["r"]]}, "$.document.ranking[0][1]"),
        (ranking, {"preference": {"choice": "a", "strength": 1}}, "$.document.preference"),
    ]
    for task, doc, path in cases:
        answer = _submit(client, headers, task, doc)
        assert answer.status_code == 422, (doc, answer.text)
        assert answer.json()["error"]["path"] == path
    draft = _submit(client, headers, pairwise, {"preference": {"reason": "only why"}}, draft=True)
    assert draft.status_code == 200
    done = _submit(client, headers, pairwise, {"preference": {"choice": "b", "strength": 3}})
    assert done.status_code == 200
    ranked = _submit(client, headers, ranking, {"ranking": [["q", "p"], ["r"]]})
    assert ranked.status_code == 200
    latest = client.get(f"/v1/tasks/{ranking}/labels/latest", headers=headers).json()
    assert latest["document"]["ranking"] == [["q", "p"], ["r"]]
