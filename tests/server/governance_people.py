"""A demo project with people and accepted work, for the governance tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from sqlalchemy import select

from app.crypto.device_keys import DeviceKeyPair
from app.wire.schemas import Role
from server import db, provision
from server.cli import main as server_main
from tests.fixtures import DemoServer, enroll, login

RATE = 16_000
#: Commands whose second word is a subcommand (the data directory comes after it).
_GROUPS = ("project", "retention", "recipient", "audit", "device", "user", "idp", "task", "gold")
#: A tone only the PII span carries: masked audio must not hold it any more.
MARKER_HZ = 3_000.0
SCHEMA = {
    "title": "Governance",
    "speakers": [
        {"name": "agent", "title": "Agent", "channel": 0},
        {"name": "customer", "title": "Customer", "channel": 1},
    ],
    "segment_labels": [
        {
            "name": "intent",
            "title": "Intent",
            "kind": "single",
            "values": [
                {"name": "greeting", "title": "Greeting"},
                {"name": "request", "title": "Request"},
            ],
        },
    ],
    "pii": [
        {"name": "person_name", "title": "Person name"},
        {"name": "account_number", "title": "Account number"},
    ],
}


def marked_call(path: Path, seconds: float, pii: tuple[float, float], seed: int) -> None:
    """Stereo noise at 16 kHz with a 3 kHz tone inside ``pii`` (seconds), both channels."""
    rng = np.random.default_rng(seed)
    frames = int(seconds * RATE)
    audio = rng.normal(0, 0.05, (frames, 2))
    start, end = int(pii[0] * RATE), int(pii[1] * RATE)
    t = np.arange(end - start) / RATE
    audio[start:end] += 0.5 * np.sin(2 * np.pi * MARKER_HZ * t)[:, None]
    sf.write(path, audio.astype(np.float32), RATE, subtype="PCM_16")


def band_energy(samples: np.ndarray, hz: float, rate: int = RATE) -> float:
    """The share of a stretch's energy within 100 Hz of ``hz``."""
    mono = samples.mean(axis=1) if samples.ndim == 2 else samples
    spectrum = np.abs(np.fft.rfft(mono)) ** 2
    freqs = np.fft.rfftfreq(len(mono), 1 / rate)
    total = float(spectrum.sum()) or 1.0
    return float(spectrum[np.abs(freqs - hz) < 100].sum()) / total


def pii_document(name: str, account: str, *, schema_version: int) -> dict[str, Any]:
    """Two segments: the customer says a name and an account number, both marked."""
    said = f"this is {name} and my account is {account}"
    start = said.index(name)
    acct = said.index(account)
    return {
        "format_version": 2,
        "schema_version": schema_version,
        "segments": [
            {"id": "s1", "start": 0, "end": RATE, "speaker": "agent", "channel": 0,
             "text": "good morning how can I help", "labels": {"intent": ["greeting"]}},
            {"id": "s2", "start": RATE, "end": 3 * RATE, "speaker": "customer", "channel": 1,
             "text": said, "labels": {"intent": ["request"]}},
        ],
        "pii": [
            {"id": "p1", "category": "person_name", "start": RATE + RATE // 2,
             "end": 2 * RATE, "segment": "s2", "char_start": start,
             "char_end": start + len(name)},
            {"id": "p2", "category": "account_number", "start": 2 * RATE,
             "end": 2 * RATE + RATE // 2, "segment": "s2", "char_start": acct,
             "char_end": acct + len(account)},
        ],
        "fields": {},
        "comment": "",
    }  # fmt: skip


class Governed:
    """The demo project with a schema, an annotator, a reviewer and a manager enrolled."""

    def __init__(self, srv: DemoServer, tmp: Path) -> None:
        self.srv = srv
        self.tmp = tmp
        self.data = str(srv.ctx.data.root)
        self.project = srv.demo.project_id
        engine = srv.ctx.engine
        manager = provision.ensure_user(engine, "manager", "Mo", demo=True)
        provision.set_membership(engine, manager, self.project, Role.MANAGER)
        owner = provision.ensure_user(engine, "owner", "Olu (project administrator)", demo=True)
        provision.set_membership(engine, owner, self.project, Role.PROJECT_ADMIN)
        schema = tmp / "schema.json"
        schema.write_text(json.dumps(SCHEMA))
        assert self.cli("project", "schema", "--project", self.project, str(schema)) == 0
        with engine.connect() as conn:
            self.schema_version = int(
                conn.execute(
                    select(db.project_schemas.c.version)
                    .where(db.project_schemas.c.project_id == self.project)
                    .order_by(db.project_schemas.c.version.desc())
                    .limit(1)
                ).scalar_one()
            )
        self.client = srv.client()
        self.ann = enroll(self.client, login(self.client, "annotator"), DeviceKeyPair.generate())
        self.rev = enroll(self.client, login(self.client, "reviewer"), DeviceKeyPair.generate())

    def cli(self, *args: str) -> int:
        argv = [
            args[0],
            *(args[1:2] if args[0] in _GROUPS else []),
        ]
        rest = list(args[len(argv) :])
        data = [] if args[0] == "recipient" else ["--data-dir", self.data]
        return server_main([*argv, *data, *rest])

    def ingest(self, name: str, pii: tuple[float, float], *extra: str, seed: int = 0) -> str:
        """A marked call ingested and assigned to the annotator; its task id."""
        path = self.tmp / f"{name}.wav"
        marked_call(path, 4.0, pii, seed)
        assert self.cli("ingest", "--project", self.project, "--assign", "annotator", *extra,
                        str(path)) == 0  # fmt: skip
        tasks = self.client.get("/v1/tasks", headers=self.ann).json()["tasks"]
        return str(next(t["task_id"] for t in tasks if t["title"] == name))

    def accept(self, task: str, name: str, account: str, label: str) -> None:
        doc = pii_document(name, account, schema_version=self.schema_version)
        body = {"label_id": label, "document": doc, "client_version": "9.9.9-test"}
        stored = self.client.post(f"/v1/tasks/{task}/labels", json=body, headers=self.ann)
        assert stored.status_code == 200, stored.text
        for step in ({"step": "claim"}, {"step": "accept", "revision": stored.json()["revision"]}):
            answer = self.client.post(f"/v1/tasks/{task}/review", json=step, headers=self.rev)
            assert answer.status_code == 200, answer.text
