"""A private X server (Xvfb) for tests that need real X11: clipboard, focus, screenshots."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from devtools.processes import start, stop

SCREEN = (1280, 800)


@contextmanager
def private_xvfb() -> Iterator[str]:
    """Start Xvfb on a free display (it picks one: ``-displayfd``); yield ``":N"``; stop it."""
    read_fd, write_fd = os.pipe()
    width, height = SCREEN
    proc = start(
        [
            "Xvfb",
            "-displayfd",
            str(write_fd),
            "-screen",
            "0",
            f"{width}x{height}x24",
            "-nolisten",
            "tcp",
        ],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd, "rb") as pipe:
            number = pipe.readline().strip().decode()
        if not number:
            raise RuntimeError("Xvfb did not report a display")
        yield f":{number}"
    finally:
        stop(proc)
