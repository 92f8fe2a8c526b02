"""Agreement figures (equal to the libraries' own, and to hand-checked values), the quality
report, and blind double annotation: another annotator's task is a 404 on every route."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jiwer
import krippendorff
import numpy as np
import pytest
from pyannote.core import Annotation
from pyannote.core import Segment as Turn
from pyannote.metrics.diarization import DiarizationErrorRate
from sqlalchemy import select

from app.crypto.device_keys import DeviceKeyPair
from app.domain.label_document import LabelDocument, Segment
from app.wire.schemas import Role
from server import agreement, db, provision
from server.cli import main as server_main
from tests.fixtures import DemoServer, demo_server, enroll, login

RATE = 8000


def _doc(*turns: tuple[float, float, str, str]) -> LabelDocument:
    segments = tuple(
        Segment(f"s{i}", round(a * RATE), round(b * RATE), speaker=who, text=text)
        for i, (a, b, who, text) in enumerate(turns)
    )
    return LabelDocument(schema_version=1, segments=segments)


def test_wer_and_cer_are_jiwers_and_match_a_hand_count() -> None:
    ref = _doc((0, 1, "agent", "the cat"), (1, 2, "customer", "sat down"))
    hyp = _doc((0, 1, "agent", "the bat"), (1, 2, "customer", "sat"))
    assert agreement.wer(ref, hyp) == jiwer.wer("the cat sat down", "the bat sat")
    assert agreement.wer(ref, hyp) == pytest.approx(2 / 4)  # one substitution, one deletion
    assert agreement.cer(ref, hyp) == jiwer.cer("the cat sat down", "the bat sat")
    assert agreement.cer(ref, hyp) == pytest.approx(6 / 16)  # c->b, then " down" deleted
    assert agreement.wer(_doc(), hyp) is None  # no reference words: no rate


def test_der_is_pyannotes_with_the_stated_collar_and_a_hand_value() -> None:
    ref = _doc((0, 2, "agent", "a"), (2, 4, "customer", "b"))
    hyp = _doc((0, 2.5, "x", "a"), (2.5, 4, "y", "b"))
    expected_ref, expected_hyp = Annotation(), Annotation()
    expected_ref[Turn(0, 2)], expected_ref[Turn(2, 4)] = "agent", "customer"
    expected_hyp[Turn(0, 2.5)], expected_hyp[Turn(2.5, 4)] = "x", "y"
    library = DiarizationErrorRate(collar=0.25)(expected_ref, expected_hyp)
    assert agreement.der(ref, hyp, RATE) == pytest.approx(library)
    # By hand: 0.125 s either side of 0, 2 and 4 s is not scored (3.5 s left); 2.125-2.5 s
    # is "customer" heard as the agent's match: 0.375 / 3.5.
    assert agreement.der(ref, hyp, RATE) == pytest.approx(3 / 28)
    assert agreement.der(ref, ref, RATE) == 0.0


def test_alpha_is_krippendorffs_and_matches_a_hand_computation() -> None:
    values = [["good", "bad", "good", "bad"], ["good", "bad", "bad", "bad"]]
    data = np.array([[0, 1, 0, 1], [0, 1, 1, 1]], dtype=float)
    library = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert agreement.field_alpha(values) == pytest.approx(library)
    # By hand: 8 pairable values, 2 disagreeing pairs; n_bad = 5, n_good = 3:
    # 1 - (2/8) / (2 * 3 * 5 / (8 * 7)) = 8/15.
    assert agreement.field_alpha(values) == pytest.approx(8 / 15)
    assert agreement.field_alpha([["good", None], ["good", "good"]]) is None  # one category


@pytest.fixture
def srv(tmp_path: Path) -> DemoServer:
    server = demo_server(tmp_path, {"call-a.wav": (2.0, RATE, 1), "call-b.wav": (1.0, RATE, 1)})
    bo = provision.ensure_user(server.ctx.engine, "bo", "Bo (second annotator)", demo=True)
    provision.set_membership(server.ctx.engine, bo, server.demo.project_id, Role.ANNOTATOR)
    return server


def _body(label_id: str, text: str, speaker: str, outcome: str) -> dict[str, Any]:
    segment = {"id": "s1", "start": 0, "end": 8000, "speaker": speaker, "text": text}
    return {"label_id": label_id,
            "document": {"schema_version": 1, "segments": [segment],
                         "fields": {"outcome": outcome}}}  # fmt: skip


def test_double_annotation_is_blind_and_the_report_compares_it(
    srv: DemoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(srv.ctx.data.root)
    assign = ["task", "assign", "--data-dir", data, "--project", srv.demo.project_id]
    assert server_main([*assign, "--title", "call-a", "--to", "bo"]) == 0
    assert server_main([*assign, "--title", "call-a", "--to", "bo"]) == 2  # already has it
    assert server_main([*assign, "--title", "nope", "--to", "bo"]) == 2
    capsys.readouterr()
    client = srv.client()
    ada = enroll(client, login(client, "annotator"), DeviceKeyPair.generate())
    bo = enroll(client, login(client, "bo"), DeviceKeyPair.generate())
    ada_task = next(t["task_id"] for t in client.get("/v1/tasks", headers=ada).json()["tasks"]
                    if t["title"] == "call-a")  # fmt: skip
    (bo_task,) = (t["task_id"] for t in client.get("/v1/tasks", headers=bo).json()["tasks"])
    assert ada_task != bo_task
    words_a, words_b = "ADA-WORDS the caller wants a refill", "BO-WORDS the caller wants refills"
    body = _body("lbl_a", words_a, "agent", "resolved")
    assert client.post(f"/v1/tasks/{ada_task}/labels", json=body, headers=ada).status_code == 200
    # Bo cannot reach Ada's task (or its document) by any route: each is a 404.
    routes = [
        ("GET", f"/v1/tasks/{ada_task}/{r}")
        for r in (
            "labels/latest",
            "labels/1",
            "history",
            "comments",
            "coverage",
            "segment",
            "schema",
        )
    ]
    routes += [("POST", f"/v1/tasks/{ada_task}/key-grant")]
    for method, path in routes:
        assert client.request(method, path, headers=bo).status_code == 404, path
    for path, sent in ((f"/v1/tasks/{ada_task}/labels", _body("lbl_x", "x", "agent", "resolved")),
                       (f"/v1/tasks/{ada_task}/review", {"step": "claim"})):  # fmt: skip
        assert client.post(path, json=sent, headers=bo).status_code == 404, path
    body = _body("lbl_b", words_b, "customer", "escalated")
    assert client.post(f"/v1/tasks/{bo_task}/labels", json=body, headers=bo).status_code == 200
    rui = enroll(client, login(client, "reviewer"), DeviceKeyPair.generate())
    client.post(f"/v1/tasks/{ada_task}/review", json={"step": "claim"}, headers=rui)
    done = {"step": "accept", "revision": 1}
    assert client.post(f"/v1/tasks/{ada_task}/review", json=done, headers=rui).status_code == 200

    assert server_main(["report", "--data-dir", data, "--project", srv.demo.project_id]) == 0
    printed = capsys.readouterr().out
    report = json.loads(printed)
    assert "ADA-WORDS" not in printed and "BO-WORDS" not in printed and "refill" not in printed
    (pair,) = report["agreement"]["pairs"]
    # WER is not symmetric: the first annotator of the pair is the reference.
    words = {"Ada": words_a, "Bo": words_b}
    first, second = (words[name.split()[0]] for name in pair["names"])
    assert pair["wer"] == pytest.approx(jiwer.wer(first, second))
    assert pair["der"] == pytest.approx(0.0)  # one turn each: the mapping is free
    assert report["agreement"]["recordings"] == 1
    assert report["agreement"]["der_collar_s"] == 0.25
    one_unit = krippendorff.alpha(reliability_data=[[0.0], [1.0]], level_of_measurement="nominal")
    assert report["agreement"]["alpha"] == {"outcome": pytest.approx(one_unit)}  # choices only
    people = {a["name"]: a for a in report["annotators"]}
    ada_row, bo_row = people["Ada (demo annotator)"], people["Bo (second annotator)"]
    assert (ada_row["assigned"], ada_row["handed_in"], ada_row["accepted"]) == (2, 1, 1)
    assert ada_row["rejection_rate"] == 0.0 and ada_row["wer_vs_final"] == 0.0
    assert (bo_row["handed_in"], bo_row["rejection_rate"]) == (1, None)
    assert sum(d["hand_ins"] for d in ada_row["hand_ins_per_day"]) == 1


def test_a_manager_reads_the_report_and_sets_the_policy_others_are_refused(
    srv: DemoServer,
) -> None:
    engine = srv.ctx.engine
    mo = provision.ensure_user(engine, "mo", "Mo (manager)", demo=True)
    provision.set_membership(engine, mo, srv.demo.project_id, Role.MANAGER)
    provision.ensure_user(engine, "stranger", "Not a member", demo=True)
    client = srv.client()
    manager, annotator = login(client, "mo"), login(client, "annotator")
    listed = client.get("/v1/tasks", headers=manager).json()
    assert listed == {"tasks": [], "review_projects": [],
                      "managed_projects": [srv.demo.project_id]}  # fmt: skip
    path = f"/v1/projects/{srv.demo.project_id}/report"
    report = client.get(path, headers=manager)
    assert report.status_code == 200
    body = report.json()
    assert body["project_name"] == "Demo call centre"
    assert {a["name"] for a in body["annotators"]} == {"Ada (demo annotator)"}
    refused = client.get(path, headers=annotator)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert client.get(path, headers=login(client, "stranger")).status_code == 404
    policy = {"submit_coverage": True, "accept_coverage": 80}
    ppath = f"/v1/projects/{srv.demo.project_id}/policy"
    assert client.put(ppath, json=policy, headers=annotator).status_code == 403
    assert client.put(ppath, json=policy, headers=manager).json()["accept_coverage"] == 80
    task = client.get("/v1/tasks", headers=annotator).json()["tasks"][0]
    assert (task["submit_coverage"], task["accept_coverage"]) == (True, 80)
    with engine.connect() as conn:
        reasons = [r for (r,) in conn.execute(select(db.access_events.c.reason).where(
            db.access_events.c.project_id == srv.demo.project_id))]  # fmt: skip
    assert reasons.count("not_manager") == 2 and "submit_segments_accept_80" in reasons
    assert "report_read" not in reasons  # the stranger's refusal names no project
