"""The task lifecycle on the server: the review cycle, every forbidden step, comments, the queue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.crypto.device_keys import DeviceKeyPair
from app.wire.schemas import Role
from server import db, provision
from server.cli import main as server_main
from tests.fixtures import DemoServer, demo_server, document, enroll, everything_stored, login


@pytest.fixture
def srv(tmp_path: Path) -> DemoServer:
    return demo_server(tmp_path, {"call-a.wav": (1.0, 8000, 1), "call-b.wav": (2.0, 8000, 2)})


class People:
    """The demo annotator and reviewer, a second reviewer, each with an enrolled device."""

    def __init__(self, srv: DemoServer) -> None:
        engine = srv.ctx.engine
        second = provision.ensure_user(engine, "reviewer2", "Second reviewer", demo=True)
        provision.set_membership(engine, second, srv.demo.project_id, Role.REVIEWER)
        self.srv = srv
        self.client = srv.client()
        self.ann = enroll(self.client, login(self.client, "annotator"), DeviceKeyPair.generate())
        self.rev = enroll(self.client, login(self.client, "reviewer"), DeviceKeyPair.generate())
        self.rev2 = enroll(self.client, login(self.client, "reviewer2"), DeviceKeyPair.generate())
        tasks = self.client.get("/v1/tasks", headers=self.ann).json()["tasks"]
        self.tasks = {t["title"]: t["task_id"] for t in tasks}

    def submit(self, task: str, label_id: str, text: str, **extra: Any) -> Any:
        body = {"label_id": label_id, "document": document(text), **extra}
        return self.client.post(f"/v1/tasks/{task}/labels", json=body, headers=self.ann)

    def step(self, headers: dict[str, str], task: str, step: str, **extra: Any) -> Any:
        body = {"step": step, **extra}
        return self.client.post(f"/v1/tasks/{task}/review", json=body, headers=headers)

    def post(self, headers: dict[str, str], task: str, what: str, body: Any) -> Any:
        return self.client.post(f"/v1/tasks/{task}/{what}", json=body, headers=headers)

    def refusals(self) -> list[dict[str, Any]]:
        with self.srv.ctx.engine.connect() as conn:
            rows = conn.execute(
                select(db.access_events).where(db.access_events.c.action == "access_refused")
            ).mappings()
            return [dict(r) for r in rows]


@pytest.fixture
def people(srv: DemoServer) -> People:
    return People(srv)


def _refused(people: People, request: Any, status: int, code: str, reason: str) -> None:
    """``request()`` is answered ``status``/``code`` and leaves exactly one refusal leaf."""
    before = len(people.refusals())
    response = request()
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    after = people.refusals()
    assert len(after) == before + 1 and after[-1]["reason"] == reason


def test_the_whole_review_cycle_keeps_every_revision_and_step(
    people: People, capsys: pytest.CaptureFixture[str]
) -> None:
    c, task = people.client, people.tasks["call-a"]
    assert people.submit(task, "lbl_a1", "hello wrold").json()["revision"] == 1
    queue = c.get("/v1/review/queue", headers=people.rev).json()["items"]
    assert [i["task"]["task_id"] for i in queue] == [task]
    assert queue[0]["annotator_name"] == "Ada (demo annotator)" and queue[0]["revision"] == 1
    history = people.step(people.rev, task, "claim").json()
    assert history["status"] == "in_review" and history["holder_id"]
    # The reviewer corrects: a new revision by the reviewer, based on the annotator's.
    fix = {"label_id": "lbl_r1", "document": document("hello world"), "base_revision": 1}
    stored = c.post(f"/v1/tasks/{task}/labels", json=fix, headers=people.rev)
    assert stored.status_code == 200 and stored.json()["revision"] == 2
    comment = {"comment_id": "cmt_1", "revision": 2, "segment": "s1", "char_start": 6,
               "char_end": 11, "text": "check the spelling here"}  # fmt: skip
    assert c.post(f"/v1/tasks/{task}/comments", json=comment, headers=people.rev).status_code == 200
    span = {"comment_id": "cmt_2", "revision": 2, "start_frame": 100, "end_frame": 400,
            "text": "a word is missing in this span"}  # fmt: skip
    assert c.post(f"/v1/tasks/{task}/comments", json=span, headers=people.rev).status_code == 200
    # The annotator does not see a review in progress.
    assert c.get(f"/v1/tasks/{task}/comments", headers=people.ann).json()["comments"] == []
    assert people.submit(task, "lbl_a_late", "x").status_code == 409
    rejected = people.step(people.rev, task, "reject", revision=2, reason="Fix the two notes")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert rejected.json()["transitions"][-1]["reason"] == "Fix the two notes"
    # The annotator reads the reason and the comments, works on the corrected revision.
    mine = c.get(f"/v1/tasks/{task}/history", headers=people.ann).json()
    assert mine["transitions"][-1]["reason"] == "Fix the two notes"
    notes = c.get(f"/v1/tasks/{task}/comments", headers=people.ann).json()["comments"]
    assert [(n["comment_id"], n["text"]) for n in notes] == [
        ("cmt_1", "check the spelling here"), ("cmt_2", "a word is missing in this span")
    ]  # fmt: skip
    latest = c.get(f"/v1/tasks/{task}/labels/latest", headers=people.ann).json()
    assert latest["revision"] == 2 and latest["author_role"] == "reviewer"
    again = people.submit(task, "lbl_a2", "hello world, said twice", base_revision=2)
    assert again.json()["revision"] == 3
    assert people.step(people.rev, task, "claim").status_code == 200
    accepted = people.step(people.rev, task, "accept", revision=3)
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    # Every revision is kept with its author's role and what it was based on.
    final = c.get(f"/v1/tasks/{task}/history", headers=people.rev).json()
    assert [(r["revision"], r["author_role"], r["base_revision"]) for r in final["revisions"]] == [
        (1, "annotator", None), (2, "reviewer", 1), (3, "annotator", 2)
    ]  # fmt: skip
    assert [(t["step"], t["from_status"], t["to_status"]) for t in final["transitions"]] == [
        ("submit", "assigned", "submitted"), ("claim", "submitted", "in_review"),
        ("correct", "in_review", "in_review"), ("reject", "in_review", "rejected"),
        ("submit", "rejected", "submitted"), ("claim", "submitted", "in_review"),
        ("accept", "in_review", "accepted"),
    ]  # fmt: skip
    first = c.get(f"/v1/tasks/{task}/labels/1", headers=people.rev).json()
    assert first["document"]["segments"][0]["text"] == "hello wrold"
    # The words are sealed at rest; the log of all this verifies.
    for where, data in everything_stored(people.srv.ctx):
        assert b"Fix the two notes" not in data and b"spelling here" not in data, where
    assert server_main(["audit", "verify", "--data-dir", str(people.srv.ctx.data.root)]) == 0
    assert "FAIL" not in capsys.readouterr().out


def test_forbidden_steps_are_refused_with_a_code_and_a_leaf(people: People) -> None:
    task, other = people.tasks["call-a"], people.tasks["call-b"]
    # A reviewer cannot see (so cannot accept) a task nobody handed in.
    assert people.step(people.rev, other, "accept", revision=1).status_code == 404
    people.submit(task, "lbl_1", "one")
    _refused(people, lambda: people.step(people.rev, task, "accept", revision=1), 409,
             "transition_forbidden", "task_not_held")  # fmt: skip
    _refused(
        people, lambda: people.step(people.ann, task, "claim"), 403, "forbidden", "not_reviewer"
    )
    people.step(people.rev, task, "claim")
    _refused(people, lambda: people.step(people.rev2, task, "claim"), 409, "transition_forbidden",
             "claim_from_in_review")  # fmt: skip
    _refused(people, lambda: people.step(people.rev2, task, "accept", revision=1), 409,
             "transition_forbidden", "task_not_held")  # fmt: skip
    assert "another reviewer" in people.step(people.rev2, task, "reject", revision=1,
                                             reason="no").json()["error"]["message"]  # fmt: skip
    _refused(people, lambda: people.step(people.rev, task, "accept", revision=7), 409,
             "conflict", "revision_outdated")  # fmt: skip
    no_reason = people.step(people.rev, task, "reject", revision=1)
    assert no_reason.status_code == 422
    _refused(people, lambda: people.submit(task, "lbl_2", "amended"), 409,
             "transition_forbidden", "submit_from_in_review")  # fmt: skip
    draft = {"label_id": "lbl_rd", "document": document("x"), "draft": True}
    _refused(people, lambda: people.post(people.rev, task, "labels", draft), 403,
             "forbidden", "reviewer_draft")  # fmt: skip
    comment = {"comment_id": "cmt_x", "revision": 1, "text": "mine"}
    _refused(people, lambda: people.post(people.rev2, task, "comments", comment), 409,
             "transition_forbidden", "task_not_held")  # fmt: skip
    bad_anchor = {**comment, "segment": "nope"}
    _refused(people, lambda: people.post(people.rev, task, "comments", bad_anchor),
             422, "invalid_request", "comment_segment_unknown")  # fmt: skip
    assert people.step(people.rev, task, "accept", revision=1).status_code == 200
    late = {"step": "reject", "revision": 1, "reason": "late"}
    _refused(people, lambda: people.post(people.rev, task, "review", late), 409,
             "transition_forbidden", "task_not_held")  # fmt: skip


def test_a_reviewer_does_not_review_their_own_work(srv: DemoServer, people: People) -> None:
    engine = srv.ctx.engine
    reviewer = provision.user_id_for(engine, "reviewer")
    task = people.tasks["call-b"]
    with engine.begin() as conn:  # the task was once assigned to the reviewer
        conn.execute(db.tasks.update().where(db.tasks.c.id == task).values(assignee_id=reviewer))
        conn.execute(db.tasks.update().where(db.tasks.c.id == task).values(status="submitted"))
    queue = people.client.get("/v1/review/queue", headers=people.rev).json()["items"]
    assert task not in [i["task"]["task_id"] for i in queue]
    _refused(people, lambda: people.step(people.rev, task, "claim"), 403, "forbidden", "own_work")


def test_the_reviewer_never_sees_the_annotators_drafts(people: People) -> None:
    c, task = people.client, people.tasks["call-a"]
    people.submit(task, "lbl_1", "handed in")
    draft = people.submit(task, "lbl_2", "still thinking", draft=True)
    assert draft.json()["revision"] == 2
    latest = c.get(f"/v1/tasks/{task}/labels/latest", headers=people.rev).json()
    assert latest["revision"] == 1 and latest["document"]["segments"][0]["text"] == "handed in"
    assert c.get(f"/v1/tasks/{task}/labels/2", headers=people.rev).status_code == 404
    revisions = c.get(f"/v1/tasks/{task}/history", headers=people.rev).json()["revisions"]
    assert [r["revision"] for r in revisions] == [1]
    mine = c.get(f"/v1/tasks/{task}/history", headers=people.ann).json()["revisions"]
    assert [(r["revision"], r["draft"]) for r in mine] == [(1, False), (2, True)]


def test_the_queue_is_oldest_first_and_filters(srv: DemoServer, people: People) -> None:
    c = people.client
    a, b = people.tasks["call-a"], people.tasks["call-b"]
    people.submit(b, "lbl_b", "b")
    with srv.ctx.engine.begin() as conn:  # b was handed in a minute before a
        conn.execute(
            db.task_transitions.update().values(created_at=db.task_transitions.c.created_at - 60)
        )
    people.submit(a, "lbl_a", "a")
    order = [
        i["task"]["task_id"] for i in c.get("/v1/review/queue", headers=people.rev).json()["items"]
    ]
    assert order == [b, a]
    people.step(people.rev, a, "claim")
    held = c.get("/v1/review/queue?status=in_review", headers=people.rev).json()["items"]
    assert [(i["task"]["task_id"], i["holder_id"] is not None) for i in held] == [(a, True)]
    annotator = provision.user_id_for(srv.ctx.engine, "annotator")
    mine = c.get(f"/v1/review/queue?annotator_id={annotator}", headers=people.rev).json()["items"]
    assert len(mine) == 2
    assert (
        c.get("/v1/review/queue?annotator_id=usr_nobody", headers=people.rev).json()["items"] == []
    )
    bad = c.get("/v1/review/queue?status=assigned", headers=people.rev)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
    _refused(
        people,
        lambda: c.get("/v1/review/queue", headers=people.ann),
        403,
        "forbidden",
        "not_reviewer",
    )


def test_comment_anchors_are_checked_against_the_revision(people: People) -> None:
    c, task = people.client, people.tasks["call-a"]
    people.submit(task, "lbl_1", "short")
    people.step(people.rev, task, "claim")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"segment": "s1", "char_start": 2, "char_end": 99}, "comment_range_outside"),
        ({"start_frame": 0, "end_frame": 8001}, "comment_span_outside"),
        ({"revision": 5}, "comment_revision_unknown"),
    ]
    for n, (anchor, reason) in enumerate(cases):
        body = {"comment_id": f"cmt_{n}", "revision": 1, "text": "note", **anchor}
        _refused(people, lambda b=body: people.post(people.rev, task, "comments", b), 422,
                 "invalid_request", reason)  # fmt: skip
    body = {"comment_id": "cmt_ok", "revision": 1, "text": "whole task"}
    first = c.post(f"/v1/tasks/{task}/comments", json=body, headers=people.rev)
    again = c.post(f"/v1/tasks/{task}/comments", json=body, headers=people.rev)
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    with people.srv.ctx.engine.connect() as conn:
        assert len(conn.execute(select(db.review_comments.c.id)).all()) == 1
