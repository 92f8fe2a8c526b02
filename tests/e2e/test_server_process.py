"""The server as processes: what `scripts/demo.sh` and an operator start."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.processes import start_server, stop
from server.datadir import DataDir

pytestmark = pytest.mark.e2e


def test_the_demo_initialises_a_fresh_data_directory(tmp_path: Path) -> None:
    """`cordon-server demo` on an empty directory makes it (as the demo launcher relies on)."""
    data = tmp_path / "fresh"
    proc, url = start_server(data, command="demo")
    try:
        assert url.startswith("https://127.0.0.1:")
        DataDir(data).require_initialised()
    finally:
        stop(proc)
