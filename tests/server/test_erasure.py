"""Erasure by crypto-shredding, retention, and a job interrupted by a killed process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.crypto.errors import CryptoError
from app.crypto.key_wrap import open_sealed
from app.crypto.segment_format import SegmentDecryptor
from devtools.processes import start_server, stop, wait_until
from server import db, erasure
from server.context import open_context
from server.datadir import DataDir
from tests.fixtures import DemoServer, blob_bytes, database_bytes, demo_server
from tests.server.governance_people import Governed, marked_call


@pytest.fixture
def gov(tmp_path: Path) -> Governed:
    srv = demo_server(tmp_path, {"unrelated.wav": (1.0, 8000, 1)})
    return Governed(srv, tmp_path)


def _rows(srv: DemoServer, table: Any, **where: str) -> list[Any]:
    with srv.ctx.engine.connect() as conn:
        query = select(table)
        for name, value in where.items():
            query = query.where(table.c[name] == value)
        return list(conn.execute(query).all())


def _every_key_left(srv: DemoServer) -> list[bytes]:
    """Every key the server can still unwrap: project keys, data keys, task keys."""
    vault, keys = srv.ctx.vault, []
    with srv.ctx.engine.connect() as conn:
        projects = {p.id: p for p in conn.execute(select(db.projects))}
        for p in projects.values():
            if p.wrapped_key:
                keys.append(vault.project_key(p.id, p.wrapped_key))
        for s in conn.execute(select(db.segments).where(db.segments.c.wrapped_data_key != b"")):
            p = projects[s.project_id]
            keys.append(vault.data_key(p.id, p.wrapped_key, s.id, s.wrapped_data_key))
        for t in conn.execute(select(db.tasks).where(db.tasks.c.wrapped_key.is_not(None))):
            p = projects[t.project_id]
            keys.append(vault._task_key(p.id, p.wrapped_key, t.id, t.wrapped_key))
    return keys


def _opens(key: bytes, blob: bytes, project_id: str, segment_id: str) -> bool:
    sink: list[bytearray] = []

    def allocate(size: int) -> memoryview:
        sink.append(bytearray(size))
        return memoryview(sink[0])

    decryptor = SegmentDecryptor(
        key, project_id=project_id, segment_id=segment_id, allocate=allocate
    )
    try:
        decryptor.feed(blob)
        decryptor.finish()
    except (CryptoError, ValueError):
        return False
    return True


def test_erasing_a_subject_shreds_keys_and_blobs_and_prints_a_receipt(
    gov: Governed, capsys: pytest.CaptureFixture[str]
) -> None:
    srv, ctx = gov.srv, gov.srv.ctx
    first = gov.ingest("cust-call-1", (1.5, 2.0), "--subject", "CUST-4711", seed=1)
    second = gov.ingest("cust-call-2", (1.5, 2.0), "--subject", "CUST-4711", seed=2)
    other = gov.ingest("other-call", (1.5, 2.0), "--subject", "CUST-0001", seed=3)
    gov.accept(first, "Jane Roe", "4111 1111 1111 1111", "lbl_f1")
    gov.accept(other, "John Doe", "5500 0000 0000 0004", "lbl_o1")
    with ctx.engine.connect() as conn:
        segs = {
            t.id: conn.execute(select(db.segments).where(db.segments.c.id == t.segment_id)).one()
            for t in conn.execute(select(db.tasks).where(db.tasks.c.id.in_([first, second, other])))
        }
        sealed_label = conn.execute(
            select(db.labels.c.id, db.labels.c.sealed_transcript).where(
                db.labels.c.task_id == first
            )
        ).one()
        # The subject's id is nowhere in the database: only its keyed digest.
        assert conn.execute(
            select(func.count()).select_from(db.segments).where(
                db.segments.c.subject_ref.is_not(None)
            )
        ).scalar_one() == 3  # fmt: skip
    blobs = {t: blob_bytes(ctx, s.blob_name) for t, s in segs.items()}
    assert b"CUST-4711" not in database_bytes(ctx)
    capsys.readouterr()

    assert gov.cli("erase", "--project", gov.project, "--subject", "CUST-4711", "--by",
                   "manager") == 0  # fmt: skip
    receipt = json.loads(capsys.readouterr().out)
    erased = {segs[first].id, segs[second].id}
    assert receipt["state"] == "done" and receipt["scope"] == "subject"
    assert {i["item_id"] for i in receipt["items"]} == erased
    assert all("data key" in i["destroyed"] for i in receipt["items"])
    assert receipt["target"] != "CUST-4711"  # the digest, never the person's id
    # The leaves the receipt names are in the log, and say what they record.
    with ctx.engine.connect() as conn:
        events = conn.execute(
            select(db.access_events).where(
                db.access_events.c.action.in_(["erased", "erasure_done"])
            )
        ).all()
    assert sorted(e.segment_id for e in events if e.action == "erased") == sorted(erased)
    assert receipt["done_leaf_index"] is not None

    # The blobs and the wrapped keys are gone; the other subject's call is untouched.
    for task in (first, second):
        assert not ctx.data.blobs.exists(segs[task].blob_name)
        (row,) = _rows(srv, db.segments, id=segs[task].id)
        assert row.wrapped_data_key == b"" and row.erased_at is not None
        assert row.sealed_title is None and row.subject_ref is None
        assert _rows(srv, db.tasks, id=task) == []
    assert ctx.data.blobs.exists(segs[other].blob_name)
    # The saved copies cannot be opened with anything left on the server.
    keys = _every_key_left(srv)
    assert keys  # the other subject's keys are still there
    for task in (first, second):
        assert not any(_opens(k, blobs[task], gov.project, segs[task].id) for k in keys)
    # (the check can succeed: the untouched call opens with a key that is left)
    assert any(_opens(k, blobs[other], gov.project, segs[other].id) for k in keys)
    for key in keys:
        for binding in (("task-record", "label"), ("label",)):
            with pytest.raises(CryptoError):
                open_sealed(key, sealed_label.sealed_transcript, *binding, gov.project, first,
                            sealed_label.id)  # fmt: skip
    # The task is absent from what the annotator, the reviewer and an export see.
    titles = [t["title"] for t in gov.client.get("/v1/tasks", headers=gov.ann).json()["tasks"]]
    assert "cust-call-1" not in titles and "cust-call-2" not in titles and "other-call" in titles
    assert gov.client.post(f"/v1/tasks/{first}/key-grant", headers=gov.ann).status_code == 404
    # Nothing was rewritten in the log: it verifies.
    assert gov.cli("audit", "verify") == 0
    assert "FAIL" not in capsys.readouterr().out


def test_refused_erasures_change_nothing(gov: Governed, capsys: pytest.CaptureFixture[str]) -> None:
    task = gov.ingest("call", (1.0, 1.5), "--subject", "S-1")
    segment = gov.client.get("/v1/tasks", headers=gov.ann).json()["tasks"][-1]["segment_id"]
    cases = [
        (["--segment", "seg_nothere"], "unknown_target"),
        (["--task", "tsk_nothere"], "unknown_target"),
        (["--subject", "S-2"], "unknown_target"),
        (["--segment", segment, "--task", task], "usage"),
        ([], "usage"),
    ]
    for extra, code in cases:
        assert gov.cli("erase", "--project", gov.project, *extra, "--by", "manager") == 2
        assert f"({code})" in capsys.readouterr().err
    # An annotator or reviewer is not who erases.
    assert gov.cli("erase", "--project", gov.project, "--segment", segment, "--by",
                   "annotator") == 2  # fmt: skip
    assert "not a manager" in capsys.readouterr().err
    assert _rows(gov.srv, db.erasures) == []
    assert gov.cli("erase", "--project", gov.project, "--segment", segment, "--by", "manager") == 0
    capsys.readouterr()
    # Erasing it again: a clear refusal, no second job.
    assert gov.cli("erase", "--project", gov.project, "--segment", segment, "--by", "manager") == 2
    assert "(already_erased)" in capsys.readouterr().err
    assert len(_rows(gov.srv, db.erasures)) == 1


def test_retention_erases_audio_then_labels_then_drafts(
    gov: Governed, capsys: pytest.CaptureFixture[str]
) -> None:
    c = gov.client
    kept = gov.ingest("kept-call", (1.0, 1.5), seed=4)
    drafty = gov.ingest("draft-call", (1.0, 1.5), seed=5)
    gov.accept(kept, "Ann Lee", "4111 1111 1111 1111", "lbl_k1")
    draft = {"label_id": "lbl_d1", "draft": True,
             "document": {"schema_version": gov.schema_version, "segments": []}}  # fmt: skip
    assert c.post(f"/v1/tasks/{drafty}/labels", json=draft, headers=gov.ann).status_code == 200
    capsys.readouterr()
    # Nothing is due under the default (internal: keep).
    assert gov.cli("retention", "run") == 0
    assert json.loads(capsys.readouterr().out) == []
    # Audio 0 days after acceptance: the audio goes, the labels stay readable.
    assert (
        gov.cli(
            "retention", "set", "--project", gov.project, "--by", "manager", "--audio-days", "0"
        )
        == 0
    )
    assert gov.cli("retention", "run") == 0
    (job,) = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert [i["kind"] for i in job["items"]] == ["audio"]
    grant = c.post(f"/v1/tasks/{kept}/key-grant", headers=gov.rev)
    assert grant.status_code == 410 and grant.json()["error"]["code"] == "erased"
    assert c.get(f"/v1/tasks/{kept}/labels/latest", headers=gov.rev).status_code == 200
    # Labels 0 days after acceptance: the task key goes; reading answers 404, not 5xx.
    assert (
        gov.cli(
            "retention", "set", "--project", gov.project, "--by", "manager", "--label-days", "0"
        )
        == 0
    )
    assert gov.cli("retention", "run") == 0
    (job,) = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert [(i["kind"], i["item_id"]) for i in job["items"]] == [("labels", kept)]
    assert c.get(f"/v1/tasks/{kept}/labels/latest", headers=gov.rev).status_code == 404
    assert _rows(gov.srv, db.tasks, id=kept)[0].wrapped_key is None
    # Drafts 0 days after saving: the open task's draft goes, the task stays open.
    assert (
        gov.cli(
            "retention", "set", "--project", gov.project, "--by", "manager", "--draft-days", "0"
        )
        == 0
    )
    wait_until(lambda: int(__import__("time").time()) > _rows(gov.srv, db.labels, id="lbl_d1")[
        0].created_at, 3, "a second to pass")  # fmt: skip
    assert gov.cli("retention", "run") == 0
    (job,) = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert [i["kind"] for i in job["items"]] == ["drafts"]
    assert _rows(gov.srv, db.labels, id="lbl_d1") == []
    assert _rows(gov.srv, db.tasks, id=drafty)[0].status == "in_progress"  # still open
    assert c.get(f"/v1/tasks/{drafty}/labels/latest", headers=gov.ann).status_code == 404
    # Bad days are refused whole.
    assert (
        gov.cli(
            "retention", "set", "--project", gov.project, "--by", "manager", "--audio-days", "-3"
        )
        == 2
    )
    assert (
        gov.cli(
            "retention", "set", "--project", gov.project, "--by", "manager", "--audio-days", "soon"
        )
        == 2
    )
    assert gov.cli("audit", "verify") == 0


_KILL_AFTER_ONE = textwrap.dedent(
    """
    import os, signal, sys
    from server import audit, erasure
    from server.context import open_context
    from server.datadir import DataDir
    from pathlib import Path
    ctx = open_context(DataDir(Path(sys.argv[1])))
    job = erasure.request(ctx, sys.argv[2], "subject", sys.argv[3], audit.Actor(None))
    print(job, flush=True)
    erasure.run(ctx, job, between=lambda: os.kill(os.getpid(), signal.SIGKILL))
    """
)


def test_a_killed_erasure_is_finished_by_the_next_server_start(gov: Governed) -> None:
    for i in range(3):
        gov.ingest(f"subject-call-{i}", (1.0, 1.5), "--subject", "S-9", seed=10 + i)
    run = subprocess.run(
        [sys.executable, "-c", _KILL_AFTER_ONE, gov.data, gov.project, "S-9"],
        capture_output=True, check=False, timeout=60, env={**os.environ},
    )  # fmt: skip
    assert run.returncode == -signal.SIGKILL
    job = run.stdout.decode().strip()
    items = _rows(gov.srv, db.erasure_items, erasure_id=job)
    assert len(items) == 3 and sum(i.done_at is not None for i in items) == 1
    assert _rows(gov.srv, db.erasures, id=job)[0].state == "running"
    # A real server started on the data directory finishes the job.
    proc, _url = start_server(gov.srv.ctx.data.root)
    try:
        ctx = open_context(DataDir(gov.srv.ctx.data.root))
        wait_until(lambda: erasure.receipt(ctx, job).state == "done", 30, "the job to finish")
    finally:
        stop(proc)
    receipt = erasure.receipt(ctx, job)
    assert len(receipt.items) == 3 and receipt.done_leaf_index is not None
    with ctx.engine.connect() as conn:
        live = conn.execute(
            select(func.count()).select_from(db.segments).where(
                db.segments.c.subject_ref.is_not(None)
            )
        ).scalar_one()  # fmt: skip
    assert live == 0
    for item in receipt.items:
        (row,) = _rows(gov.srv, db.segments, id=item.item_id)
        assert row.wrapped_data_key == b"" and not ctx.data.blobs.exists(row.blob_name)


def test_a_subject_whose_audio_retention_took_is_still_erasable_with_its_labels(
    gov: Governed, capsys: pytest.CaptureFixture[str]
) -> None:
    task = gov.ingest("kept-labels", (1.0, 1.5), "--subject", "S-7", seed=6)
    gov.accept(task, "Ann Lee", "4111 1111 1111 1111", "lbl_s7")
    assert gov.cli("retention", "set", "--project", gov.project, "--by", "manager",
                   "--audio-days", "0") == 0  # fmt: skip
    assert gov.cli("retention", "run") == 0
    assert gov.client.get(f"/v1/tasks/{task}/labels/latest", headers=gov.rev).status_code == 200
    capsys.readouterr()
    assert gov.cli("erase", "--project", gov.project, "--subject", "S-7", "--by", "manager") == 0
    receipt = json.loads(capsys.readouterr().out)
    assert [i["kind"] for i in receipt["items"]] == ["segment"]
    assert _rows(gov.srv, db.tasks, id=task) == [] and _rows(gov.srv, db.labels) == []
    assert gov.cli("erase", "--project", gov.project, "--subject", "S-7", "--by", "manager") == 2


def test_erasing_a_window_takes_the_context_granted_around_it(
    gov: Governed, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx, c = gov.srv.ctx, gov.client
    path = gov.tmp / "source.wav"
    marked_call(path, 8.0, (3.0, 4.0), 9)
    assert gov.cli("ingest", "--project", gov.project, str(path)) == 0
    assert gov.cli("task", "assign", "--project", gov.project, "--title", "source", "--to",
                   "annotator", "--window", "3:5") == 0  # fmt: skip
    window_task = next(t["task_id"] for t in c.get("/v1/tasks", headers=gov.ann).json()["tasks"]
                       if t["windowed"])  # fmt: skip
    ask = {"seconds": 2, "justification": "the sentence starts before the window"}
    granted = c.post(f"/v1/tasks/{window_task}/context", json=ask, headers=gov.ann)
    assert granted.status_code == 200 and granted.json()["status"] == "granted", granted.text
    stretch = granted.json()["segment_id"]
    (stretch_row,) = _rows(gov.srv, db.segments, id=stretch)
    capsys.readouterr()
    assert gov.cli("erase", "--project", gov.project, "--task", window_task, "--by",
                   "manager") == 0  # fmt: skip
    erased = {i["item_id"] for i in json.loads(capsys.readouterr().out)["items"]}
    assert stretch in erased
    assert not ctx.data.blobs.exists(stretch_row.blob_name)
    # The source recording was not the task's: it stays (other work may be on it).
    assert any(s.erased_at is None and s.id not in erased for s in _rows(gov.srv, db.segments))
