"""Data classes drive controls: device class, context unlock, acceptance, the grant's watermark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from app.crypto.device_keys import DeviceKeyPair
from server import assignment, data_classes, db, windows
from server.audit import Actor
from tests.fixtures import demo_server, device_id, enroll, login
from tests.server.governance_people import Governed


@pytest.fixture
def gov(tmp_path: Path) -> Governed:
    return Governed(demo_server(tmp_path, {"unrelated.wav": (1.0, 8000, 1)}), tmp_path)


def _refusal_reasons(gov: Governed) -> list[str]:
    with gov.srv.ctx.engine.connect() as conn:
        return list(
            conn.execute(
                select(db.access_events.c.reason).where(
                    db.access_events.c.action == "access_refused"
                )
            ).scalars()
        )


def test_a_restricted_recording_goes_to_managed_workstations_only(
    gov: Governed, capsys: pytest.CaptureFixture[str]
) -> None:
    c = gov.client
    plain = gov.ingest("ordinary-call", (1.0, 1.5), seed=1)
    secret = gov.ingest("restricted-call", (1.0, 1.5), "--class", "restricted", seed=2)
    ok = c.post(f"/v1/tasks/{plain}/key-grant", headers=gov.ann)
    assert ok.status_code == 200
    assert ok.json()["controls"] == {"data_class": "internal", "watermark": "standard"}
    refused = c.post(f"/v1/tasks/{secret}/key-grant", headers=gov.ann)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "class_refused"
    assert "manages" in refused.json()["error"]["message"]
    assert c.get(f"/v1/tasks/{secret}/segment", headers=gov.ann).status_code == 403
    assert _refusal_reasons(gov).count("class_managed_device") == 2
    # Once IT approves the workstation as managed, the same request is served.
    assert gov.cli("device", "approve", device_id(gov.ann), "--managed") == 0
    granted = c.post(f"/v1/tasks/{secret}/key-grant", headers=gov.ann)
    assert granted.status_code == 200
    assert granted.json()["controls"] == {"data_class": "restricted", "watermark": "strong"}
    # A whole project made restricted: every recording follows, the stricter class wins.
    assert (
        gov.cli(
            "project", "class", "--project", gov.project, "--by", "manager", "--class", "restricted"
        )
        == 0
    )
    shown = json.loads(_last_json(capsys))
    assert shown["controls"]["managed_device"] is True
    laptop = enroll(c, login(c, "annotator"), DeviceKeyPair.generate())  # not managed
    other = c.post(f"/v1/tasks/{plain}/key-grant", headers=laptop)
    assert other.status_code == 403 and other.json()["error"]["code"] == "class_refused"
    assert c.post(f"/v1/tasks/{plain}/key-grant", headers=gov.ann).status_code == 200
    with pytest.raises(SystemExit):  # argparse names the four classes
        gov.cli(
            "project", "class", "--project", gov.project, "--by", "manager", "--class", "secret"
        )
    assert "invalid choice: 'secret'" in capsys.readouterr().err


def _last_json(capsys: pytest.CaptureFixture[str]) -> str:
    out = capsys.readouterr().out
    return out[out.index("{") :]


def test_restricted_recordings_allow_no_context_unlock_and_need_full_listening(
    gov: Governed,
) -> None:
    ctx = gov.srv.ctx
    task = gov.ingest("long-restricted", (1.0, 1.5), "--class", "restricted", seed=3)
    with ctx.engine.connect() as conn:
        segment_id = conn.execute(
            select(db.tasks.c.segment_id).where(db.tasks.c.id == task)
        ).scalar_one()
    cut = windows.cut(ctx, segment_id, 1.0, 3.0)
    with ctx.engine.begin() as conn:
        # The cut inherits its source's class.
        assert data_classes.of_segment(conn, cut.segment_id) is data_classes.DataClass.RESTRICTED
        annotator = conn.execute(select(db.tasks.c.assignee_id).where(db.tasks.c.id == task))
        window_task = assignment.assign(
            conn, cut.segment_id, annotator.scalar_one(), Actor(None, None, "test")
        ).task_id
    ask = {"seconds": 5, "justification": "the sentence starts before the window"}
    refused = gov.client.post(f"/v1/tasks/{window_task}/context", json=ask, headers=gov.ann)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "class_refused"
    # The project turned listening off before acceptance; the class puts it back to 100 %.
    assert gov.cli("device", "approve", device_id(gov.rev), "--managed") == 0
    doc = {"label_id": "lbl_r1", "document": {"schema_version": gov.schema_version,
                                               "segments": []}}  # fmt: skip
    c = gov.client
    assert c.post(f"/v1/tasks/{task}/labels", json=doc, headers=gov.ann).status_code == 200
    assert c.post(f"/v1/tasks/{task}/review", json={"step": "claim"}, headers=gov.rev).is_success
    accept = c.post(f"/v1/tasks/{task}/review", json={"step": "accept", "revision": 1},
                    headers=gov.rev)  # fmt: skip
    assert accept.json()["error"]["code"] == "coverage_incomplete", accept.text
