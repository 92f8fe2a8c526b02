"""Admitting workstations (approval, IT's enrolment secret) and a project's attribute rules."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.crypto.device_keys import DeviceKeyPair
from server import access_rules, db
from server.cli import main as server_main
from server.demo import DEMO_PROJECT
from tests.fixtures import DemoServer, demo_server, device_id, enroll, login


@pytest.fixture
def srv(tmp_path: Path) -> DemoServer:
    return demo_server(tmp_path, {"call.wav": (1.0, 8000, 1)})


def cli(srv: DemoServer, *args: str) -> int:
    return server_main([*args[:2], "--data-dir", str(srv.ctx.data.root), *args[2:]])


def reasons(srv: DemoServer, action: str) -> list[str]:
    with srv.ctx.engine.connect() as conn:
        return list(
            conn.execute(
                select(db.access_events.c.reason)
                .where(db.access_events.c.action == action)
                .order_by(db.access_events.c.seq)
            ).scalars()
        )


def _enrol(client: Any, headers: dict[str, str], secret: str | None = None) -> Any:
    public = base64.b64encode(DeviceKeyPair.generate().public_bytes()).decode()
    body: dict[str, Any] = {"name": "ws", "public_key": public}
    if secret is not None:
        body["enrolment_secret"] = secret
    return client.post("/v1/devices", json=body, headers=headers)


def test_a_new_workstation_waits_for_approval_then_works(srv: DemoServer) -> None:
    assert cli(srv, "device", "policy", "--enrolment", "approval") == 0
    client = srv.client()
    headers = login(client, "annotator")
    enrolled = _enrol(client, headers)
    assert enrolled.status_code == 201
    assert (enrolled.json()["state"], enrolled.json()["managed"]) == ("pending", False)
    task = client.get("/v1/tasks", headers=headers).json()["tasks"][0]["task_id"]  # may sign in
    waiting = client.post(f"/v1/tasks/{task}/key-grant", headers=headers)
    assert waiting.status_code == 403 and waiting.json()["error"]["code"] == "device_pending"
    assert "approval" in waiting.json()["error"]["message"]
    assert cli(srv, "device", "approve", enrolled.json()["device_id"]) == 0
    assert client.post(f"/v1/tasks/{task}/key-grant", headers=headers).status_code == 200
    assert reasons(srv, "device_enrolled")[-1] == "pending"
    assert reasons(srv, "device_changed")[-1].startswith("approved_dev")
    assert cli(srv, "device", "approve", enrolled.json()["device_id"]) == 2  # already


def test_its_enrolment_secret_admits_a_managed_workstation_at_once(
    srv: DemoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(srv, "device", "policy", "--enrolment", "approval", "--new-secret") == 0
    secret = json.loads(capsys.readouterr().out)["enrolment_secret"]
    with srv.ctx.engine.connect() as conn:
        stored = conn.execute(select(db.server_settings.c.value)).scalars().all()
    assert secret not in stored  # only its hash is kept
    client = srv.client()
    headers = login(client, "annotator")
    wrong = _enrol(client, headers, "not-the-secret-at-all")
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "forbidden"
    admitted = _enrol(client, headers, secret)
    assert (admitted.json()["state"], admitted.json()["managed"]) == ("approved", True)
    assert reasons(srv, "device_enrolled")[-1] == "approved_managed"
    assert "enrolment_secret_wrong" in reasons(srv, "access_refused")


def test_rules_refuse_by_name_and_allow_what_they_allow(srv: DemoServer) -> None:
    client = srv.client()
    headers = enroll(client, login(client, "annotator"), DeviceKeyPair.generate())
    task = client.get("/v1/tasks", headers=headers).json()["tasks"][0]["task_id"]

    def grant() -> Any:
        return client.post(f"/v1/tasks/{task}/key-grant", headers=headers)

    assert cli(srv, "project", "rules", "--project", DEMO_PROJECT, "--managed-only", "yes") == 0
    refused = grant()
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "rule_refused"
    assert "your organisation manages" in refused.json()["error"]["message"]
    assert cli(srv, "device", "approve", device_id(headers), "--managed") == 0
    assert grant().status_code == 200  # now IT vouches for it

    rules = ["project", "rules", "--project", DEMO_PROJECT]
    assert cli(srv, *rules, "--networks", "10.0.0.0/8") == 0
    assert grant().json()["error"]["code"] == "rule_refused"  # the test client is 127.0.0.1
    assert client.get(f"/v1/tasks/{task}/segment", headers=headers).status_code == 403
    assert cli(srv, *rules, "--networks", "10.0.0.0/8,127.0.0.0/8") == 0
    assert grant().status_code == 200

    today = dt.datetime.now(dt.UTC).weekday()
    other_day = access_rules.DAYS[(today + 3) % 7]
    assert cli(srv, *rules, "--hours", f"{other_day} 00:00-23:59", "--timezone", "UTC") == 0
    closed = grant()
    assert closed.status_code == 403 and other_day in closed.json()["error"]["message"]
    assert cli(srv, *rules, "--hours", "none", "--managed-only", "no", "--networks", "none") == 0
    assert grant().status_code == 200
    assert [r for r in reasons(srv, "access_refused") if r.startswith("rule_")] == [
        "rule_managed_device", "rule_network", "rule_network", "rule_hours"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--hours", "Funday 08:00-18:00"), ("--hours", "Mon-Fri 18:00-08:00"),
     ("--timezone", "Mars/Olympus_Mons"), ("--networks", "10.0.0.999/8")],
)  # fmt: skip
def test_a_rule_written_wrong_changes_nothing(srv: DemoServer, flag: str, value: str) -> None:
    assert cli(srv, "project", "rules", "--project", DEMO_PROJECT, flag, value) == 2
    with srv.ctx.engine.connect() as conn:
        assert conn.execute(select(db.access_rules)).all() == []


def test_hours_are_read_in_the_projects_time_zone() -> None:
    rules = access_rules.Rules(hours="Mon-Fri 08:00-18:00", timezone="Europe/Berlin")
    berlin = dt.timezone(dt.timedelta(hours=1))  # CET, in December

    def at(day: int, hour: int, minute: int = 0) -> str | None:
        when = (
            dt.datetime(2026, 11, 30 + day, hour, minute, tzinfo=berlin)
            if day < 1
            else (dt.datetime(2026, 12, day, hour, minute, tzinfo=berlin))
        )
        refusal = access_rules.check(rules, managed=True, address="10.0.0.1", now=when)
        return refusal.reason if refusal else None

    assert at(0, 8) is None  # Monday 30 November, 08:00 Berlin
    assert at(0, 7, 59) == "rule_hours"
    assert at(0, 17, 59) is None
    assert at(0, 18) == "rule_hours"
    assert at(5, 12) == "rule_hours"  # Saturday 5 December
    assert at(4, 12) is None  # Friday
    utc = dt.datetime(2026, 12, 1, 7, 30, tzinfo=dt.UTC)  # 08:30 in Berlin
    assert access_rules.check(rules, managed=True, address=None, now=utc) is None
