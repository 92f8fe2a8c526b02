"""End-to-end fixtures: a real Secret Service, a real server over TLS, the real client.

The Secret Service is a private ``dbus-daemon`` and ``gnome-keyring-daemon``
started for the test session (and stopped by pid), so the client stores its
device key exactly as on a Linux workstation.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import keyring
import pytest
from keyring.backends import SecretService

from tests.fixtures import init_data_dir, write_audio
from tests.processes import start, start_server, stop, wait_until

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@pytest.fixture(scope="session")
def secret_service(run_root: Path) -> Iterator[None]:
    bus_dir = run_root / "bus"
    bus_dir.mkdir()
    address_file = bus_dir / "address"
    config = bus_dir / "session.conf"
    # No <servicedir>: nothing may be auto-activated, so every daemon on this bus is ours.
    config.write_text(_BUS_CONFIG.format(socket=bus_dir / "socket"))
    with address_file.open("wb") as out:
        dbus = start(
            ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
    keyring_daemon = None
    previous_backend = keyring.get_keyring()
    try:
        wait_until(lambda: address_file.read_text().strip() != "", 10, "dbus address")
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = address_file.read_text().strip()
        keyring_daemon = start(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        assert keyring_daemon.stdin is not None
        keyring_daemon.stdin.write(b"cordon-test-keyring")
        keyring_daemon.stdin.close()
        backend = SecretService.Keyring()

        def available() -> bool:
            try:
                backend.get_password("cordon-probe", "probe")
            except Exception:  # noqa: BLE001 - not up yet
                return False
            return True

        wait_until(available, 15, "Secret Service")
        keyring.set_keyring(backend)
        yield
    finally:
        keyring.set_keyring(previous_backend)
        if keyring_daemon is not None:
            stop(keyring_daemon)
        stop(dbus)
        os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)


@dataclass
class LiveServer:
    url: str
    data_dir: Path
    ca_file: Path
    audio_dir: Path
    proc: subprocess.Popen[bytes]

    def stop(self) -> None:
        stop(self.proc)


def live_server(
    tmp_path: Path, files: dict[str, tuple[float, int, int]], *extra: str
) -> LiveServer:
    audio_dir = tmp_path / "source-audio"
    audio_dir.mkdir()
    for i, (name, (seconds, rate, channels)) in enumerate(sorted(files.items())):
        write_audio(audio_dir / name, seconds, rate, channels, seed=100 + i)
    data_dir = tmp_path / "server-data"
    init_data_dir(data_dir)
    proc, url = start_server(data_dir, "--audio-dir", str(audio_dir), *extra, command="demo")
    return LiveServer(url, data_dir, data_dir / "pki" / "ca.pem", audio_dir, proc)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    srv = live_server(
        tmp_path, {"a-call-mono.wav": (4.0, 16000, 1), "b-call-stereo.flac": (3.0, 8000, 2)}
    )
    yield srv
    srv.stop()
