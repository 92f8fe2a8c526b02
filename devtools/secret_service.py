"""A private Secret Service: its own dbus-daemon and gnome-keyring-daemon, stopped by pid.

Used where no desktop session provides one (CI, the demo on a headless
machine). The bus has no service directories, so nothing is auto-activated
behind our back: every daemon on it is one we started and will stop.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devtools.processes import start, stop, wait_until

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


def _secret_service_up() -> bool:
    from keyring.backends import SecretService  # noqa: PLC0415 - needs the bus address set

    try:
        SecretService.Keyring().get_password("cordon-probe", "probe")
    except Exception:  # noqa: BLE001 - any failure means "not up yet"
        return False
    return True


@contextmanager
def private_secret_service(state_dir: Path, password: bytes) -> Iterator[str]:
    """Run a bus and an unlocked keyring under ``state_dir``; yield the bus address.

    Sets ``DBUS_SESSION_BUS_ADDRESS`` in this process while it runs.
    """
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    address_file = state_dir / "bus-address"
    config = state_dir / "session.conf"
    config.write_text(_BUS_CONFIG.format(socket=state_dir / "bus-socket"))
    with address_file.open("wb") as out:
        bus = start(
            ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
    daemon = None
    previous = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    try:
        wait_until(lambda: address_file.read_text().strip() != "", 10, "dbus address")
        address = address_file.read_text().strip()
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = address
        env = {**os.environ, "XDG_DATA_HOME": str(state_dir / "data")}
        daemon = start(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if daemon.stdin is not None:
            daemon.stdin.write(password)
            daemon.stdin.close()
        wait_until(_secret_service_up, 15, "Secret Service")
        yield address
    finally:
        if daemon is not None:
            stop(daemon)
        stop(bus)
        if previous is None:
            os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SESSION_BUS_ADDRESS"] = previous
