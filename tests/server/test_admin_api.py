"""The admin API does what the CLI does, for the people allowed, and reads no content."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from app.crypto.device_keys import DeviceKeyPair
from app.wire.schemas import Role
from server import db, provision
from server.audit import Actor
from server.identity_admin import set_server_admin
from tests.fixtures import demo_server, device_id, enroll, login


def test_admins_manage_people_devices_and_members(tmp_path: Path) -> None:
    srv = demo_server(tmp_path, {"call.wav": (1.0, 8000, 1)})
    engine, project = srv.ctx.engine, srv.demo.project_id
    for name in ("sadmin", "padmin"):
        provision.ensure_user(engine, name, name, demo=True)
    with engine.begin() as conn:
        set_server_admin(conn, provision.user_id_for(engine, "sadmin"), True, Actor(None))
    provision.set_membership(engine, provision.user_id_for(engine, "padmin"), project,
                             Role.PROJECT_ADMIN)  # fmt: skip
    client = srv.client()
    admin = enroll(client, login(client, "sadmin"), DeviceKeyPair.generate())
    padmin = enroll(client, login(client, "padmin"), DeviceKeyPair.generate())
    ada = enroll(client, login(client, "annotator"), DeviceKeyPair.generate())
    ada_id = srv.demo.annotator_id

    users = client.get("/v1/admin/users", headers=admin).json()["users"]
    assert {u["username"] for u in users} >= {"annotator", "reviewer", "sadmin"}
    assert [u["server_admin"] for u in users if u["username"] == "sadmin"] == [True]
    devices = client.get("/v1/admin/devices", headers=admin).json()["devices"]
    assert device_id(ada) in {d["device_id"] for d in devices}

    revoked = client.post(f"/v1/admin/devices/{device_id(ada)}/revoke", headers=admin)
    assert revoked.status_code == 200
    assert client.get("/v1/tasks", headers=ada).json()["error"]["code"] == "device_revoked"
    again = client.post(f"/v1/admin/devices/{device_id(ada)}/revoke", headers=admin)
    assert again.status_code == 409

    off = client.put(f"/v1/admin/users/{ada_id}/disabled", json={"disabled": True}, headers=admin)
    assert off.status_code == 200
    assert [u["disabled"] for u in off.json()["users"] if u["user_id"] == ada_id] == [True]
    me = provision.user_id_for(engine, "sadmin")
    self_off = client.put(f"/v1/admin/users/{me}/disabled", json={"disabled": True}, headers=admin)
    assert self_off.status_code == 409

    members = client.get(f"/v1/projects/{project}/members", headers=padmin).json()["members"]
    assert {m["username"]: m["role"] for m in members}["reviewer"] == "reviewer"
    reviewer = srv.demo.reviewer_id
    changed = client.put(
        f"/v1/projects/{project}/members/{reviewer}", json={"role": "manager"}, headers=padmin
    )
    assert changed.status_code == 200
    removed = client.put(
        f"/v1/projects/{project}/members/{reviewer}", json={"role": None}, headers=padmin
    )
    assert reviewer not in {m["user_id"] for m in removed.json()["members"]}
    with engine.connect() as conn:
        reasons = list(
            conn.execute(
                select(db.access_events.c.reason).where(
                    db.access_events.c.action.in_(["device_changed", "user_changed",
                                                   "policy_changed"])
                )
            ).scalars()
        )  # fmt: skip
    assert f"revoked_{device_id(ada)}" in reasons and f"disabled_{ada_id}" in reasons
    assert "member_manager_" + reviewer in reasons and "member_removed_" + reviewer in reasons
