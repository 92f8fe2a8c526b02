"""The client as a process: it refuses an unsafe keyring, and SIGTERM is a clean quit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.processes import start, stop
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.e2e


def client_cmd(server: LiveServer) -> list[str]:
    return [sys.executable, "-m", "app", "--server", server.url, "--ca", str(server.ca_file)]


def test_no_secret_service_means_no_start(server: LiveServer) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    result = subprocess.run(
        client_cmd(server), env=env, capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert b"system keyring" in result.stderr


@pytest.mark.usefixtures("secret_service")
def test_sigterm_quits_through_the_normal_shutdown(server: LiveServer) -> None:
    _runs_and_quits_on_sigterm(client_cmd(server), b"client ready")


def _runs_and_quits_on_sigterm(
    cmd: list[str], ready: bytes, env: dict[str, str] | None = None
) -> None:
    """Start the client, wait until its event loop runs (it says ``ready``), SIGTERM it:
    a clean exit 0."""
    proc = start(cmd, stderr=subprocess.PIPE, env=env)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if ready in line:
                break
        assert proc.poll() is None, "client exited early"
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        stop(proc)


@pytest.mark.parametrize(
    ("policy", "words"),
    [
        ('{"idle_lock_minutes": "soon"}', b"policy on this computer is not valid"),
        ('{"unprotected_capture": "refuse"}', b"cannot keep its window out of screenshots"),
    ],
)
@pytest.mark.usefixtures("secret_service")
def test_policy_can_refuse_the_start(
    server: LiveServer, tmp_path: Path, policy: str, words: bytes
) -> None:
    config = tmp_path / "config"
    (config / "cordon").mkdir(parents=True, mode=0o700)
    (config / "cordon" / "policy.json").write_text(policy)
    (config / "cordon" / "policy.json").chmod(0o600)
    env = {**os.environ, "XDG_CONFIG_HOME": str(config), "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        client_cmd(server), env=env, capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert words in result.stderr


@pytest.mark.usefixtures("secret_service")
def test_the_machine_policy_names_the_server_and_the_command_line_cannot(
    server: LiveServer, tmp_path: Path
) -> None:
    """IT's policy alone is enough to connect; a --server naming another one is refused."""
    policy = tmp_path / "machine-policy.json"
    policy.write_text(f'{{"server_url": "{server.url}", "server_ca_file": "{server.ca_file}"}}')
    harness = [sys.executable, "-m", "devtools.demo_client", "--machine-policy", str(policy)]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    refused = subprocess.run(
        [*harness, "--server", "https://127.0.0.1:9"],
        env=env, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode == 2
    assert b"Cordon cannot connect as asked" in refused.stderr
    assert b"'https://127.0.0.1:9' is not allowed" in refused.stderr
    _runs_and_quits_on_sigterm(harness, b"client ready for " + server.url.encode(), env)
