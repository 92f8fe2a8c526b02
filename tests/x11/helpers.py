"""Out-of-process views of the X server: what xclip, import and xdotool see."""

from __future__ import annotations

import subprocess
import threading
import time

import numpy as np
from PySide6.QtWidgets import QApplication

from devtools.processes import start, stop
from devtools.xvfb import SCREEN

Pixels = np.ndarray[tuple[int, int, int], np.dtype[np.uint8]]


def run_pumping(cmd: list[str], timeout: float = 10.0, stdin: bytes | None = None) -> bytes:
    """Run an X client while Qt keeps answering X events (selection requests need us)."""
    proc = start(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    chunks: list[bytes] = []
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read()))  # type: ignore[union-attr]
    reader.start()  # a screenshot is megabytes: more than a pipe holds
    try:
        if proc.stdin is not None:
            proc.stdin.write(stdin or b"")
            proc.stdin.close()
        deadline = time.monotonic() + timeout
        while proc.poll() is None or reader.is_alive():
            QApplication.processEvents()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{cmd[0]} did not finish")
            time.sleep(0.01)
        return b"".join(chunks)
    finally:
        stop(proc)
        reader.join(5)


def selection(name: str) -> bytes:
    """The text another program gets from CLIPBOARD or PRIMARY (empty if nothing)."""
    return run_pumping(["xclip", "-o", "-selection", name])


def xdotool(*args: str) -> None:
    run_pumping(["xdotool", *args])
    settle()


def settle(seconds: float = 0.3) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.01)


def screenshot() -> Pixels:
    """The whole screen as another program sees it (ImageMagick ``import``)."""
    raw = run_pumping(["import", "-window", "root", "-depth", "8", "rgb:-"], timeout=30)
    width, height = SCREEN
    return np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)
