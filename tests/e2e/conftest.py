"""End-to-end fixtures: a real Secret Service, a real server over TLS, the real client.

The Secret Service is a private ``dbus-daemon`` and ``gnome-keyring-daemon``
started for the test session (and stopped by pid), so the client stores its
device key exactly as on a Linux workstation.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import keyring
import pytest
from keyring.backends import SecretService
from sqlalchemy import Engine

from devtools.processes import start_server, stop
from devtools.secret_service import private_secret_service
from devtools.synthetic_audio import write_audio
from server import db
from server.cli import main as server_main
from server.datadir import DataDir
from server.demo import DEMO_PROJECT
from tests.fixtures import init_data_dir


@pytest.fixture(scope="session")
def secret_service(run_root: Path) -> Iterator[None]:
    previous_backend = keyring.get_keyring()
    with private_secret_service(run_root / "secret-service", b"cordon-test-keyring"):
        keyring.set_keyring(SecretService.Keyring())
        try:
            yield
        finally:
            keyring.set_keyring(previous_backend)


@dataclass
class LiveServer:
    url: str
    data_dir: Path
    ca_file: Path
    audio_dir: Path
    proc: subprocess.Popen[bytes]

    def stop(self) -> None:
        stop(self.proc)

    def engine(self) -> Engine:
        """The data directory's database (SQLite, or the run's PostgreSQL): the caller
        disposes of it."""
        return db.make_engine(DataDir(self.data_dir).database_url)


def live_server(
    tmp_path: Path,
    files: dict[str, tuple[float, int, int]],
    *extra: str,
    comparisons: dict[str, dict[str, object]] | None = None,
    listening: bool = False,
) -> LiveServer:
    """The demo server over ``files`` (name: seconds, rate, channels) and RLHF
    ``comparisons`` (file name: manifest; its audio names files of ``files``).

    ``listening=False`` turns the demo project's listening policy off (with the CLI a
    project admin uses) for tests that hand work in without playing it through.
    """
    audio_dir = tmp_path / "source-audio"
    audio_dir.mkdir()
    for i, (name, (seconds, rate, channels)) in enumerate(sorted(files.items())):
        write_audio(audio_dir / name, seconds, rate, channels, seed=100 + i)
    if comparisons:
        (audio_dir / "comparisons").mkdir()
        for name, manifest in comparisons.items():
            (audio_dir / "comparisons" / name).write_text(json.dumps(manifest))
    data_dir = tmp_path / "server-data"
    init_data_dir(data_dir)
    proc, url = start_server(data_dir, "--audio-dir", str(audio_dir), *extra, command="demo")
    if not listening:
        policy = ["project", "policy", "--data-dir", str(data_dir), "--project", DEMO_PROJECT,
                  "--submit-coverage", "none", "--accept-coverage", "0"]  # fmt: skip
        if server_main(policy) != 0:
            stop(proc)
            raise RuntimeError("the listening policy could not be set")
    return LiveServer(url, data_dir, data_dir / "pki" / "ca.pem", audio_dir, proc)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    srv = live_server(
        tmp_path, {"a-call-mono.wav": (4.0, 48000, 1), "b-call-stereo.flac": (3.0, 8000, 2)}
    )
    yield srv
    srv.stop()
