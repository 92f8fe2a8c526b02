"""A private PulseAudio daemon with a null sink: real-time paced audio on a headless machine.

The ALSA null device consumes frames as fast as it can, which is right for
checking *what* was delivered but says nothing about timing. A PulseAudio null
sink plays at a real 48 kHz, so underflows, latency and CPU mean what they mean
on a workstation. PortAudio only sees the ``pulse`` PCM if the server runs
before it initialises, so the audio work runs in a process started with
:func:`pulse_env`'s environment. The daemon runs in the foreground and is
stopped by pid.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devtools.processes import start, stop, wait_until

ASOUNDRC = "pcm.!default { type pulse }\nctl.!default { type pulse }\n"


@contextmanager
def null_sink(state_dir: Path) -> Iterator[dict[str, str]]:
    """Run the daemon; yield the environment a process needs to play into its null sink."""
    runtime = state_dir / "runtime"
    home = state_dir / "home"
    for path in (runtime, home):
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    (home / ".asoundrc").write_text(ASOUNDRC)
    socket = runtime / "native"
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "HOME": str(home)}
    daemon = start(
        [
            "pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit",
            "--disable-shm=yes", "--log-target=stderr",
            "-L", f"module-native-protocol-unix socket={socket} auth-anonymous=1",
            "-L", "module-null-sink sink_name=nullsink rate=48000",
            "-L", "module-always-sink",
        ],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(lambda: socket.exists() or daemon.poll() is not None, 15, "pulseaudio")
        if daemon.poll() is not None:
            raise RuntimeError("pulseaudio did not start")
        yield {**env, "PULSE_SERVER": f"unix:{socket}"}
    finally:
        stop(daemon)
