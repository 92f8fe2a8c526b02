"""The authorization matrix: every ``/v1`` route, every role, two projects, every
way to hold a credential — each cell's expected answer written down once, below.

Roles are held in project A only: annotator, reviewer, manager, project admin,
auditor; plus a server administrator (no project role) and an outsider. Every
route is called for project A (ids of A's objects) and project B (ids of B's
objects, where nobody here has a role). The answer is classed as ``ok`` (the
caller was let in: 2xx, or a refusal about the request itself — 400, 409, 422),
``403`` (known to exist, not allowed) or ``404`` (not revealed). Then, for every
route and role, four ways to present a credential, each answered 401:
no token, an expired token, the token without its proof, the token with a
proof from another enrolled workstation.

The cells of the table in ``docs/security.md`` ("Who may do what") are these.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.crypto.device_keys import DeviceKeyPair
from app.wire.schemas import Role
from devtools.synthetic_audio import write_audio
from server import db, provision
from server.api.app import openapi_schema
from server.audit import Actor
from server.identity_admin import set_server_admin
from server.ingest import ensure_project, ingest_file
from tests.fixtures import (
    PROOF_KEYS,
    DemoServer,
    ProvingClient,
    demo_server,
    enroll,
    label,
    login,
    proof_key,
)

ROLES = ("annotator", "reviewer", "manager", "project_admin", "auditor", "server_admin",
         "outsider")  # fmt: skip
#: Routes that take no token by design: health, the two sign-ins (they need a proof), and
#: the signed updates (TUF metadata and installers: signed, not secret).
TOKENLESS = {
    ("GET", "/v1/health"),
    ("POST", "/v1/auth/demo-login"),
    ("POST", "/v1/auth/sso"),
    ("GET", "/v1/updates/metadata/{name}"),
    ("GET", "/v1/updates/targets/{path}"),
}

# fmt: off
#: Project A: the answer per role, in the order of ROLES. (Project B: see B_ANSWER.)
A = {
    ("GET", "/v1/admin/devices"):                              "404 404 404 404 404 ok 404",
    ("POST", "/v1/admin/devices/{device_id}/approve"):         "404 404 404 404 404 ok 404",
    ("POST", "/v1/admin/devices/{device_id}/revoke"):          "404 404 404 404 404 ok 404",
    ("GET", "/v1/admin/users"):                                "404 404 404 404 404 ok 404",
    ("PUT", "/v1/admin/users/{user_id}/disabled"):             "404 404 404 404 404 ok 404",
    ("GET", "/v1/audit/{project_id}/checkpoint"):              "404 404 404 404 ok 404 404",
    ("GET", "/v1/audit/{project_id}/consistency"):             "404 404 404 404 ok 404 404",
    ("GET", "/v1/audit/{project_id}/inclusion"):               "404 404 404 404 ok 404 404",
    ("POST", "/v1/context/{request_id}/decision"):             "404 404 404 404 404 404 404",
    ("POST", "/v1/devices"):                                   "ok ok ok ok ok ok ok",
    ("POST", "/v1/events"):                                    "ok ok ok ok ok ok ok",
    ("GET", "/v1/me"):                                         "ok ok ok ok ok ok ok",
    ("POST", "/v1/projects/{project_id}/assignments"):         "403 403 ok ok 403 404 404",
    ("GET", "/v1/projects/{project_id}/members"):              "403 403 403 ok 403 404 404",
    ("PUT", "/v1/projects/{project_id}/members/{user_id}"):    "403 403 403 ok 403 404 404",
    ("PUT", "/v1/projects/{project_id}/policy"):               "403 403 ok ok 403 404 404",
    ("GET", "/v1/projects/{project_id}/report"):               "403 403 ok ok 403 404 404",
    ("GET", "/v1/projects/{project_id}/tasks"):                "403 403 ok ok 403 404 404",
    ("PUT", "/v1/projects/{project_id}/tasks/{task_id}/assignee"): "403 403 ok ok 403 404 404",
    ("GET", "/v1/review/context"):                             "ok ok ok ok ok ok ok",
    ("GET", "/v1/review/queue"):                               "403 ok 403 403 403 403 403",
    ("GET", "/v1/session/watch"):                              "ok ok ok ok ok ok ok",
    ("GET", "/v1/tasks"):                                      "ok ok ok ok ok ok ok",
    ("GET", "/v1/tasks/{task_id}/comments"):                   "ok ok 404 404 404 404 404",
    ("POST", "/v1/tasks/{task_id}/comments"):                  "403 ok 404 404 404 404 404",
    ("GET", "/v1/tasks/{task_id}/context"):                    "ok ok 404 404 404 404 404",
    ("POST", "/v1/tasks/{task_id}/context"):                   "ok 403 404 404 404 404 404",
    ("POST", "/v1/tasks/{task_id}/context/{request_id}/key-grant"): "404 403 404 404 404 404 404",
    ("GET", "/v1/tasks/{task_id}/context/{request_id}/segment"):    "404 403 404 404 404 404 404",
    ("GET", "/v1/tasks/{task_id}/coverage"):                   "ok ok 404 404 404 404 404",
    ("GET", "/v1/tasks/{task_id}/history"):                    "ok ok 404 404 404 404 404",
    ("POST", "/v1/tasks/{task_id}/key-grant"):                 "ok ok 404 404 404 404 404",
    ("POST", "/v1/tasks/{task_id}/labels"):                    "ok ok 404 404 404 404 404",
    ("GET", "/v1/tasks/{task_id}/labels/latest"):              "ok ok 404 404 404 404 404",
    ("GET", "/v1/tasks/{task_id}/labels/{revision}"):          "ok ok 404 404 404 404 404",
    ("POST", "/v1/tasks/{task_id}/pii-suggestions"):           "ok ok 404 404 404 404 404",
    ("POST", "/v1/tasks/{task_id}/review"):                    "403 ok 404 404 404 404 404",
    ("GET", "/v1/tasks/{task_id}/schema"):                     "ok ok 404 404 404 404 404",
    ("GET", "/v1/tasks/{task_id}/segment"):                    "ok ok 404 404 404 404 404",
}
# fmt: on


def b_answer(route: tuple[str, str], a_row: str) -> str:
    """Project B, where nobody here has a role: project and task routes are not revealed
    (404) to anyone; routes about oneself or the server answer as in A."""
    path = route[1]
    if "{project_id}" in path or "{task_id}" in path:
        return " ".join("404" for _ in ROLES)
    return a_row


def test_the_table_names_every_route_once() -> None:
    routes = {
        (method.upper(), path) for path, ops in openapi_schema()["paths"].items() for method in ops
    }
    assert set(A) | TOKENLESS == routes


class World:
    """Two projects, one person per role in project A, everyone signed in and enrolled."""

    def __init__(self, tmp: Path) -> None:
        self.srv: DemoServer = demo_server(tmp, {"call.wav": (2.0, 8000, 1)})
        ctx = self.srv.ctx
        self.client = self.srv.client()
        self.project_a = self.srv.demo.project_id
        self.project_b = ensure_project(ctx.engine, ctx.vault, "Project B")
        audio = tmp / "b.wav"
        write_audio(audio, 2.0, 8000, 1, seed=7)
        seg_b = ingest_file(ctx.data, ctx.engine, ctx.vault, self.project_b, audio).segment_id
        users = {"annotator": "annotator", "reviewer": "reviewer", "manager": "manager"}
        for name, given in (("padmin", Role.PROJECT_ADMIN), ("auditor", Role.AUDITOR)):
            user = provision.ensure_user(ctx.engine, name, name, demo=True)
            provision.set_membership(ctx.engine, user, self.project_a, given)
        users |= {"project_admin": "padmin", "auditor": "auditor"}
        for name in ("sadmin", "outsider", "throwaway", "b_annotator"):
            provision.ensure_user(ctx.engine, name, name, demo=True)
        users |= {"server_admin": "sadmin", "outsider": "outsider"}
        with ctx.engine.begin() as conn:
            set_server_admin(conn, provision.user_id_for(ctx.engine, "sadmin"), True, Actor(None))
        b_user = provision.user_id_for(ctx.engine, "b_annotator")
        provision.set_membership(ctx.engine, b_user, self.project_b, Role.ANNOTATOR)
        from server import assignment  # noqa: PLC0415

        with ctx.engine.begin() as conn:
            self.task_b = assignment.assign(conn, seg_b, b_user, Actor(None)).task_id
        self.pairs: dict[str, DeviceKeyPair] = {}
        self.headers: dict[str, dict[str, str]] = {}
        for role, username in users.items():
            pair = DeviceKeyPair.generate()
            self.headers[role] = enroll(self.client, login(self.client, username), pair)
            self.pairs[role] = pair
        ann = self.headers["annotator"]
        self.task_a = self.client.get("/v1/tasks", headers=ann).json()["tasks"][0]["task_id"]
        answer = self.client.post(
            f"/v1/tasks/{self.task_a}/labels", json=label("lbl-matrix-0001"), headers=ann
        )
        assert answer.status_code == 200, answer.text
        throwaway = login(self.client, "throwaway")
        enroll(self.client, throwaway, DeviceKeyPair.generate())
        with ctx.engine.connect() as conn:
            self.throwaway_id = provision.user_id_for(ctx.engine, "throwaway")
            self.throwaway_device = conn.execute(
                select(db.devices.c.id).where(db.devices.c.user_id == self.throwaway_id)
            ).scalar_one()
            self.segment_a = conn.execute(
                select(db.tasks.c.segment_id).where(db.tasks.c.id == self.task_a)
            ).scalar_one()
        self.segment_b = seg_b
        ctx.checkpointer.run_once()

    def ids(self, project: str) -> dict[str, str]:
        a = project == "A"
        return {
            "project_id": self.project_a if a else self.project_b,
            "task_id": self.task_a if a else self.task_b,
            "request_id": "ctx_none",
            "device_id": self.throwaway_device,
            "user_id": self.throwaway_id,
            "revision": "1",
        }

    def body(self, route: tuple[str, str], role: str, project: str) -> Any:
        method, path = route
        if method == "GET":
            return None
        a = project == "A"
        uid = self.throwaway_id
        bodies: dict[str, Any] = {
            "/v1/admin/users/{user_id}/disabled": {"disabled": True},
            "/v1/admin/devices/{device_id}/approve": {"managed": True},
            "/v1/devices": {"name": "ws", "public_key": _public(self.pairs[role])},
            "/v1/events": {"events": [{"event_id": str(uuid.uuid4()), "seq": 1,
                                       "action": "playback_paused", "client_time": time.time()}]},
            "/v1/projects/{project_id}/assignments": {
                "segment_id": self.segment_a if a else self.segment_b, "assignee_id": uid
            },
            "/v1/projects/{project_id}/members/{user_id}": {"role": "annotator"},
            "/v1/projects/{project_id}/policy": {"submit_coverage": False, "accept_coverage": 0},
            "/v1/projects/{project_id}/tasks/{task_id}/assignee": {"assignee_id": uid},
            "/v1/context/{request_id}/decision": {"grant": True},
            "/v1/tasks/{task_id}/comments": {"comment_id": f"cmt-{uuid.uuid4().hex[:12]}",
                                             "revision": 1, "text": "a note"},
            "/v1/tasks/{task_id}/context": {"seconds": 5, "justification": "a reason long enough"},
            "/v1/tasks/{task_id}/labels": label(f"lbl-{uuid.uuid4().hex[:12]}"),
            "/v1/tasks/{task_id}/review": {"step": "claim"},
            "/v1/tasks/{task_id}/pii-suggestions": {
                "schema_version": 1, "texts": [{"segment": "s1", "text": "call 555 0100"}]
            },
        }  # fmt: skip
        return bodies.get(path, {})

    def call(self, route: tuple[str, str], role: str, project: str, headers: dict[str, str]) -> int:
        method, path = route
        url = path.format(**self.ids(project))
        if path.endswith("inclusion"):
            url += "?index=0&tree_size=1"
        elif path.endswith("consistency"):
            url += "?first=1&second=1"
        if path == "/v1/session/watch":
            return self._watch(url, headers)
        body = self.body(route, role, project)
        return self.client.request(method, url, json=body, headers=headers).status_code

    def _watch(self, url: str, headers: dict[str, str]) -> int:
        token = headers.get("Authorization", "").partition(" ")[2]
        key = PROOF_KEYS.get(token)
        sent = dict(headers)
        if key is not None and "DPoP" not in sent:
            sent["DPoP"] = self.client.prove(key, "GET", url, token)
        if sent.get("DPoP") == "":
            del sent["DPoP"]
        with self.client.stream("GET", url, headers=sent) as response:
            return int(response.status_code)


def _public(pair: DeviceKeyPair) -> str:
    return base64.b64encode(pair.public_bytes()).decode()


def classify(status: int) -> str:
    if status in (403, 404, 401):
        return str(status)
    assert status < 500, status
    return "ok"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    made = World(tmp_path_factory.mktemp("matrix"))
    yield made
    # The push channel's route started the revocation poller: stopped here, not left to
    # poll a database the run stops later.
    made.srv.ctx.revocations.stop()


def test_every_role_gets_the_written_answer_on_every_route(world: World) -> None:
    wrong = []
    for route, row in A.items():
        for project, expected in (("A", row), ("B", b_answer(route, row))):
            got = [classify(world.call(route, r, project, world.headers[r])) for r in ROLES]
            if got != expected.split():
                wrong.append(
                    f"{route[0]} {route[1]} [{project}] wrote {expected} got {' '.join(got)}"
                )
    assert not wrong, "\n".join(wrong)


def test_no_credential_or_a_bad_one_is_401_on_every_route(world: World) -> None:
    client: ProvingClient = world.client
    expired_token, _ = world.srv.ctx.signer.issue(
        world.srv.demo.annotator_id, proof_key(world.headers["annotator"]).thumbprint, now=0
    )
    wrong = []
    for route in A:
        for role in ROLES:
            headers = world.headers[role]
            token = headers["Authorization"].partition(" ")[2]
            url = route[1].format(**world.ids("A"))
            other = "reviewer" if role == "annotator" else "annotator"
            stolen = client.prove(proof_key(world.headers[other]), route[0], url, token)
            variants = {
                "no token": {},
                "expired": {"Authorization": f"DPoP {expired_token}", "DPoP": ""},
                "no proof": {**headers, "DPoP": ""},
                "another device's proof": {**headers, "DPoP": stolen},
            }
            for name, sent in variants.items():
                status = world.call(route, role, "A", sent)
                if status != 401:
                    wrong.append(f"{route[0]} {route[1]} {role} {name}: {status}")
    assert not wrong, "\n".join(wrong)
