"""Shared builders: server data directories, test audio, in-process API clients."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from app.crypto.device_keys import DeviceKeyPair
from devtools.synthetic_audio import write_audio
from server import listen_policy
from server.api.app import create_app
from server.audit import Actor
from server.cli import main as server_main
from server.context import ServerContext, open_context
from server.datadir import DataDir
from server.demo import DemoSetup, setup_demo


def init_data_dir(root: Path) -> DataDir:
    assert server_main(["init", "--data-dir", str(root)]) == 0
    return DataDir(root)


@dataclass
class DemoServer:
    ctx: ServerContext
    demo: DemoSetup
    audio_dir: Path

    def client(self) -> TestClient:
        return TestClient(create_app(self.ctx), client=("127.0.0.1", 50000))


def demo_server(
    tmp: Path, files: dict[str, tuple[float, int, int]], *, listening: bool = False
) -> DemoServer:
    """An initialised data dir with the demo users and ``files`` (name: seconds, rate, ch).

    ``listening=False`` (most tests, which hand in documents without playing audio) turns
    the project's listening policy off, as a project admin can; the coverage tests keep
    the default policy.
    """
    audio_dir = tmp / "audio"
    audio_dir.mkdir()
    for i, (name, (seconds, rate, channels)) in enumerate(sorted(files.items())):
        write_audio(audio_dir / name, seconds, rate, channels, seed=i)
    ctx = open_context(init_data_dir(tmp / "data"), demo_login=True)
    demo = setup_demo(ctx, audio_dir)
    if not listening:
        no_listening = listen_policy.ListenPolicy(submit_coverage=False, accept_coverage=0)
        listen_policy.apply(ctx.engine, demo.project_id, no_listening, Actor(None, None, "test"))
    return DemoServer(ctx, demo, audio_dir)


def login(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/v1/auth/demo-login", json={"username": username})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def enroll(client: TestClient, headers: dict[str, str], pair: DeviceKeyPair) -> dict[str, str]:
    body = {"name": "test", "public_key": base64.b64encode(pair.public_bytes()).decode()}
    response = client.post("/v1/devices", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return {**headers, "X-Cordon-Device": response.json()["device_id"]}


def document(text: str = "x", **segment: Any) -> dict[str, Any]:
    """A label document that fits the demo schema (version 1) on any demo test task."""
    first = {"id": "s1", "start": 0, "end": 800, "speaker": "agent", "text": text, **segment}
    return {"schema_version": 1, "segments": [first], "fields": {"outcome": "resolved"}}


def label(label_id: str, text: str = "x", **extra: Any) -> dict[str, Any]:
    """A ``LabelIn`` body carrying :func:`document`."""
    return {"label_id": label_id, "document": document(text), **extra}
