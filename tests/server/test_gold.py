"""Gold tasks and assignment: mixed in at the rate, unmarked for annotators, out of review,
scored with jiwer, in the report; and who a task may be handed to."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jiwer
import pytest
from sqlalchemy import select

from app.crypto.device_keys import DeviceKeyPair
from app.wire.schemas import Role
from devtools.synthetic_audio import write_audio
from server import db, provision
from server.cli import main as server_main
from tests.fixtures import DemoServer, demo_server, document, enroll, login, segment_title

FILES = {f"call-{c}.wav": (1.0, 8000, 1) for c in "abcde"}
ANSWER_TEXT = "please book the hearing test"


@pytest.fixture
def srv(tmp_path: Path) -> DemoServer:
    return demo_server(tmp_path, FILES)


def cli(srv: DemoServer, *args: str) -> int:
    return server_main([args[0], *args[1:], "--data-dir", str(srv.ctx.data.root)])


def cli2(srv: DemoServer, group: str, command: str, *args: str) -> int:
    return server_main([group, command, "--data-dir", str(srv.ctx.data.root), *args])


def _leaves(srv: DemoServer, action: str) -> list[dict[str, Any]]:
    with srv.ctx.engine.connect() as conn:
        rows = conn.execute(
            select(db.access_events).where(db.access_events.c.action == action)
        ).mappings()
        return [dict(r) for r in rows]


def _gold_recording(srv: DemoServer, tmp_path: Path) -> None:
    """A sixth recording, assigned to nobody, with a known answer from a file."""
    write_audio(tmp_path / "voicemail.wav", 1.0, 8000, 1, seed=9)
    project = srv.demo.project_id
    assert server_main(["ingest", "--data-dir", str(srv.ctx.data.root), "--project", project,
                        str(tmp_path / "voicemail.wav")]) == 0  # fmt: skip
    answer = tmp_path / "answer.json"
    answer.write_text(json.dumps(document(ANSWER_TEXT)))
    assert cli2(srv, "gold", "add", "--project", project, "--title", "voicemail",
                "--answer", str(answer)) == 0  # fmt: skip


def test_gold_tasks_are_mixed_in_unmarked_kept_from_review_and_scored(
    srv: DemoServer, tmp_path: Path
) -> None:
    client = srv.client()
    ann = enroll(client, login(client, "annotator"), DeviceKeyPair.generate())
    rev = enroll(client, login(client, "reviewer"), DeviceKeyPair.generate())
    manager = provision.ensure_user(srv.ctx.engine, "mgr", "Manager", demo=True)
    provision.set_membership(srv.ctx.engine, manager, srv.demo.project_id, Role.MANAGER)
    mgr = login(client, "mgr")
    _gold_recording(srv, tmp_path)
    before = client.get("/v1/tasks", headers=ann).json()
    assert len(before["tasks"]) == 5  # no rate yet: nothing mixed in
    # 20 %: with five real tasks, one gold task is due.
    assert cli2(srv, "project", "policy", "--project", srv.demo.project_id,
                "--gold-rate", "20") == 0  # fmt: skip
    listed = client.get("/v1/tasks", headers=ann)
    tasks = listed.json()["tasks"]
    assert len(tasks) == 6
    gold = next(t for t in tasks if t["title"] == "voicemail")
    # Nothing in what the annotator receives tells it apart.
    assert {k for t in tasks for k in t} == set(gold)
    assert "gold" not in listed.text and gold["status"] == "assigned"
    assert [r["reason"] for r in _leaves(srv, "task_assigned")][-1] == "gold"
    # The hand-in: one word of four wrong, the outcome right.
    handed = client.post(
        f"/v1/tasks/{gold['task_id']}/labels",
        json={"label_id": "lbl_g1", "document": document("please book the hearing tests")},
        headers=ann,
    )
    assert handed.status_code == 200, handed.text
    history = client.get(f"/v1/tasks/{gold['task_id']}/history", headers=ann).json()
    assert history["status"] == "submitted"
    # No reviewer sees it: not queued, and every route answers 404.
    queue = client.get("/v1/review/queue", headers=rev).json()["items"]
    assert gold["task_id"] not in [i["task"]["task_id"] for i in queue]
    for method, path in (("get", "history"), ("get", "labels/latest"), ("post", "review")):
        body = {"step": "claim"} if method == "post" else None
        answer = client.request(method, f"/v1/tasks/{gold['task_id']}/{path}", json=body,
                                headers=rev)  # fmt: skip
        assert answer.status_code == 404, (path, answer.text)
    answered = client.get(f"/v1/projects/{srv.demo.project_id}/report", headers=mgr)
    planned = client.get(f"/v1/projects/{srv.demo.project_id}/tasks", headers=mgr)
    for text in (answered.text, planned.text):  # the answer reaches no one, managers included
        assert "hearing" not in text
    report = answered.json()
    ada = next(a for a in report["annotators"] if a["name"].startswith("Ada"))
    wer = jiwer.wer(ANSWER_TEXT, "please book the hearing tests")
    assert wer == 0.2  # hand-checked: one substitution in five words
    assert ada["gold_scored"] == 1 and ada["gold_wer"] == pytest.approx(wer)
    assert ada["gold_score"] == pytest.approx(((1 - wer) + 1.0) / 2) == pytest.approx(0.9)
    assert [p["score"] for p in ada["gold_running"]] == [pytest.approx(0.9)]
    # An amended hand-in replaces its score (still one gold task scored).
    again = {"label_id": "lbl_g2", "document": document(ANSWER_TEXT) | {
        "fields": {"outcome": "escalated"}}}  # fmt: skip
    assert client.post(f"/v1/tasks/{gold['task_id']}/labels", json=again,
                       headers=ann).status_code == 200  # fmt: skip
    report = client.get(f"/v1/projects/{srv.demo.project_id}/report", headers=mgr).json()
    ada = next(a for a in report["annotators"] if a["name"].startswith("Ada"))
    assert ada["gold_scored"] == 1 and ada["gold_wer"] == 0.0
    assert ada["gold_score"] == pytest.approx(0.5)  # every word right, the outcome wrong
    assert report["agreement"]["recordings"] == 0


def test_an_accepted_task_becomes_gold_for_another_annotator_who_stays_blind(
    srv: DemoServer,
) -> None:
    client = srv.client()
    ann = enroll(client, login(client, "annotator"), DeviceKeyPair.generate())
    rev = enroll(client, login(client, "reviewer"), DeviceKeyPair.generate())
    bo = enroll(client, login(client, "annotator2"), DeviceKeyPair.generate())
    tasks = {t["title"]: t["task_id"] for t in client.get("/v1/tasks", headers=ann).json()["tasks"]}
    source = tasks["call-a"]
    assert (
        cli2(srv, "gold", "add", "--project", srv.demo.project_id, "--from-task", source) == 2
    )  # fmt: skip  (not accepted yet)
    body = {"label_id": "lbl_a", "document": document("the known answer")}
    assert client.post(f"/v1/tasks/{source}/labels", json=body, headers=ann).status_code == 200
    for step in ({"step": "claim"}, {"step": "accept", "revision": 1}):
        assert client.post(f"/v1/tasks/{source}/review", json=step, headers=rev).status_code == 200
    project = srv.demo.project_id
    assert cli2(srv, "project", "policy", "--project", project, "--gold-rate", "50") == 0
    assert cli2(srv, "gold", "add", "--project", project, "--from-task", source) == 0
    assert cli2(srv, "gold", "add", "--project", project, "--from-task", source) == 2  # twice
    assert client.get("/v1/tasks", headers=bo).json()["tasks"] == []  # no real task yet
    # One real task for Bo; at 50 % a gold task follows it: the accepted recording.
    assert cli2(srv, "task", "assign", "--project", project, "--title", "call-b",
                "--to", "annotator2") == 0  # fmt: skip
    mine = {t["title"]: t["task_id"] for t in client.get("/v1/tasks", headers=bo).json()["tasks"]}
    assert set(mine) == {"call-a", "call-b"}
    # Bo works blind: Ada's task on the same recording is not there for Bo.
    for path in ("labels/latest", "history", "comments"):
        assert client.get(f"/v1/tasks/{source}/{path}", headers=bo).status_code == 404
    assert client.get(f"/v1/tasks/{mine['call-a']}/labels/latest", headers=bo).status_code == 404
    body = {"label_id": "lbl_b", "document": document("the known answer")}
    assert (
        client.post(f"/v1/tasks/{mine['call-a']}/labels", json=body, headers=bo).status_code == 200
    )
    with srv.ctx.engine.connect() as conn:
        score = conn.execute(select(db.gold_scores)).one()
    assert (score.wer, score.fields_matched, score.fields_total, score.score) == (0.0, 1, 1, 1.0)
    # The gold hand-in and the source are not a double annotation.
    manager = provision.ensure_user(srv.ctx.engine, "mgr", "Manager", demo=True)
    provision.set_membership(srv.ctx.engine, manager, project, Role.MANAGER)
    report = client.get(f"/v1/projects/{project}/report", headers=login(client, "mgr")).json()
    assert report["agreement"]["recordings"] == 0


def test_refused_gold_changes_change_nothing(
    srv: DemoServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = srv.demo.project_id
    assert cli2(srv, "project", "policy", "--project", project, "--gold-rate", "60") == 2
    assert "0 to 50" in capsys.readouterr().err
    write_audio(tmp_path / "voicemail.wav", 1.0, 8000, 1, seed=9)
    assert server_main(["ingest", "--data-dir", str(srv.ctx.data.root), "--project", project,
                        str(tmp_path / "voicemail.wav")]) == 0  # fmt: skip
    too_long = tmp_path / "too-long.json"
    too_long.write_text(json.dumps(document("x", end=80_000)))  # past the 1 s recording
    assert cli2(srv, "gold", "add", "--project", project, "--title", "voicemail",
                "--answer", str(too_long)) == 2  # fmt: skip
    assert "segments" in capsys.readouterr().err
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    assert cli2(srv, "gold", "add", "--project", project, "--title", "voicemail",
                "--answer", str(garbage)) == 2  # fmt: skip
    assert cli2(srv, "gold", "add", "--project", project, "--answer", str(garbage)) == 2
    assert cli2(srv, "gold", "retire", "--gold", "gld_nope") == 2
    capsys.readouterr()
    assert cli2(srv, "gold", "list", "--project", project) == 0
    listed = json.loads(capsys.readouterr().out)
    assert (listed["gold_rate"], listed["answers"]) == (0, [])
    assert _leaves(srv, "gold_changed") == []


def test_a_task_moves_to_another_annotator_only_before_hand_in(srv: DemoServer) -> None:
    client = srv.client()
    ann = enroll(client, login(client, "annotator"), DeviceKeyPair.generate())
    bo = enroll(client, login(client, "annotator2"), DeviceKeyPair.generate())
    tasks = {t["title"]: t["task_id"] for t in client.get("/v1/tasks", headers=ann).json()["tasks"]}
    assert cli2(srv, "task", "reassign", "--task", tasks["call-a"], "--to", "annotator2") == 0
    assert client.get(f"/v1/tasks/{tasks['call-a']}/history", headers=ann).status_code == 404
    assert client.get(f"/v1/tasks/{tasks['call-a']}/history", headers=bo).status_code == 200
    assert _leaves(srv, "task_assigned")[-1]["reason"] == "reassigned"
    # A reviewer is not an annotator; a handed-in task stays with its author.
    assert cli2(srv, "task", "reassign", "--task", tasks["call-b"], "--to", "reviewer") == 2
    body = {"label_id": "lbl_b", "document": document("mine")}
    assert (
        client.post(f"/v1/tasks/{tasks['call-b']}/labels", json=body, headers=ann).status_code
        == 200
    )
    assert cli2(srv, "task", "reassign", "--task", tasks["call-b"], "--to", "annotator2") == 2
    # Two tasks on one recording never meet in one person (blind double annotation).
    assert cli2(srv, "task", "assign", "--project", srv.demo.project_id, "--title", "call-c",
                "--to", "annotator2") == 0  # fmt: skip
    assert cli2(srv, "task", "reassign", "--task", tasks["call-c"], "--to", "annotator2") == 2
    with srv.ctx.engine.connect() as conn:
        owner = conn.execute(
            select(db.tasks.c.assignee_id).where(db.tasks.c.id == tasks["call-c"])
        ).scalar_one()
    assert owner == srv.demo.annotator_id


def test_a_manager_plans_the_work_through_the_api_and_sees_no_content(
    srv: DemoServer, tmp_path: Path
) -> None:
    client = srv.client()
    ann = enroll(client, login(client, "annotator"), DeviceKeyPair.generate())
    rev = login(client, "reviewer")
    manager = provision.ensure_user(srv.ctx.engine, "mgr", "Manager", demo=True)
    provision.set_membership(srv.ctx.engine, manager, srv.demo.project_id, Role.MANAGER)
    mgr = login(client, "mgr")
    project = srv.demo.project_id
    base = f"/v1/projects/{project}"
    mine = {t["title"]: t["task_id"] for t in client.get("/v1/tasks", headers=ann).json()["tasks"]}
    secret = "the caller's account is 4417"
    body = {"label_id": "lbl_a", "document": document(secret)}
    assert (
        client.post(f"/v1/tasks/{mine['call-a']}/labels", json=body, headers=ann).status_code == 200
    )
    overview = client.get(f"{base}/tasks", headers=mgr)
    assert overview.status_code == 200 and secret not in overview.text
    plan = overview.json()
    assert next((t["title"], t["status"]) for t in plan["tasks"]) == ("call-a", "submitted")
    assert {a["name"] for a in plan["annotators"]} == {
        "Ada (demo annotator)",
        "Bo (demo annotator)",
    }
    assert [(r["title"], r["tasks"]) for r in plan["recordings"]][:2] == [
        ("call-a", 1),
        ("call-b", 1),
    ]
    assert plan["policy"] == {"project_id": project, "submit_coverage": False, "accept_coverage": 0,
                              "gold_rate": 0, "context_max_s": 10, "context_approval": False,
                              "annotations_per_recording": 1, "tasks_added": 0,
                              "gold_tasks_added": 0}  # fmt: skip
    bo = next(a["user_id"] for a in plan["annotators"] if a["name"].startswith("Bo"))
    segment = {r["title"]: r["segment_id"] for r in plan["recordings"]}
    # Only a manager of this project: others are refused with a leaf each.
    for who, status in ((ann, 403), (rev, 403)):
        assert client.get(f"{base}/tasks", headers=who).status_code == status
    assert client.get("/v1/projects/prj_0000000000000000/tasks", headers=mgr).status_code == 404
    made = client.post(f"{base}/assignments", headers=mgr,
                       json={"segment_id": segment["call-a"], "assignee_id": bo})  # fmt: skip
    assert made.status_code == 201 and made.json()["assignee_id"] == bo
    refusals = (
        ({"segment_id": segment["call-a"], "assignee_id": bo}, 409, "already_on_recording"),
        ({"segment_id": segment["call-b"], "assignee_id": manager}, 422, "not_annotator"),
        ({"segment_id": "seg_0000000000000000", "assignee_id": bo}, 404, "unknown_recording"),
    )
    for request, status, reason in refusals:
        answer = client.post(f"{base}/assignments", json=request, headers=mgr)
        assert answer.status_code == status, answer.text
        assert _leaves(srv, "access_refused")[-1]["reason"] == reason
    moved = client.put(f"{base}/tasks/{mine['call-b']}/assignee", json={"assignee_id": bo},
                       headers=mgr)  # fmt: skip
    assert moved.status_code == 200
    assert client.get(f"/v1/tasks/{mine['call-b']}/history", headers=ann).status_code == 404
    held = client.put(f"{base}/tasks/{mine['call-a']}/assignee", json={"assignee_id": bo},
                      headers=mgr)  # fmt: skip
    assert held.status_code == 409 and held.json()["error"]["code"] == "transition_forbidden"
    assert _leaves(srv, "access_refused")[-1]["reason"] == "reassign_from_submitted"
    # The gold rate from the API tops queues up at once.
    _gold_recording(srv, tmp_path)
    policy = {"submit_coverage": True, "accept_coverage": 50, "gold_rate": 25}
    changed = client.put(f"{base}/policy", json=policy, headers=mgr).json()
    assert (changed["gold_rate"], changed["gold_tasks_added"], changed["accept_coverage"]) == (
        25,
        1,
        50,
    )  # fmt: skip  (Ada: 4 real tasks -> 1 gold at 25 %)
    tasks = client.get(f"{base}/tasks", headers=mgr).json()["tasks"]
    assert [(t["title"], t["assignee_name"]) for t in tasks if t["gold"]] == [
        ("voicemail", "Ada (demo annotator)")]  # fmt: skip


def test_a_project_that_requires_two_annotations_gives_each_recording_a_second_annotator(
    srv: DemoServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = srv.demo.project_id
    third = provision.ensure_user(srv.ctx.engine, "annotator3", "Cy", demo=True)
    provision.set_membership(srv.ctx.engine, third, project, Role.ANNOTATOR)
    _gold_recording(srv, tmp_path)  # a gold recording is left to the gold mix
    assert cli2(srv, "project", "policy", "--project", project, "--annotations", "2") == 0
    assert "5 task(s) assigned" in capsys.readouterr().out

    def holders() -> dict[str, list[str]]:
        with srv.ctx.engine.connect() as conn:
            rows = conn.execute(
                select(db.tasks.c.segment_id, db.users.c.username).join(
                    db.users, db.users.c.id == db.tasks.c.assignee_id
                )
            ).all()
        out: dict[str, list[str]] = {}
        for segment_id, user in rows:
            out.setdefault(segment_title(srv.ctx, segment_id), []).append(user)
        return {k: sorted(v) for k, v in out.items()}

    held = holders()
    assert "voicemail" not in held
    assert all(len(users) == 2 and "annotator" in users for users in held.values())
    # Spread by open tasks: Bo and Cy share the five second annotations (3 and 2).
    seconds = [u for users in held.values() for u in users if u != "annotator"]
    assert sorted(seconds.count(u) for u in ("annotator2", "annotator3")) == [2, 3]
    # A recording assigned now gets its second annotator at once, blind as ever.
    write_audio(tmp_path / "late.wav", 1.0, 8000, 1, seed=5)
    assert server_main(["ingest", "--data-dir", str(srv.ctx.data.root), "--project", project,
                        "--assign", "annotator", str(tmp_path / "late.wav")]) == 0  # fmt: skip
    assert len(holders()["late"]) == 2
    assert cli2(srv, "project", "policy", "--project", project, "--annotations", "9") == 2
