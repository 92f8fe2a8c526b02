"""Start and stop helper processes by pid; every test that starts one stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import requests


def start(
    cmd: Sequence[str], *, env: dict[str, str] | None = None, **kwargs: object
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in its own session so its whole process group can be stopped."""
    return subprocess.Popen(  # type: ignore[call-overload,no-any-return]
        list(cmd), env=env, start_new_session=True, **kwargs
    )


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the process group by pid, then SIGKILL if it does not go."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout)


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


def start_server(
    data_dir: Path, *extra: str, command: str = "serve", log: Path | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``cordon-server`` on 127.0.0.1 (a free port); return it and its URL once healthy."""
    ready = data_dir.parent / f"{data_dir.name}.ready"
    ready.unlink(missing_ok=True)
    log = log or data_dir.parent / f"{data_dir.name}.log"
    out = log.open("wb")
    proc = start(
        [sys.executable, "-m", "server", command, "--data-dir", str(data_dir), "--port", "0",
         "--ready-file", str(ready), *extra],
        stdout=out, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_until(lambda: ready.exists() or proc.poll() is not None, 60, "server start")
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        url = ready.read_text().strip()
        session = requests.Session()
        session.trust_env = False
        session.verify = str(data_dir / "pki" / "ca.pem")

        last = ["no answer yet"]

        def healthy() -> bool:
            try:
                status = session.get(url + "/v1/health", timeout=2).status_code
            except requests.RequestException as exc:
                last[0] = type(exc).__name__
                return False
            last[0] = f"HTTP {status}"
            return status == 200

        try:
            wait_until(healthy, 30, "server health")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc} (last: {last[0]})") from exc
        session.close()  # no idle connection left for a graceful stop to wait out
    except BaseException as exc:
        stop(proc)
        if isinstance(exc, TimeoutError | RuntimeError):  # what the server said, for the report
            out.flush()
            tail = log.read_text(errors="replace").splitlines()[-40:]
            raise type(exc)("\n".join([str(exc), "server log (last lines):", *tail])) from exc
        raise
    return proc, url
